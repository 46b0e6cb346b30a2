/* Payload A introduces a new global function, a_new_helper, and uses it. */
#include <xsplice/patch.h>
#include "ftarget.h"

long a_new_helper(long n);
long a_new_helper(long n)
{
	return 10 * n;
}

static long calc_a(long n)
{
	return a_new_helper(n) + 1;
}
XSPLICE_REPLACE(calc, calc_a);
