#include "version.h"

const char *version(void)
{
	return "app 1.0.0";
}

const char *banner(void)
{
	return "welcome";
}
