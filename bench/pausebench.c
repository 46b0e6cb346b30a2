/*
 * Bench target for the pause measurement: N threads busy in a loop (they
 * never touch the patched function), and `victim`, the function the bench
 * payload replaces.  stdin: "THREADS n" starts n more busy threads and
 * replies "ok <total>".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_ulong spins;

__attribute__((noinline)) int victim(int x)
{
	return x * 7 + 3;
}

__attribute__((noinline)) static unsigned long work(unsigned long x)
{
	for (int i = 0; i < 64; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	return x;
}

static void *busy(void *arg)
{
	unsigned long x = (unsigned long)arg;
	for (;;) {
		x = work(x);
		atomic_fetch_add_explicit(&spins, 1, memory_order_relaxed);
	}
	return NULL;
}

int main(void)
{
	char line[64];
	unsigned total = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned n;
		if (sscanf(line, "THREADS %u", &n) == 1) {
			for (unsigned i = 0; i < n; i++) {
				pthread_t t;
				if (pthread_create(&t, NULL, busy, (void *)(unsigned long)(i + 1)) == 0)
					total++;
			}
			printf("ok %u\n", total);
		} else {
			printf("%d\n", victim(1));
		}
	}
	return 0;
}
