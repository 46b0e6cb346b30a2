#include "libmotd.h"

const char *motd(void)
{
	return "have a nice day";
}

int lucky(int n)
{
	return n * 7 % 10;
}
