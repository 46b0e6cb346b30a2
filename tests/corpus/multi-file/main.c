/* Line-driven test program: one request per line, one reply per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank.h"

int main(void)
{
	char line[256], cmd[32], arg[200];
	while (fgets(line, sizeof(line), stdin)) {
		arg[0] = '\0';
		if (sscanf(line, "%31s %199[^\n]", cmd, arg) < 1) {
			puts("?");
		}
		else if (strcmp(cmd, "deposit") == 0) {
			printf("%d\n", deposit(atoi(arg)));
		}
		else if (strcmp(cmd, "withdraw") == 0) {
			printf("%d\n", withdraw(atoi(arg)));
		}
		else if (strcmp(cmd, "balance") == 0) {
			printf("%d\n", balance());
		}
		else if (strcmp(cmd, "audit_count") == 0) {
			printf("%d\n", audit_count());
		}
		else {
			puts("?");
		}
		fflush(stdout);
	}
	return 0;
}
