/*
 * Target for the issue-12 debugger / profiler / core tests.  Commands on
 * stdin, one reply line each:
 *   call N    victim(N) on this thread: the answer
 *   block     a thread runs outer_caller -> middle_caller -> victim(-1); with
 *             the payload applied, the payload's victim parks in its own code
 *   blocked   how many threads are parked in payload code (the payload sets
 *             parked)
 *   spin      a thread runs outer_caller(-2): the payload spins in its code
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile int parked;

/* noipa, not just noinline: with -O2 GCC's IPA lets a caller of a function
 * it knows skip the ABI's 16-byte stack alignment (-fipa-stack-alignment)
 * or keep values in registers the callee does not touch (-fipa-ra), and
 * the replacement breaks those assumptions (see xsplice-sdk(7)). */

__attribute__((noipa)) int victim(int n)
{
	__asm__ volatile("" ::: "memory");
	return n + 1;
}

__attribute__((noipa)) int middle_caller(int n)
{
	int r = victim(n);
	__asm__ volatile("" ::: "memory");
	return r + 1;
}

__attribute__((noipa)) int outer_caller(int n)
{
	int r = middle_caller(n);
	__asm__ volatile("" ::: "memory");
	return r + 1;
}

static void *blocker(void *arg)
{
	outer_caller((int)(long)arg);
	return NULL;
}

int main(void)
{
	char line[256];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		int n;
		if (sscanf(line, "call %d", &n) == 1) {
			printf("%d\n", victim(n));
		} else if ((!strncmp(line, "block", 5) && line[5] != 'e') ||
		           !strncmp(line, "spin", 4)) {
			pthread_t t;
			pthread_create(&t, NULL, blocker, (void *)(long)(line[0] == 's' ? -2 : -1));
			pthread_detach(t);
			printf("ok\n");
		} else if (!strncmp(line, "blocked", 7)) {
			printf("%d\n", parked);
		} else {
			printf("?\n");
		}
	}
	return 0;
}
