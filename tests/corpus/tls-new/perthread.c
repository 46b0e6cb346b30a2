#include "perthread.h"

/* A per-thread counter. */
static __thread int calls;

int bump(void)
{
	calls += 1;
	return calls;
}
