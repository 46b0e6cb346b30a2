/* Line-driven test program: one request per line, one reply per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

int main(void)
{
	char line[256], cmd[32], arg[200];
	while (fgets(line, sizeof(line), stdin)) {
		arg[0] = '\0';
		if (sscanf(line, "%31s %199[^\n]", cmd, arg) < 1) {
			puts("?");
		}
		else if (strcmp(cmd, "add") == 0) {
			printf("%d\n", name_add(arg));
		}
		else if (strcmp(cmd, "forget") == 0) {
			printf("%d\n", name_forget());
		}
		else if (strcmp(cmd, "last") == 0) {
			puts(name_last());
		}
		else {
			puts("?");
		}
		fflush(stdout);
	}
	return 0;
}
