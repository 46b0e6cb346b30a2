/* Line-driven test program: one request per line, one reply per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/x.h"

static int greeting_count;

__attribute__((noinline)) static int greet(void)
{
	greeting_count += 1;
	return greeting_count;
}

int main(void)
{
	char line[256], cmd[32], arg[200];
	while (fgets(line, sizeof(line), stdin)) {
		arg[0] = '\0';
		if (sscanf(line, "%31s %199[^\n]", cmd, arg) < 1) {
			puts("?");
		}
		else if (strcmp(cmd, "clamp") == 0) {
			printf("%d\n", clamp_len(atoi(arg)));
		}
		else if (strcmp(cmd, "greet") == 0) {
			printf("%d\n", greet());
		}
		else {
			puts("?");
		}
		fflush(stdout);
	}
	return 0;
}
