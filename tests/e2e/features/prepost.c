/* Pre/post hooks (the design's xen_prepost_hooks): every hook leaves a word
 * in the target's trace; the first pre-revert vetoes, the second agrees. */
#include <errno.h>
#include <xsplice/patch.h>
#include "ftarget.h"

static long calc_prepost(long n)
{
	return n + 100;
}
XSPLICE_REPLACE(calc, calc_prepost);

static int pre_reverts;

static int pre_apply(struct xsplice_payload *p)
{
	(void)p;
	trace("pre-apply");
	return 0;
}
static void post_apply(struct xsplice_payload *p)
{
	trace_int("post-apply", xsplice_payload_rc(p));
}
static int pre_revert(struct xsplice_payload *p)
{
	(void)p;
	trace("pre-revert");
	return pre_reverts++ == 0 ? -ECANCELED : 0;
}
static void post_revert(struct xsplice_payload *p)
{
	trace_int("post-revert", xsplice_payload_rc(p));
}
static void on_load(void)
{
	trace("load");
}
static void on_unload(void)
{
	trace("unload");
}
XSPLICE_PREAPPLY_HOOK(pre_apply);
XSPLICE_POSTAPPLY_HOOK(post_apply);
XSPLICE_PREREVERT_HOOK(pre_revert);
XSPLICE_POSTREVERT_HOOK(post_revert);
XSPLICE_LOAD_HOOK(on_load);
XSPLICE_UNLOAD_HOOK(on_unload);
