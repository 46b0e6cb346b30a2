#include "libdepth.h"

/* The height of a balanced binary tree of n nodes. */
int depth(int n)
{
	if (n <= 0)
		return 0;
	int l = depth((n - 1) / 2), r = depth(n - 1 - (n - 1) / 2);
	return 1 + (l > r ? l : r);
}
