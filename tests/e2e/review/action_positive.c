/* Action hooks that fail with a positive value (a C habit: "return 1"):
 * the apply hook switches the first function and returns 1 on its first
 * run; the revert hook reverts the first function and returns 1 on its
 * first run.  Each failure must be reported as a failure (not as "no
 * action needed") and leave the process as it was. */
#include <xsplice/patch.h>
#include "ftarget.h"

static long calc_pos(long n)
{
	return n + 700;
}
static long twice_pos(long n)
{
	return 7 * n;
}
XSPLICE_REPLACE(calc, calc_pos);
XSPLICE_REPLACE(twice, twice_pos);

static int applies, reverts;

static int do_apply(struct xsplice_payload *p)
{
	int rc = xsplice_func_apply(p, 0);

	if (rc)
		return rc;
	if (applies++ == 0)
		return 1;
	return xsplice_func_apply(p, 1);
}
static int do_revert(struct xsplice_payload *p)
{
	int rc = xsplice_func_revert(p, 0);

	if (rc)
		return rc;
	if (reverts++ == 0)
		return 1;
	return xsplice_func_revert(p, 1);
}
static void post_apply(struct xsplice_payload *p)
{
	trace_int("post-apply", xsplice_payload_rc(p));
}
static void post_revert(struct xsplice_payload *p)
{
	trace_int("post-revert", xsplice_payload_rc(p));
}
XSPLICE_APPLY_HOOK(do_apply);
XSPLICE_REVERT_HOOK(do_revert);
XSPLICE_POSTAPPLY_HOOK(post_apply);
XSPLICE_POSTREVERT_HOOK(post_revert);
