/* Line-driven test program: one request per line, one reply per line.
 * "new A B" makes a context (kept for the life of the process), "sum"
 * adds up the last one's members. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"

int main(void)
{
	char line[256], cmd[32];
	long a, b;
	struct ctx *cur = NULL;
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "%31s", cmd) < 1) {
			puts("?");
		}
		else if (strcmp(cmd, "new") == 0 && sscanf(line, "%*s %ld %ld", &a, &b) == 2) {
			cur = ctx_new(a, b);
			puts(cur ? "ok" : "no memory");
		}
		else if (strcmp(cmd, "sum") == 0 && cur) {
			printf("%ld\n", ctx_sum(cur));
		}
		else {
			puts("?");
		}
		fflush(stdout);
	}
	return 0;
}
