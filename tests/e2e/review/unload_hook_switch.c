/* Load / unload hooks that try the built-in switch on their own payload
 * (the handle kept by the pre-apply hook).  They run inside the window but
 * are not the action routine: after a revert has put every byte back, an
 * unload hook that switched calc on again would leave a CHECKED payload
 * with a live jump into code that unload then frees.  Both must get
 * -EPERM. */
#include <xsplice/patch.h>
#include "ftarget.h"

static long calc_uh(long n)
{
	return n + 900;
}
XSPLICE_REPLACE(calc, calc_uh);

static struct xsplice_payload *self;

static int pre_apply(struct xsplice_payload *p)
{
	self = p;
	return 0;
}
static void on_load(void)
{
	trace_int("load-revert", xsplice_func_revert(self, 0));
}
static void on_unload(void)
{
	trace_int("unload-apply", xsplice_func_apply(self, 0));
}
XSPLICE_PREAPPLY_HOOK(pre_apply);
XSPLICE_LOAD_HOOK(on_load);
XSPLICE_UNLOAD_HOOK(on_unload);
