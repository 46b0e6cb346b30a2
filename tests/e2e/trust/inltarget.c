/* Target for the xsplice-pack warnings: helper() is global, so it keeps
 * an out-of-line copy, and -O2 inlines it into user_b and helper_out. */
#include <stdio.h>

int helper(int x)
{
	return x * 3 + 1;
}

__attribute__((noinline)) int user_b(int x)
{
	return helper(x) - 2;
}

__attribute__((noinline)) int helper_out(int x)
{
	return helper(x);
}

int main(int argc, char **argv)
{
	(void)argv;
	printf("%d\n", user_b(argc) + helper_out(argc));
	return 0;
}
