/*
 * The target of the attach bench: N threads computing, each recording the
 * longest gap it saw between two consecutive looks at the clock; the main
 * thread blocked in read() on stdin (where `attach` borrows it).
 *   argv[1] = N
 * Requests: "reset" -> "ok" (gaps zeroed), "gaps" -> "max_us M" (the longest
 * gap of any computing thread since the last reset).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long max_gap_ns;
static atomic_int generation;

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *spin(void *arg)
{
	(void)arg;
	int gen = atomic_load(&generation);
	long last = now_ns();
	for (;;) {
		long t = now_ns(), gap = t - last;
		int g = atomic_load(&generation);
		if (g != gen) {
			gen = g;
			gap = 0;
		}
		long m = atomic_load(&max_gap_ns);
		while (gap > m && !atomic_compare_exchange_weak(&max_gap_ns, &m, gap))
			;
		last = t;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	pthread_t t;
	for (int i = 0; i < n; i++)
		pthread_create(&t, NULL, spin, NULL);
	char line[64];
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		if (!strcmp(line, "reset\n")) {
			atomic_fetch_add(&generation, 1);
			usleep(1000);
			atomic_store(&max_gap_ns, 0);
			printf("ok\n");
		} else if (!strcmp(line, "gaps\n")) {
			printf("max_us %.1f\n", atomic_load(&max_gap_ns) / 1e3);
		}
	}
	return 0;
}
