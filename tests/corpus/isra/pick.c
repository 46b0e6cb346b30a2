#include "pick.h"

struct big {
	long a, b, c, d, e, f, g, h;
};

/* Passed a big struct by value but uses two fields: gcc's IPA-SRA turns it
 * into a clone taking just those (pick.constprop.0.isra.0). */
static long __attribute__((noinline)) pick(struct big v)
{
	long r = 0;
	for (int i = 0; i < (int)(v.a & 15); i++)
		r += v.c * i;
	return r;
}

long p1(long x)
{
	struct big v = {x, 2, 3, 4, 5, 6, 7, 8};
	return pick(v);
}

long p2(long x)
{
	struct big v = {x, 9, x * 2, 4, 5, 6, 7, 8};
	return pick(v) + 1;
}
