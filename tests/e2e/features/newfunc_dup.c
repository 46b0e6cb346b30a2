/* Defines a_new_helper again: new global symbols must be unique across the
 * loaded payloads, so this one is refused while A is loaded. */
#include <xsplice/patch.h>
#include "ftarget.h"

long a_new_helper(long n);
long a_new_helper(long n)
{
	return 20 * n;
}

static long twice_dup(long n)
{
	return a_new_helper(n);
}
XSPLICE_REPLACE(twice, twice_dup);
