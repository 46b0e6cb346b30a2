#include <stdio.h>
#include <string.h>

#include "money.h"

/* Formats an amount in cents as "12.34 EUR": a file-local helper with
 * several callers, too big to be inlined into each of them. */
static const char *money(long cents, const char *cur)
{
	static char buf[4][64];
	static int slot;
	char *b = buf[slot++ & 3];
	const char *sign = "";
	if (cents < 0) {
		sign = "-";
		cents = -cents;
	}
	if (strlen(cur) > 8)
		cur = "???";
	snprintf(b, 64, "%s%ld.%02ld %s", sign, cents / 100, cents % 100, cur);
	return b;
}

const char *price(int cents)
{
	return money(cents + cents / 5, "EUR");
}

const char *refund(int cents)
{
	return money(-cents, "USD");
}

const char *fee(int cents)
{
	return money(cents / 10 + 1, "EUR");
}
