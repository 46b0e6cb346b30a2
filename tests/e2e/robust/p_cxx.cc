/* Robustness payload 1, C++: a replacement with a try/catch of its own (so
 * its .eh_frame has a personality routine and an LSDA in
 * .gcc_except_table), hooks of every kind and metadata. */
#include <stdexcept>
#include <xsplice/patch.h>

extern "C" long compute(long n);

static __attribute__((noinline)) long risky(long n)
{
	if (n < 0)
		throw std::invalid_argument("negative");
	return n * 3;
}

extern "C" long compute_cxx(long n)
{
	try {
		return risky(n);
	} catch (const std::invalid_argument &) {
		return -1;
	}
}
XSPLICE_REPLACE(compute, compute_cxx);

static int pre_apply(struct xsplice_payload *)
{
	return 0;
}
static void post_apply(struct xsplice_payload *)
{
}
static int pre_revert(struct xsplice_payload *)
{
	return 0;
}
static void post_revert(struct xsplice_payload *)
{
}
static void on_load(void)
{
}
static void on_unload(void)
{
}
XSPLICE_PREAPPLY_HOOK(pre_apply);
XSPLICE_POSTAPPLY_HOOK(post_apply);
XSPLICE_PREREVERT_HOOK(pre_revert);
XSPLICE_POSTREVERT_HOOK(post_revert);
XSPLICE_LOAD_HOOK(on_load);
XSPLICE_UNLOAD_HOOK(on_unload);
XSPLICE_META(description, "robustness: C++ replacement with its own handler");
XSPLICE_META(version, "1");
