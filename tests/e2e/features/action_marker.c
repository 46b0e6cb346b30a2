/* Action hooks that switch each function with the built-in routine and
 * mark it (the design's xen_action_hooks_marker): the pre/post hooks record
 * what each function's mark is before and after. */
#include <xsplice/patch.h>
#include "ftarget.h"

static long calc_marker(long n)
{
	return n + 300;
}
static long twice_marker(long n)
{
	return 3 * n;
}
XSPLICE_REPLACE(calc, calc_marker);
XSPLICE_REPLACE(twice, twice_marker);

/* "<hook>=<mark of func 0><mark of func 1>", marks as digits */
static void marks(const char *hook, struct xsplice_payload *p)
{
	long v = 0;

	for (unsigned i = 0; i < xsplice_payload_nfuncs(p); i++)
		v = v * 10 + (xsplice_func_applied(p, i) ? 1 : 0) + 1;
	trace_int(hook, v); /* 11 = none applied, 22 = both */
}

static int pre_apply(struct xsplice_payload *p)
{
	marks("pre-apply", p);
	return 0;
}
static void post_apply(struct xsplice_payload *p)
{
	marks("post-apply", p);
}
static int pre_revert(struct xsplice_payload *p)
{
	marks("pre-revert", p);
	return 0;
}
static void post_revert(struct xsplice_payload *p)
{
	marks("post-revert", p);
}
static int do_apply(struct xsplice_payload *p)
{
	for (unsigned i = 0; i < xsplice_payload_nfuncs(p); i++) {
		int rc = xsplice_func_apply(p, i);

		if (rc)
			return rc;
	}
	return 0;
}
static int do_revert(struct xsplice_payload *p)
{
	for (unsigned i = xsplice_payload_nfuncs(p); i-- > 0;) {
		int rc = xsplice_func_revert(p, i);

		if (rc)
			return rc;
	}
	return 0;
}
XSPLICE_PREAPPLY_HOOK(pre_apply);
XSPLICE_POSTAPPLY_HOOK(post_apply);
XSPLICE_PREREVERT_HOOK(pre_revert);
XSPLICE_POSTREVERT_HOOK(post_revert);
XSPLICE_APPLY_HOOK(do_apply);
XSPLICE_REVERT_HOOK(do_revert);
