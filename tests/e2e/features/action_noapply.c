/* An apply action that fails half-way (the design's
 * xen_action_hooks_noapply): it switches the first function, then fails the
 * first time it runs.  The process must be left as it was. */
#include <errno.h>
#include <xsplice/patch.h>
#include "ftarget.h"

static long calc_noapply(long n)
{
	return n + 500;
}
static long twice_noapply(long n)
{
	return 5 * n;
}
XSPLICE_REPLACE(calc, calc_noapply);
XSPLICE_REPLACE(twice, twice_noapply);

static int attempts;

static int do_apply(struct xsplice_payload *p)
{
	int rc = xsplice_func_apply(p, 0);

	if (rc)
		return rc;
	if (attempts++ == 0) {
		trace("apply-action-fails");
		return -EIO;
	}
	trace("apply-action");
	return xsplice_func_apply(p, 1);
}
static void post_apply(struct xsplice_payload *p)
{
	trace_int("post-apply", xsplice_payload_rc(p));
}
XSPLICE_APPLY_HOOK(do_apply);
XSPLICE_POSTAPPLY_HOOK(post_apply);
