/* bump() counts by ten: payload code writing the target's __thread counter. */
#include <xsplice/patch.h>

extern __thread int counter;
extern int bump(void);

static int bump_fixed(void)
{
	counter += 10;
	return counter;
}

XSPLICE_REPLACE(bump, bump_fixed);
