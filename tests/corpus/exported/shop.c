#include "shop.h"

/* Orders of 100 and more get 10% off. */
int discount(int total)
{
	if (total >= 100)
		return total / 10;
	return 0;
}

int shipping(int total)
{
	return total > 200 ? 0 : 5;
}
