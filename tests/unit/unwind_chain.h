/*
 * A chain of calls for test_unwind.c: chain() -> c1() -> c2() -> c3() ->
 * r->leaf(r).  unwind_chain.c is compiled twice, with and without frame
 * pointers (fp_* and nofp_* names).  Each function records its own return
 * address, so that the test knows the frames an unwinder must find.
 */
#ifndef XS_TEST_UNWIND_CHAIN_H
#define XS_TEST_UNWIND_CHAIN_H

#include <stdint.h>

struct chain_rec {
	/* return addresses recorded by c3, c2, c1, chain (innermost first) */
	uintptr_t ra[4];
	/* called by c3 (innermost) */
	void (*leaf)(struct chain_rec *r);
	void *arg;
};

int fp_chain(struct chain_rec *r, int x);
int nofp_chain(struct chain_rec *r, int x);

#endif
