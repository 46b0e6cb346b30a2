/* A revert action that fails half-way (the design's
 * xen_action_hooks_norevert): the built-in apply, then a revert hook that
 * reverts the first function and fails the first time.  The process must be
 * left as it was: both functions still patched. */
#include <errno.h>
#include <xsplice/patch.h>
#include "ftarget.h"

static long calc_norevert(long n)
{
	return n + 600;
}
static long twice_norevert(long n)
{
	return 6 * n;
}
XSPLICE_REPLACE(calc, calc_norevert);
XSPLICE_REPLACE(twice, twice_norevert);

static int attempts;

static int do_revert(struct xsplice_payload *p)
{
	int rc = xsplice_func_revert(p, 0);

	if (rc)
		return rc;
	if (attempts++ == 0) {
		trace("revert-action-fails");
		return -EIO;
	}
	trace("revert-action");
	return xsplice_func_revert(p, 1);
}
static void post_revert(struct xsplice_payload *p)
{
	trace_int("post-revert", xsplice_payload_rc(p));
}
XSPLICE_REVERT_HOOK(do_revert);
XSPLICE_POSTREVERT_HOOK(post_revert);
