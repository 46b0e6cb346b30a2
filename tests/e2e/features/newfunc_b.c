/* Payload B, stacked on A, calls the function A introduced. */
#include <xsplice/patch.h>
#include "ftarget.h"

extern long a_new_helper(long n); /* defined by payload A, not the target */

static long twice_b(long n)
{
	return a_new_helper(n) + 2;
}
XSPLICE_REPLACE(twice, twice_b);
