/*
 * A hand-written payload for the shop program (app.c, main.c): parse_qty()
 * rejects what is not a number (-1) and bounds the quantity to
 * [0, max_qty].
 *
 * It shows what a payload can reach in the target, stripped or not:
 *   - a static function of the target (clamp, in app.c; main.c has another
 *     clamp, so XSPLICE_LOCAL says which),
 *   - a static variable of the target (max_qty: unique, found by name),
 *   - a libc function (strtol: resolved in the process at run time).
 *
 *   cc -O2 -fPIC -ffunction-sections -fdata-sections -I include -c fix.c
 *   xsplice-pack -t shop -o fix.xsplice fix.o
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <xsplice/patch.h>

/* The target's functions and variables, declared as if they were global. */
extern int parse_qty(const char *s);
extern int clamp(int v, int lo, int hi); /* static in app.c */
extern int max_qty;                      /* static in app.c */

XSPLICE_LOCAL(clamp, "app.c");

static int parse_qty_fixed(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end != '\0')
		return -1;
	if (errno == ERANGE || v > INT_MAX)
		v = INT_MAX;
	return clamp(v < 0 ? 0 : (int)v, 0, max_qty);
}

XSPLICE_REPLACE(parse_qty, parse_qty_fixed);

XSPLICE_META(name, "shop-qty");
XSPLICE_META(version, "1");
XSPLICE_META(description, "parse_qty: reject non-numbers, clamp to [0, max_qty]");
