/* Replace with hooks: payload RA.  Its pre hooks veto while the target's
 * veto_replace_* variables say so; every hook leaves "ra:<hook>" in the trace. */
#include <errno.h>
#include <xsplice/patch.h>
#include "ftarget.h"

static const char *greet_ra(void)
{
	return "greet from RA";
}
XSPLICE_REPLACE(greet, greet_ra);

static int pre_apply(struct xsplice_payload *p)
{
	(void)p;
	trace("ra:pre-apply");
	return veto_replace_apply ? -ECANCELED : 0;
}
static void post_apply(struct xsplice_payload *p)
{
	trace_int("ra:post-apply", xsplice_payload_rc(p));
}
static int pre_revert(struct xsplice_payload *p)
{
	(void)p;
	trace("ra:pre-revert");
	return veto_replace_revert ? -ECANCELED : 0;
}
static void post_revert(struct xsplice_payload *p)
{
	trace_int("ra:post-revert", xsplice_payload_rc(p));
}
static void on_load(void)
{
	trace("ra:load");
}
static void on_unload(void)
{
	trace("ra:unload");
}
XSPLICE_PREAPPLY_HOOK(pre_apply);
XSPLICE_POSTAPPLY_HOOK(post_apply);
XSPLICE_PREREVERT_HOOK(pre_revert);
XSPLICE_POSTREVERT_HOOK(post_revert);
XSPLICE_LOAD_HOOK(on_load);
XSPLICE_UNLOAD_HOOK(on_unload);
