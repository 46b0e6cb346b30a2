/*
 * kvlat — request latency of kvd (bench/windows.py): C connections send
 * "GET k" in a loop, each request timed, until SIGTERM/SIGINT.  Prints
 * "requests N failed M p50 X p99 Y p999 Z" (microseconds).
 *
 *   kvlat PORT CONNECTIONS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXS (1u << 22)

static int port;
static atomic_ulong failed, nsamples;
static volatile sig_atomic_t stop;
static float *samples; /* microseconds */

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *client(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	FILE *f = fdopen(fd, "r+");
	char line[256];
	if (fprintf(f, "SET k v\n") < 0 || fflush(f) || !fgets(line, sizeof(line), f))
		atomic_fetch_add(&failed, 1);
	while (!stop) {
		double t0 = now_us();
		if (fprintf(f, "GET k\n") < 0 || fflush(f) || !fgets(line, sizeof(line), f)) {
			if (!stop)
				atomic_fetch_add(&failed, 1);
			break;
		}
		double dt = now_us() - t0;
		if (strncmp(line, "v", 1)) {
			atomic_fetch_add(&failed, 1);
			continue;
		}
		unsigned long i = atomic_fetch_add(&nsamples, 1);
		if (i < MAXS)
			samples[i] = (float)dt;
	}
	fclose(f);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: kvlat PORT CONNECTIONS\n");
		return 2;
	}
	port = atoi(argv[1]);
	int n = atoi(argv[2]);
	if (n < 1 || n > 64)
		n = 4;
	samples = malloc(MAXS * sizeof(*samples));
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pthread_t t[64];
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, client, NULL);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	unsigned long k = atomic_load(&nsamples);
	if (k > MAXS)
		k = MAXS;
	qsort(samples, k, sizeof(*samples), cmp);
#define PCT(p) (k ? samples[(unsigned long)((k - 1) * (p))] : 0)
	printf("requests %lu failed %lu p50 %.1f p99 %.1f p999 %.1f\n", k, atomic_load(&failed),
	       PCT(0.50), PCT(0.99), PCT(0.999));
	return 0;
}
