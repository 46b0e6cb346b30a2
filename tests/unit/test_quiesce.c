/*
 * The thread rendezvous (src/agent/quiesce.c) inside this test process:
 * threads spinning, blocked in syscalls, with the signal blocked, being
 * created and exiting while attempts run.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ut.h"
#include "agent/quiesce.h"
#include "agent/threadinfo.h"

#define SIG (SIGRTMIN + 8)
/* how long an attempt that must succeed may wait: a bound for a machine
 * loaded to a load average in the hundreds, not a timing check */
#define BOUND_MS 60000

static atomic_int stop;

/* a function with known bounds, called in a tight loop */
long busy_fn(long x);
extern const char busy_fn_end[];
__asm__(".text\n"
        ".globl busy_fn\n"
        ".type busy_fn,@function\n"
        "busy_fn:\n"
        "	lea 1(%rdi), %rax\n"
        "	nop\n"
        "	nop\n"
        "	nop\n"
        "	ret\n"
        ".globl busy_fn_end\n"
        "busy_fn_end:\n"
        ".size busy_fn, .-busy_fn\n");

static void *spinner(void *a)
{
	long x = 0;
	(void)a;
	while (!atomic_load(&stop))
		x = busy_fn(x);
	return (void *)x;
}

static int pipefd[2];
static atomic_long poll_bad, poller_tid;
static void *poller(void *a)
{
	struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
	(void)a;
	atomic_store(&poller_tid, syscall(SYS_gettid));
	int r = poll(&p, 1, -1);
	if (r != 1)
		atomic_fetch_add(&poll_bad, 1);
	return NULL;
}

static pthread_t start(void *(*fn)(void *))
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fn, NULL), 0);
	return t;
}

static void init_once(void)
{
	static int done;
	struct xs_err err = {0};
	if (done)
		return;
	assert_int_equal(xs_quiesce_init(SIG, &err), 0);
	done = 1;
}

static void window(unsigned want_threads)
{
	struct xs_qfail f;
	struct xs_err err = {0};
	assert_int_equal(xs_quiesce_prepare(&err), 0);
	assert_int_equal(xs_quiesce_begin(BOUND_MS, &f), 0);
	unsigned parked = 0;
	for (unsigned i = 0; i < xs_quiesce_nthreads(); i++) {
		const struct xs_qthread *t = xs_quiesce_thread(i);
		if (t) {
			assert_true(t->pc != 0 && t->sp != 0);
			parked++;
		}
	}
	xs_quiesce_end();
	assert_int_equal(parked, want_threads);
}

static void test_parks_every_thread(void **state)
{
	(void)state;
	pthread_t t[6];
	init_once();
	atomic_store(&stop, 0);
	for (int i = 0; i < 6; i++)
		t[i] = start(spinner);
	for (int i = 0; i < 50; i++)
		window(6);
	atomic_store(&stop, 1);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
}

static atomic_int actions;
static __thread int ran_here;
static void count_action(void)
{
	ran_here++;
	atomic_fetch_add(&actions, 1);
}

static void test_per_thread_action_runs_once_per_thread(void **state)
{
	(void)state;
	pthread_t t[4];
	struct xs_qfail f;
	struct xs_err err = {0};
	const uintptr_t fns[] = {(uintptr_t)count_action};
	init_once();
	atomic_store(&stop, 0);
	for (int i = 0; i < 4; i++)
		t[i] = start(spinner);
	assert_int_equal(xs_quiesce_prepare(&err), 0);
	atomic_store(&actions, 0);
	assert_int_equal(xs_quiesce_begin(BOUND_MS, &f), 0);
	xs_quiesce_perthread(fns, 1);
	xs_quiesce_end();
	assert_int_equal(atomic_load(&actions), 5); /* 4 + this thread */
	assert_int_equal(ran_here, 1);
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
}

static void test_interrupted_poll_is_restarted(void **state)
{
	(void)state;
	init_once();
	assert_int_equal(pipe(pipefd), 0);
	atomic_store(&poller_tid, 0);
	pthread_t t = start(poller);
	uint64_t before = xs_quiesce_restarts();
	for (int i = 0; i < 5; i++) {
		/* each window finds it blocked in poll (released from the
		 * last one, it may not have gone back in yet on a busy
		 * machine): the poll it interrupts is restarted */
		struct xs_sysinfo si = {.nr = -1};
		while (!atomic_load(&poller_tid) || (si.nr != SYS_poll && si.nr != SYS_ppoll)) {
			usleep(1000);
			if (atomic_load(&poller_tid))
				xs_task_syscall((pid_t)atomic_load(&poller_tid), &si);
		}
		window(1);
	}
	assert_true(xs_quiesce_restarts() >= before + 5);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&poll_bad), 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

static atomic_int blocker_go;
static atomic_long blocker_tid;
static void *blocker(void *a)
{
	sigset_t s;
	(void)a;
	sigemptyset(&s);
	sigaddset(&s, SIG);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	atomic_store(&blocker_tid, syscall(SYS_gettid));
	while (!atomic_load(&blocker_go))
		usleep(1000);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	return NULL;
}

static void test_blocked_signal_times_out_and_is_named(void **state)
{
	(void)state;
	struct xs_qfail f;
	struct xs_err err = {0};
	char why[256];
	init_once();
	atomic_store(&blocker_go, 0);
	pthread_t t = start(blocker);
	while (!atomic_load(&blocker_tid))
		usleep(1000);
	assert_int_equal(xs_quiesce_prepare(&err), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(xs_quiesce_begin(20, &f), -EBUSY);
		assert_int_equal(f.why, XS_QWHY_TIMEOUT);
		assert_int_equal(f.tid, (pid_t)atomic_load(&blocker_tid));
	}
	xs_thread_describe(f.tid, SIG, f.in_handler, 20, why, sizeof(why));
	assert_non_null(strstr(why, "blocks signal"));
	/* once it unblocks, its pending signal is handled and it parks again */
	atomic_store(&blocker_go, 1);
	pthread_join(t, NULL);
	window(0);
}

static atomic_int hold_action;
static void holding_action(void)
{
	if (syscall(SYS_gettid) == getpid())
		return; /* the control thread itself */
	while (atomic_load(&hold_action))
		usleep(1000);
}

/*
 * A thread still in the agent's handler from an earlier window (here: a
 * per-thread action that takes long) has the signal blocked by the handler's
 * mask: it is late, and the diagnosis says so, not "blocks signal".
 */
static void test_a_thread_still_in_an_earlier_pause_is_late_not_blocking(void **state)
{
	(void)state;
	pthread_t t;
	struct xs_qfail f;
	struct xs_err err = {0};
	char why[256];
	const uintptr_t fns[] = {(uintptr_t)holding_action};
	init_once();
	atomic_store(&stop, 0);
	t = start(spinner);
	assert_int_equal(xs_quiesce_prepare(&err), 0);
	assert_int_equal(xs_quiesce_begin(BOUND_MS, &f), 0);
	atomic_store(&hold_action, 1);
	xs_quiesce_perthread(fns, 1); /* gives up waiting after a while */
	xs_quiesce_end();
	assert_int_equal(xs_quiesce_begin(20, &f), -EBUSY);
	assert_int_equal(f.why, XS_QWHY_TIMEOUT);
	assert_true(f.in_handler);
	xs_thread_describe(f.tid, SIG, f.in_handler, 20, why, sizeof(why));
	assert_null(strstr(why, "blocks signal"));
	assert_non_null(strstr(why, "is late"));
	atomic_store(&hold_action, 0);
	window(1); /* it comes back and parks again */
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
}

/* user code run by any thread but the test's own: must not move in a window */
static atomic_ulong ticks;

static void *short_lived(void *a)
{
	(void)a;
	atomic_fetch_add(&ticks, 1);
	return NULL;
}

static void *creator(void *a)
{
	(void)a;
	while (!atomic_load(&stop)) {
		pthread_t t;
		if (!pthread_create(&t, NULL, short_lived, NULL))
			pthread_join(t, NULL);
		atomic_fetch_add(&ticks, 1);
	}
	return NULL;
}

static void test_threads_coming_and_going(void **state)
{
	(void)state;
	struct xs_qfail f;
	struct xs_err err = {0};
	init_once();
	atomic_store(&stop, 0);
	pthread_t c[2] = {start(creator), start(creator)};
	for (int i = 0; i < 100; i++) {
		assert_int_equal(xs_quiesce_prepare(&err), 0);
		int rc;
		while ((rc = xs_quiesce_begin(BOUND_MS, &f)) == -EAGAIN && f.why == XS_QWHY_GROW)
			assert_int_equal(xs_quiesce_prepare(&err), 0);
		assert_int_equal(rc, 0);
		/* a thread started while the others parked was found and
		 * parked too: nothing runs */
		unsigned long before = atomic_load(&ticks);
		struct timespec ms = {0, 1000 * 1000};
		nanosleep(&ms, NULL);
		unsigned long after = atomic_load(&ticks);
		xs_quiesce_end();
		assert_int_equal(after, before);
	}
	atomic_store(&stop, 1);
	pthread_join(c[0], NULL);
	pthread_join(c[1], NULL);
}

static void *usleeper(void *a)
{
	(void)a;
	while (!atomic_load(&stop))
		usleep(10 * 1000);
	return NULL;
}

/*
 * 1000 threads that sleep and wake: each signal wakes one, which takes the
 * CPU of the control thread that signals them one by one.  Threads that
 * enter the handler signal the next ones, so the rendezvous goes on
 * whoever has the CPU.  (At 1000 wake-ups a millisecond the process alone
 * oversubscribes two CPUs; bench/windows.py measures that case.)
 */
static void test_a_thousand_sleeping_threads_are_paused(void **state)
{
	(void)state;
	enum { N = 1000 };
	static pthread_t t[N];
	pthread_attr_t a;
	init_once();
	atomic_store(&stop, 0);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&t[i], &a, usleeper, NULL), 0);
	pthread_attr_destroy(&a);
	for (int i = 0; i < 3; i++)
		window(N);
	atomic_store(&stop, 1);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
}

static int in_busy_fn(const void *ctx, uintptr_t pc)
{
	(void)ctx;
	/* the entry itself is fine: the code there would be the new one */
	return pc > (uintptr_t)busy_fn && pc < (uintptr_t)busy_fn_end;
}

static void test_threads_leave_code_about_to_change(void **state)
{
	(void)state;
	pthread_t t[4];
	struct xs_qfail f;
	struct xs_err err = {0};
	init_once();
	atomic_store(&stop, 0);
	for (int i = 0; i < 4; i++)
		t[i] = start(spinner);
	xs_quiesce_set_avoid(in_busy_fn, NULL);
	for (int n = 0; n < 50; n++) {
		assert_int_equal(xs_quiesce_prepare(&err), 0);
		assert_int_equal(xs_quiesce_begin(BOUND_MS, &f), 0);
		for (unsigned i = 0; i < xs_quiesce_nthreads(); i++) {
			const struct xs_qthread *q = xs_quiesce_thread(i);
			assert_non_null(q);
			assert_false(in_busy_fn(NULL, q->pc));
		}
		xs_quiesce_end();
	}
	xs_quiesce_set_avoid(NULL, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
}

/*
 * Functions with known bounds for the decline tests:
 *   slow_fn(n)   spins n iterations inside itself, then returns
 *   stuck_fn()   spins inside itself until `unstick` is set
 */
long slow_fn(long n);
void stuck_fn(void);
extern const char slow_fn_end[], stuck_fn_end[];
atomic_int unstick;
__asm__(".text\n"
        ".globl slow_fn\n"
        ".type slow_fn,@function\n"
        "slow_fn:\n"
        "	mov %rdi, %rax\n"
        "1:	dec %rax\n"
        "	jnz 1b\n"
        "	ret\n"
        ".globl slow_fn_end\n"
        "slow_fn_end:\n"
        ".size slow_fn, .-slow_fn\n"
        ".globl stuck_fn\n"
        ".type stuck_fn,@function\n"
        "stuck_fn:\n"
        "	pause\n"
        "	cmpl $0, unstick(%rip)\n"
        "	je stuck_fn\n"
        "	ret\n"
        ".globl stuck_fn_end\n"
        "stuck_fn_end:\n"
        ".size stuck_fn, .-stuck_fn\n");

static long slow_fn_outside(long n)
{
	volatile long x = n;
	while (x > 0)
		x--;
	return x;
}

static int in_slow_fn(const void *ctx, uintptr_t pc)
{
	(void)ctx;
	return pc > (uintptr_t)slow_fn && pc < (uintptr_t)slow_fn_end;
}

static int in_stuck_fn(const void *ctx, uintptr_t pc)
{
	(void)ctx;
	return pc >= (uintptr_t)stuck_fn && pc < (uintptr_t)stuck_fn_end;
}

/* Long stays in the range (a million iterations), short ones outside. */
static void *slow_caller(void *a)
{
	(void)a;
	while (!atomic_load(&stop)) {
		slow_fn(1000000);
		slow_fn_outside(1000);
	}
	return NULL;
}

/* A thread signalled in the middle of slow_fn must run out of it before it
 * parks, however the kernel delivers the re-sent signal. */
static void test_a_declining_thread_parks_only_once_out_of_the_range(void **state)
{
	(void)state;
	pthread_t t[2];
	struct xs_qfail f;
	struct xs_err err = {0};
	init_once();
	atomic_store(&stop, 0);
	for (int i = 0; i < 2; i++)
		t[i] = start(slow_caller);
	xs_quiesce_set_avoid(in_slow_fn, NULL);
	for (int n = 0; n < 30; n++) {
		assert_int_equal(xs_quiesce_prepare(&err), 0);
		assert_int_equal(xs_quiesce_begin(60000, &f), 0);
		for (unsigned i = 0; i < xs_quiesce_nthreads(); i++) {
			const struct xs_qthread *q = xs_quiesce_thread(i);
			assert_non_null(q);
			assert_false(in_slow_fn(NULL, q->pc));
		}
		xs_quiesce_end();
	}
	xs_quiesce_set_avoid(NULL, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

static atomic_int in_slow;
static void *slow_then_read(void *a)
{
	char c;
	(void)a;
	atomic_store(&in_slow, 1);
	slow_fn(20 * 1000 * 1000);
	/* out of the range, blocked: it must be signalled again and park */
	if (read(pipefd[0], &c, 1) != 1)
		atomic_fetch_add(&poll_bad, 1);
	return NULL;
}

static void test_a_thread_that_blocks_after_declining_parks(void **state)
{
	(void)state;
	struct xs_qfail f;
	struct xs_err err = {0};
	init_once();
	assert_int_equal(pipe(pipefd), 0);
	atomic_store(&in_slow, 0);
	pthread_t t = start(slow_then_read);
	while (!atomic_load(&in_slow))
		usleep(100);
	xs_quiesce_set_avoid(in_slow_fn, NULL);
	assert_int_equal(xs_quiesce_prepare(&err), 0);
	assert_int_equal(xs_quiesce_begin(60000, &f), 0);
	const struct xs_qthread *q = xs_quiesce_thread(0);
	assert_non_null(q);
	assert_false(in_slow_fn(NULL, q->pc));
	xs_quiesce_end();
	xs_quiesce_set_avoid(NULL, NULL);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&poll_bad), 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

static atomic_long stuck_tid;
static void *stuck_caller(void *a)
{
	(void)a;
	atomic_store(&stuck_tid, syscall(SYS_gettid));
	stuck_fn();
	return NULL;
}

static uint64_t thread_cpu(pthread_t t)
{
	clockid_t c;
	struct timespec ts;
	assert_int_equal(pthread_getcpuclockid(t, &c), 0);
	assert_int_equal(clock_gettime(c, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A thread that never leaves the range fails the attempt, named with its
 * PC: it is not parked inside the code about to change. */
static void test_a_thread_that_stays_in_the_range_fails_the_attempt(void **state)
{
	(void)state;
	struct xs_qfail f;
	struct xs_err err = {0};
	init_once();
	atomic_store(&unstick, 0);
	atomic_store(&stuck_tid, 0);
	pthread_t t = start(stuck_caller);
	while (!atomic_load(&stuck_tid))
		usleep(100);
	xs_quiesce_set_avoid(in_stuck_fn, NULL);
	assert_int_equal(xs_quiesce_prepare(&err), 0);
	/* Never parked inside.  An attempt in which the thread ran 10 ms of
	 * its own time names it as in the range, whenever the deadline falls
	 * (it is signalled at once, so nearly all of that time came after its
	 * first decline); one in which it hardly ran (a loaded machine) may
	 * call it late instead.  Five attempts of the first kind are asked
	 * for: the deadline once fell, half the time, just after one of its
	 * repeated declines, and the thread was called late. */
	int in_range = 0;
	for (int i = 0; i < 1000 && in_range < 5; i++) {
		uint64_t c0 = thread_cpu(t);
		assert_int_equal(xs_quiesce_begin(100, &f), -EBUSY);
		uint64_t ran = thread_cpu(t) - c0;
		assert_int_equal(f.tid, (pid_t)atomic_load(&stuck_tid));
		if (ran >= 10000000u) {
			assert_int_equal(f.why, XS_QWHY_INRANGE);
			in_range++;
		}
		if (f.why == XS_QWHY_INRANGE)
			assert_true(in_stuck_fn(NULL, f.pc));
		else
			assert_int_equal(f.why, XS_QWHY_TIMEOUT);
	}
	assert_int_equal(in_range, 5);
	xs_quiesce_set_avoid(NULL, NULL);
	atomic_store(&unstick, 1);
	pthread_join(t, NULL);
	window(0);
}

static void program_handler(int sig)
{
	(void)sig;
}

static void test_replaced_handler_is_reported(void **state)
{
	(void)state;
	struct xs_err err = {0};
	struct sigaction sa, old;
	init_once();
	assert_int_equal(xs_quiesce_check_handler(&err), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIG, &sa, &old);
	assert_int_equal(xs_quiesce_check_handler(&err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "XSPLICE_SIGNAL"));
	sigaction(SIG, &old, NULL);
	assert_int_equal(xs_quiesce_check_handler(&err), 0);
	/* init refuses a signal the program already handles, and non-RT ones */
	sa.sa_handler = program_handler;
	sigaction(SIGRTMIN + 10, &sa, NULL);
	assert_int_equal(xs_quiesce_init(SIGRTMIN + 10, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "XSPLICE_SIGNAL"));
	assert_int_equal(xs_quiesce_init(SIGUSR1, &err), -EINVAL);
}

/* The window reads /proc/self/stat through a descriptor opened before it
 * (no path lookup inside); a program that closes that number and opens a
 * file of its own under it must not have its file read as ours. */
static void test_a_held_proc_file_whose_number_was_reused_is_not_read(void **state)
{
	(void)state;
	struct xs_held h = {0};
	char buf[1024];
	xs_held_open(&h, "/proc/self/stat");
	assert_true(h.open);
	long n = xs_held_read(&h, "/proc/self/stat", buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = 0;
	assert_int_equal(atol(buf), getpid());
	unsigned threads = xs_proc_nthreads(NULL);
	assert_true(threads >= 1);
	assert_int_equal(xs_proc_nthreads(&h), threads);

	/* the number now names the program's file, which looks like a stat */
	char path[] = "/tmp/xs-held-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	const char *fake = "999999 (impostor) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 4242 0 1\n";
	assert_int_equal(write(fd, fake, strlen(fake)), (long)strlen(fake));
	assert_int_equal(dup2(fd, h.fd), h.fd);
	close(fd);
	n = xs_held_read(&h, "/proc/self/stat", buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = 0;
	assert_int_equal(atol(buf), getpid());
	assert_int_equal(xs_proc_nthreads(&h), threads);
	xs_held_close(&h);
	assert_false(h.open);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parks_every_thread),
	    cmocka_unit_test(test_per_thread_action_runs_once_per_thread),
	    cmocka_unit_test(test_interrupted_poll_is_restarted),
	    cmocka_unit_test(test_blocked_signal_times_out_and_is_named),
	    cmocka_unit_test(test_threads_coming_and_going),
	    cmocka_unit_test(test_a_thousand_sleeping_threads_are_paused),
	    cmocka_unit_test(test_a_thread_still_in_an_earlier_pause_is_late_not_blocking),
	    cmocka_unit_test(test_threads_leave_code_about_to_change),
	    cmocka_unit_test(test_a_declining_thread_parks_only_once_out_of_the_range),
	    cmocka_unit_test(test_a_thread_that_blocks_after_declining_parks),
	    cmocka_unit_test(test_a_thread_that_stays_in_the_range_fails_the_attempt),
	    cmocka_unit_test(test_replaced_handler_is_reported),
	    cmocka_unit_test(test_a_held_proc_file_whose_number_was_reused_is_not_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
