#include "tiers.h"

/* Always called with rate 7: gcc specialises it as rate_for.constprop.0. */
static int __attribute__((noinline)) rate_for(int n, int rate)
{
	int r = 0;
	for (int i = 0; i < n; i++)
		r += rate + (i & 1);
	return r;
}

int tier_a(int n)
{
	return rate_for(n, 7);
}

int tier_b(int n)
{
	return rate_for(n, 7) + 1000;
}
