/* Line-driven test program: one request per line, one reply per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

int main(void)
{
	char line[256], cmd[32], arg[200];
	while (fgets(line, sizeof(line), stdin)) {
		arg[0] = '\0';
		if (sscanf(line, "%31s %199[^\n]", cmd, arg) < 1) {
			puts("?");
		}
		else if (strcmp(cmd, "set_opt") == 0) {
			printf("%d\n", set_opt(atoi(arg)));
		}
		else if (strcmp(cmd, "get_opt") == 0) {
			printf("%d\n", get_opt(atoi(arg)));
		}
		else {
			puts("?");
		}
		fflush(stdout);
	}
	return 0;
}
