/*
 * A program started without the agent, for the attach tests.  Options:
 *   -w N   N worker threads calling value() in a loop, counting results
 *          outside {old, new} (default 2)
 *   -s N   N CPU-bound threads spinning (and calling value())
 *   -b N   N threads blocked in read() on a private pipe
 *   -e     wait for input in epoll_wait(timeout -1) before each read
 *   -P     wait for input in ppoll() with a signal mask before each read
 *   -m M   mode: traced (a child process traces us), seccomp (an
 *          allow-all seccomp filter), nodump (PR_SET_DUMPABLE 0), spin (the
 *          main thread computes forever and reads nothing), rtsig (the
 *          program handles SIGRTMIN+8, the agent's default signal)
 * Requests on stdin, read with read(2) (no stdio buffering), one line each:
 *   value        -> "value V"
 *   check        -> "calls N bad M"
 *   line TEXT    -> "TEXT V"
 *   sleep MS     -> nanosleep(MS) then "slept MS elapsed E" (E in ms)
 *   rtsig        -> raise(SIGRTMIN+8), "rtsig N" (times the handler ran)
 * A read() failing with EINTR is answered "eintr" (the tests want none).
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OLD_VALUE 1
#define NEW_VALUE 2 /* what the test's payload returns */

__attribute__((noinline)) long value(void)
{
	__asm__ volatile("");
	return OLD_VALUE;
}

static atomic_long calls, bad;
static int block_pipe[2];
static int spin_main, wait_how;
static volatile sig_atomic_t rt_count;

static void on_rt(int sig)
{
	(void)sig;
	rt_count++;
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		long v = value();
		if (v != OLD_VALUE && v != NEW_VALUE)
			atomic_fetch_add(&bad, 1);
		atomic_fetch_add(&calls, 1);
	}
	return NULL;
}

static void *blocked(void *arg)
{
	(void)arg;
	char c;
	for (;;)
		if (read(block_pipe[0], &c, 1) == 0)
			pause();
	return NULL;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	if (write(1, buf, (size_t)n) < 0)
		_exit(3);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void request(char *line)
{
	if (!strcmp(line, "value")) {
		say("value %ld", value());
	} else if (!strcmp(line, "check")) {
		say("calls %ld bad %ld", atomic_load(&calls), atomic_load(&bad));
	} else if (!strncmp(line, "line ", 5)) {
		say("%s %ld", line + 5, value());
	} else if (!strcmp(line, "rtsig")) {
		raise(SIGRTMIN + 8);
		say("rtsig %d", (int)rt_count);
	} else if (!strncmp(line, "sleep ", 6)) {
		long ms = atol(line + 6);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
		say("sleeping");
		double t0 = now_ms();
		int rc = nanosleep(&ts, NULL);
		say("slept %ld rc %d elapsed %.0f", ms, rc ? errno : 0, now_ms() - t0);
	} else {
		say("unknown request");
	}
}

static void mode(const char *m)
{
	if (!strcmp(m, "spin")) {
		spin_main = 1;
	} else if (!strcmp(m, "rtsig")) {
		struct sigaction sa = {.sa_handler = on_rt};
		sigaction(SIGRTMIN + 8, &sa, NULL);
	} else if (!strcmp(m, "nodump")) {
		prctl(PR_SET_DUMPABLE, 0);
	} else if (!strcmp(m, "seccomp")) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog prog = {1, &allow};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			exit(4);
	} else if (!strcmp(m, "traced")) {
		pid_t parent = getpid();
		int ready[2];
		if (pipe(ready))
			exit(4);
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); /* gone with the traced parent */
			int ok = !ptrace(PTRACE_SEIZE, parent, 0, 0);
			if (write(ready[1], &ok, sizeof(ok)) < 0)
				_exit(4);
			for (;;) /* a tracer that never looks: the parent runs on */
				pause();
		}
		int ok = 0;
		if (read(ready[0], &ok, sizeof(ok)) != sizeof(ok) || !ok)
			exit(4);
	}
}

/* -e, -P: wait until stdin is readable; an EINTR is reported */
static void wait_input(void)
{
	static int ep = -1;
	int rc = 0;
	if (wait_how == 'e') {
		struct epoll_event ev = {.events = EPOLLIN};
		if (ep < 0 && ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
		               epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev)))
			exit(4);
		rc = epoll_wait(ep, &ev, 1, -1);
	} else if (wait_how == 'P') {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		sigset_t mask;
		sigemptyset(&mask);
		rc = ppoll(&p, 1, NULL, &mask);
	}
	if (rc < 0 && errno == EINTR)
		say("eintr");
}

int main(int argc, char **argv)
{
	int nwork = 2, nspin = 0, nblock = 0, opt;
	while ((opt = getopt(argc, argv, "w:s:b:m:eP")) != -1) {
		if (opt == 'e' || opt == 'P')
			wait_how = opt;
		else if (opt == 'w')
			nwork = atoi(optarg);
		else if (opt == 's')
			nspin = atoi(optarg);
		else if (opt == 'b')
			nblock = atoi(optarg);
		else if (opt == 'm')
			mode(optarg);
	}
	if (pipe(block_pipe))
		return 4;
	pthread_t t;
	for (int i = 0; i < nwork + nspin; i++)
		pthread_create(&t, NULL, worker, NULL);
	for (int i = 0; i < nblock; i++)
		pthread_create(&t, NULL, blocked, NULL);
	say("ready %d", (int)getpid());
	if (spin_main)
		worker(NULL);
	char buf[4096];
	size_t len = 0;
	for (;;) {
		wait_input();
		ssize_t n = read(0, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR) {
			say("eintr");
			continue;
		}
		if (n <= 0)
			return 0;
		len += (size_t)n;
		char *nl;
		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			request(buf);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
	}
}
