/* Robustness payload 2, C with -fexceptions: two replacements, a new
 * function they share, data, read-only strings, a per-thread action,
 * references to target data (symrefs) and metadata. */
#include <stdatomic.h>
#include <xsplice/patch.h>

extern long compute(long n);
extern long scale(long n);
extern const char *label(void);
extern atomic_int loads;

static long bias = 7;
static const char *names[] = {"multi-a", "multi-b"};

__attribute__((noinline)) long multi_helper(long n)
{
	return n * 5 + bias;
}

static long compute_multi(long n)
{
	return multi_helper(n) + 1;
}
XSPLICE_REPLACE(compute, compute_multi);

static long scale_multi(long n)
{
	return multi_helper(n) - 1;
}
XSPLICE_REPLACE(scale, scale_multi);

static const char *label_multi(void)
{
	return names[bias & 1];
}
XSPLICE_REPLACE(label, label_multi);

static void every_thread(void)
{
}
XSPLICE_PER_THREAD(every_thread);

static void on_load(void)
{
	atomic_fetch_add(&loads, 1);
}
XSPLICE_LOAD_HOOK(on_load);
XSPLICE_META(description, "robustness: several replacements and data");
XSPLICE_META(cve, "CVE-0000-0000");
