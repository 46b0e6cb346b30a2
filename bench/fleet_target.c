/*
 * The fleet bench target (bench/fleet.py): NFUNCS patchable functions and
 * 9 threads besides main that call them now and then (10 threads in all),
 * like a small service.  `fleet_target startup` prints CLOCK_MONOTONIC at
 * the start of main (ns) and exits: the cost of the agent's start-up,
 * store included.  Otherwise main answers "call K" with f_K(1) on stdin.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define F(k)                                                                                       \
	__attribute__((noinline, noipa, used)) long f##k(long x)                                   \
	{                                                                                          \
		return x + k;                                                                      \
	}
F(0)
F(1)
F(2)
F(3)
F(4)
F(5)
F(6)
F(7)
F(8)
F(9)
F(10)
F(11)
F(12)
F(13)
F(14)
F(15)
F(16)
F(17)
F(18)
F(19)

static long (*const fns[])(long) = {f0,  f1,  f2,  f3,  f4,  f5,  f6,  f7,  f8,  f9,
                                    f10, f11, f12, f13, f14, f15, f16, f17, f18, f19};

static void *worker(void *arg)
{
	long k = (long)arg, sum = 0;
	struct timespec ts = {0, 100 * 1000 * 1000};
	for (;;) {
		sum += fns[k % 20](k);
		nanosleep(&ts, NULL);
	}
	return (void *)sum;
}

int main(int argc, char **argv)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (argc > 1 && !strcmp(argv[1], "startup")) {
		printf("%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long i = 0; i < 9; i++) {
		pthread_t t;
		pthread_create(&t, NULL, worker, (void *)i);
	}
	printf("ready\n");
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		int k = 0;
		if (sscanf(line, "call %d", &k) == 1 && k >= 0 && k < 20)
			printf("%ld\n", fns[k](1));
	}
	return 0;
}
