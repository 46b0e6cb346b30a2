/* The payload of test_unwind.py: old_fn returns x + 1000.  Like the
 * original, it leaves a return address into itself when asked to (mode 5:
 * mark) and sleeps in a function it calls (mode 1: hold_here), so that
 * revert meets the same cases as apply. */
#include <xsplice/patch.h>

extern long old_fn(long x, int mode);
extern long mark(void);
extern long hold_here(void);

static long new_fn(long x, int mode)
{
	if (mode == 5)
		return mark() + x;
	if (mode == 1)
		return hold_here() + x;
	return x + 1000;
}
XSPLICE_REPLACE(old_fn, new_fn);
