/* Action hooks only, no functions (the design's xen_action_hooks_nofunc):
 * applying the payload turns a feature flag of the target on. */
#include <xsplice/patch.h>
#include "ftarget.h"

static int do_apply(struct xsplice_payload *p)
{
	(void)p;
	feature_flag = 1;
	trace("apply-action");
	return 0;
}
static int do_revert(struct xsplice_payload *p)
{
	(void)p;
	feature_flag = 0;
	trace("revert-action");
	return 0;
}
XSPLICE_APPLY_HOOK(do_apply);
XSPLICE_REVERT_HOOK(do_revert);
