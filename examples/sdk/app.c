/*
 * The order logic of a tiny shop program: the code the SDK example patches.
 *
 * parse_qty() has the bug: atoi() turns "abc" into 0 and lets "-5" through,
 * so a negative order refunds money.  The fix (fix.c) rejects garbage and
 * bounds the quantity with the file-local clamp() and max_qty below, which
 * it reaches although they are static and the production binary is
 * stripped.
 */
#include <stdlib.h>

#include "app.h"

/* Static variable: the payload reads it live, so changes made after the
 * patch is applied are seen by the new code. */
static int max_qty = 1000;

/*
 * Static function called by the payload.  `used` keeps it a real function
 * with its declared calling convention even when the compiler inlines or
 * specialises its calls here (code outside this file relies on it);
 * noinline keeps this example's calls real calls.
 */
__attribute__((used, noinline)) static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

__attribute__((noinline)) int parse_qty(const char *s)
{
	int v = atoi(s); /* BUG: no validation, no lower bound */
	return v > max_qty ? max_qty : v;
}

void set_max_qty(int v)
{
	max_qty = clamp(v, 1, 1000000);
}

long order_total(const char *qty, int unit_cents)
{
	return (long)parse_qty(qty) * unit_cents;
}
