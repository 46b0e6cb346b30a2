/*
 * The shop program: one order per line on stdin, "QTY UNIT_CENTS", one
 * total per line on stdout.  "max N" changes the quantity bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

/* Another file-local clamp(): the payload has to say which one it means
 * (XSPLICE_LOCAL(clamp, "app.c")), or xsplice-pack refuses the ambiguity. */
__attribute__((used, noinline)) static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

int main(void)
{
	char line[256], qty[64];
	int unit;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "max %d", &unit) == 1) {
			set_max_qty(unit);
			printf("ok\n");
		} else if (sscanf(line, "%63s %d", qty, &unit) == 2) {
			printf("%ld\n", order_total(qty, clamp(unit, 0, 100000)));
		} else {
			printf("error: want QTY UNIT_CENTS or max N\n");
		}
	}
	return 0;
}
