/* Action hooks that only mark the functions applied / reverted without
 * switching any code (the design's xen_action_hooks): the agent trusts the
 * hook, writes nothing itself, and the old code keeps running. */
#include <xsplice/patch.h>
#include "ftarget.h"

static long calc_unused(long n)
{
	return n + 400;
}
XSPLICE_REPLACE(calc, calc_unused);

static int do_apply(struct xsplice_payload *p)
{
	for (unsigned i = 0; i < xsplice_payload_nfuncs(p); i++)
		xsplice_func_set_applied(p, i, 1);
	trace("marked-applied");
	return 0;
}
static int do_revert(struct xsplice_payload *p)
{
	for (unsigned i = 0; i < xsplice_payload_nfuncs(p); i++)
		xsplice_func_set_applied(p, i, 0);
	trace("marked-reverted");
	return 0;
}
static void post_apply(struct xsplice_payload *p)
{
	trace_int("post-apply-mark", xsplice_func_applied(p, 0));
}
XSPLICE_APPLY_HOOK(do_apply);
XSPLICE_REVERT_HOOK(do_revert);
XSPLICE_POSTAPPLY_HOOK(post_apply);
