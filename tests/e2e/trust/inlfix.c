/* Replaces helper(), which the target inlined into two callers. */
#include <xsplice/patch.h>

int helper(int x);
static int helper_new(int x)
{
	return x * 4;
}
XSPLICE_REPLACE(helper, helper_new);
