#include "perthread.h"

int bump(void)
{
	calls += 1;
	return calls;
}
