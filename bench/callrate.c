/*
 * Bench target for the call-rate measurement: `tiny` is called in a tight
 * loop; the bench patches it with an identical function and compares calls
 * per second before and after.  Commands on stdin, one reply line each:
 *
 *   RUN n     call tiny() n times; reply "<nanoseconds> <checksum>"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((noinline, noipa)) int tiny(int x)
{
	return x * 3 + 1;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

int main(void)
{
	char line[128];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long n;
		if (sscanf(line, "RUN %lu", &n) != 1) {
			printf("ERR\n");
			continue;
		}
		int acc = 0;
		unsigned long long t0 = now_ns();
		for (unsigned long i = 0; i < n; i++)
			acc = tiny(acc);
		printf("%llu %d\n", now_ns() - t0, acc);
	}
	return 0;
}
