/* Line-driven test program: one request per line, one reply per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pick.h"

int main(void)
{
	char line[256], cmd[32], arg[200];
	while (fgets(line, sizeof(line), stdin)) {
		arg[0] = '\0';
		if (sscanf(line, "%31s %199[^\n]", cmd, arg) < 1) {
			puts("?");
		}
		else if (strcmp(cmd, "p1") == 0) {
			printf("%ld\n", p1(atol(arg)));
		}
		else if (strcmp(cmd, "p2") == 0) {
			printf("%ld\n", p2(atol(arg)));
		}
		else {
			puts("?");
		}
		fflush(stdout);
	}
	return 0;
}
