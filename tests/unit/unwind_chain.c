/*
 * The call chain of test_unwind.c (see unwind_chain.h), compiled -O2 with
 * CHAIN_PREFIX=fp_ (-fno-omit-frame-pointer) and nofp_ (-fomit-frame-pointer).
 * Every call is followed by work on its result, so none is a tail call.
 */
#include "unwind_chain.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define N(x) CAT(CHAIN_PREFIX, x)
#define CHAIN_FN __attribute__((noinline, noclone))
#define RA() ((uintptr_t)__builtin_return_address(0))

CHAIN_FN static int N(c3)(struct chain_rec *r, int x)
{
	volatile int pad[3] = {x, x + 1, x + 2};
	r->ra[0] = RA();
	r->leaf(r);
	return pad[0] + pad[1] + pad[2];
}

CHAIN_FN static int N(c2)(struct chain_rec *r, int x)
{
	r->ra[1] = RA();
	int v = N(c3)(r, x * 3);
	return v ^ x;
}

CHAIN_FN static int N(c1)(struct chain_rec *r, int x)
{
	/* a bigger frame, with callee-saved registers in use */
	volatile long buf[40];
	long a = x * 7, b = x * 11;
	for (int i = 0; i < 40; i++)
		buf[i] = a + i;
	r->ra[2] = RA();
	int v = N(c2)(r, (int)(a ^ b));
	return v + (int)buf[x & 31] + (int)a + (int)b;
}

CHAIN_FN int N(chain)(struct chain_rec *r, int x)
{
	r->ra[3] = RA();
	int v = N(c1)(r, x + 1);
	return v * 2 + 1;
}
