/* Replace with hooks: payload RB.  Its pre hooks veto while the target's
 * veto_replace_* variables say so; every hook leaves "rb:<hook>" in the trace. */
#include <errno.h>
#include <xsplice/patch.h>
#include "ftarget.h"

static const char *greet_rb(void)
{
	return "greet from RB";
}
XSPLICE_REPLACE(greet, greet_rb);

static int pre_apply(struct xsplice_payload *p)
{
	(void)p;
	trace("rb:pre-apply");
	return veto_replace_apply ? -ECANCELED : 0;
}
static void post_apply(struct xsplice_payload *p)
{
	trace_int("rb:post-apply", xsplice_payload_rc(p));
}
static int pre_revert(struct xsplice_payload *p)
{
	(void)p;
	trace("rb:pre-revert");
	return veto_replace_revert ? -ECANCELED : 0;
}
static void post_revert(struct xsplice_payload *p)
{
	trace_int("rb:post-revert", xsplice_payload_rc(p));
}
static void on_load(void)
{
	trace("rb:load");
}
static void on_unload(void)
{
	trace("rb:unload");
}
XSPLICE_PREAPPLY_HOOK(pre_apply);
XSPLICE_POSTAPPLY_HOOK(post_apply);
XSPLICE_PREREVERT_HOOK(pre_revert);
XSPLICE_POSTREVERT_HOOK(post_revert);
XSPLICE_LOAD_HOOK(on_load);
XSPLICE_UNLOAD_HOOK(on_unload);
