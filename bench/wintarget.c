/*
 * Bench target for the quiesce windows (bench/windows.py): argv[1] threads
 * of kind argv[2], started before the agent is asked anything, and
 * `victim`, the function the bench payload replaces (no thread calls it).
 *
 *   busy    a loop of arithmetic
 *   usleep  a loop of usleep(1000)
 *   epoll   blocked in epoll_wait on an empty epoll set
 *   read    blocked in read() on a pipe nobody writes
 *
 * stdin: any line is answered with victim(1).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

__attribute__((noinline)) int victim(int x)
{
	return x * 7 + 3;
}

static volatile unsigned long sink;
static int pipefd[2];

static void *busy(void *arg)
{
	unsigned long x = (unsigned long)arg;
	for (;;) {
		for (int i = 0; i < 64; i++)
			x = x * 6364136223846793005ul + 1442695040888963407ul;
		sink = x;
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		usleep(1000);
	return NULL;
}

static void *epoller(void *arg)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	(void)arg;
	for (;;)
		epoll_wait(ep, &ev, 1, -1);
	return NULL;
}

static void *reader(void *arg)
{
	char c;
	(void)arg;
	for (;;)
		if (read(pipefd[0], &c, 1) <= 0)
			pause();
	return NULL;
}

int main(int argc, char **argv)
{
	char line[64];
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
	const char *kind = argc > 2 ? argv[2] : "busy";
	void *(*fn)(void *) = !strcmp(kind, "usleep") ? sleeper
	                      : !strcmp(kind, "epoll") ? epoller
	                      : !strcmp(kind, "read")  ? reader
	                                               : busy;
	if (pipe(pipefd))
		return 1;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 * 1024);
	for (unsigned i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, &a, fn, (void *)(unsigned long)(i + 1)))
			return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %u\n", n);
	while (fgets(line, sizeof(line), stdin))
		printf("%d\n", victim(1));
	return 0;
}
