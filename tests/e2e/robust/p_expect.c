/* Robustness payload 3, C with -fexceptions and asynchronous unwind
 * tables: a replacement with an expectation of the old code's bytes, one
 * that calls back into the target, and an action hook pair. */
#include <xsplice/patch.h>

extern long compute(long n);
extern long scale(long n);

static long compute_expect(long n)
{
	return scale(n) * 10;
}
/* COMPUTE_HEAD: the first 4 bytes of the target's compute(), a string
 * literal the test reads from the built target */
#ifndef COMPUTE_HEAD
#error "define COMPUTE_HEAD, e.g. -DCOMPUTE_HEAD=\"\\x48\\x8d\\x04\\x3f\""
#endif
XSPLICE_REPLACE_EXPECT(compute, compute_expect, COMPUTE_HEAD, 4);

static int apply_all(struct xsplice_payload *p)
{
	for (unsigned i = 0; i < xsplice_payload_nfuncs(p); i++) {
		int rc = xsplice_func_apply(p, i);
		if (rc)
			return rc;
	}
	return 0;
}
static int revert_all(struct xsplice_payload *p)
{
	for (unsigned i = 0; i < xsplice_payload_nfuncs(p); i++) {
		int rc = xsplice_func_revert(p, i);
		if (rc)
			return rc;
	}
	return 0;
}
XSPLICE_APPLY_HOOK(apply_all);
XSPLICE_REVERT_HOOK(revert_all);
XSPLICE_META(description, "robustness: expectation and action hooks");
