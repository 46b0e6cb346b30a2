/* An apply action that switches hold_fn() and then fails: a replace with it
 * must leave the process exactly as before. */
#include <errno.h>
#include <xsplice/patch.h>

extern int hold_fn(void);

static int hold_fn_3(void)
{
	return 3;
}
XSPLICE_REPLACE(hold_fn, hold_fn_3);

static int apply_then_fail(struct xsplice_payload *p)
{
	int rc = xsplice_func_apply(p, 0);
	return rc ? rc : -EIO;
}
XSPLICE_APPLY_HOOK(apply_then_fail);
