/* A per-thread action that tries the built-in switch.  Per-thread actions
 * run on every thread at once, so xsplice_func_apply (not thread-safe: it
 * saves the bytes it overwrites) must refuse them; only the control
 * thread's action hooks may switch.  The apply action switches calc; every
 * per-thread action tries twice; post-apply reports how many of those
 * tries switched it (must be 0). */
#include <xsplice/patch.h>
#include "ftarget.h"

static long calc_pt(long n)
{
	return n + 800;
}
static long twice_pt(long n)
{
	return 8 * n;
}
XSPLICE_REPLACE(calc, calc_pt);
XSPLICE_REPLACE(twice, twice_pt);

static struct xsplice_payload *self;
static int switched, refused;

/* index of the funcs entry named `name` (the table's order is the packer's) */
static unsigned func_index(struct xsplice_payload *p, const char *name)
{
	for (unsigned i = 0; i < xsplice_payload_nfuncs(p); i++) {
		const char *a = xsplice_func_name(p, i), *b = name;

		while (*a && *a == *b)
			a++, b++;
		if (*a == *b)
			return i;
	}
	return ~0u;
}

static int pre_apply(struct xsplice_payload *p)
{
	self = p;
	switched = refused = 0;
	return 0;
}
static int do_apply(struct xsplice_payload *p)
{
	return xsplice_func_apply(p, func_index(p, "calc"));
}
static void on_each_thread(void)
{
	if (xsplice_func_apply(self, func_index(self, "twice")) == 0)
		__atomic_fetch_add(&switched, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_add(&refused, 1, __ATOMIC_SEQ_CST);
}
static void post_apply(struct xsplice_payload *p)
{
	(void)p;
	trace_int("switched", switched);
	trace(refused > 0 ? "refused" : "none-refused");
}
XSPLICE_PREAPPLY_HOOK(pre_apply);
XSPLICE_APPLY_HOOK(do_apply);
XSPLICE_PER_THREAD(on_each_thread);
XSPLICE_POSTAPPLY_HOOK(post_apply);
