/* A payload with a __thread variable of its own: refused. */
#include <xsplice/patch.h>

extern int bump(void);
static __thread int mine;

static int bump_fixed(void)
{
	return ++mine;
}

XSPLICE_REPLACE(bump, bump_fixed);
