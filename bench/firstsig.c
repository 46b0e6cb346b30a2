/*
 * firstsig — the cost of the first signal in a fresh process, without
 * xsplice (bench/windows.py).  One thread loops on usleep(1000), as the
 * "usleep" targets of the windows bench do; the main thread sends it a
 * real-time signal K times, 20 ms apart, and times the send (tgkill) and
 * the delivery (until the handler runs).  Prints one line per signal:
 * "send US deliver US".
 *
 *   firstsig K
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic double entered;
static _Atomic pid_t tid;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void on_signal(int sig)
{
	(void)sig;
	entered = now_us();
}

static void *sleeper(void *arg)
{
	(void)arg;
	tid = (pid_t)syscall(SYS_gettid);
	for (;;)
		usleep(1000);
	return NULL;
}

int main(int argc, char **argv)
{
	int k = argc > 1 ? atoi(argv[1]) : 4;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGRTMIN + 2, &sa, NULL))
		return 1;
	pthread_t t;
	if (pthread_create(&t, NULL, sleeper, NULL))
		return 1;
	usleep(200000); /* as the windows bench: let it reach its loop */
	for (int i = 0; i < k; i++) {
		entered = 0;
		double t0 = now_us();
		syscall(SYS_tgkill, getpid(), tid, SIGRTMIN + 2);
		double t1 = now_us();
		/* sleep, not spin: a spinning sender keeps a CPU the woken
		 * thread may be placed on */
		for (int w = 0; w < 100 && !entered; w++)
			usleep(20000);
		printf("send %.1f deliver %.1f\n", t1 - t0, entered ? entered - t0 : -1.0);
	}
	return 0;
}
