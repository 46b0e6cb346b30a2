/* Line-driven test program: one request per line, one reply per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

int main(void)
{
	char line[256], cmd[32], arg[200];
	while (fgets(line, sizeof(line), stdin)) {
		arg[0] = '\0';
		if (sscanf(line, "%31s %199[^\n]", cmd, arg) < 1) {
			puts("?");
		}
		else if (strcmp(cmd, "put") == 0) {
			printf("%d\n", table_put(arg) >= 0);
		}
		else if (strcmp(cmd, "count") == 0) {
			printf("%d\n", table_count());
		}
		else if (strcmp(cmd, "has") == 0) {
			printf("%d\n", table_has(arg));
		}
		else {
			puts("?");
		}
		fflush(stdout);
	}
	return 0;
}
