/*
 * The target of the robustness tests (tests/e2e/test_robustness.py): a C++
 * program that exercises every path through which libgcc's unwinder reads
 * the .eh_frame of each registered object, including an uploaded payload's:
 *
 *   ping      -> "pong"
 *   calc N    -> "calc R" (R = compute(N), a function the payloads replace)
 *   label     -> "label L" (L = label(), replaced by the probe payload)
 *   throw N   -> N is thrown three frames down and caught here: "caught N"
 *   bt        -> backtrace() from two frames down; "bt ok D" when the
 *                return address into main() is among the D frames it found
 *   cancel    -> a thread blocked in read() is cancelled and joined, the
 *                forced unwind running a destructor: "cancelled 1 cleanup 1"
 */
#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>

#define PATCHABLE __attribute__((noinline, noipa, used))

extern "C" {
PATCHABLE long compute(long n)
{
	return n * 2;
}

PATCHABLE long scale(long n)
{
	return n + 1;
}

PATCHABLE const char *label(void)
{
	return "plain";
}

/* for the payloads' per-load counters */
std::atomic<int> loads;
}

struct Thrown {
	long n;
};

static __attribute__((noinline)) void throw3(long n)
{
	throw Thrown{n};
}

static __attribute__((noinline)) void throw2(long n)
{
	throw3(n);
	asm volatile("" ::: "memory"); /* keep the frame */
}

static __attribute__((noinline)) void throw1(long n)
{
	throw2(n);
	asm volatile("" ::: "memory");
}

static __attribute__((noinline)) int bt_inner(void *want)
{
	void *pcs[64];
	int n = backtrace(pcs, 64);
	int found = 0;
	for (int i = 0; i < n; i++)
		found |= pcs[i] == want;
	asm volatile("" ::: "memory");
	return found ? n : -n;
}

static __attribute__((noinline)) int bt_outer(void)
{
	int r = bt_inner(__builtin_return_address(0));
	asm volatile("" ::: "memory");
	return r;
}

static int cancel_pipe[2];
static std::atomic<int> cleanup_ran, blocked;

static void *waiter_main(void *)
{
	struct Cleanup {
		~Cleanup()
		{
			cleanup_ran = 1;
		}
	} c;
	char ch;
	blocked = 1;
	if (read(cancel_pipe[0], &ch, 1) < 0)
		return nullptr;
	return nullptr;
}

static void cancel_test(void)
{
	pthread_t t;
	cleanup_ran = 0;
	blocked = 0;
	if (pthread_create(&t, nullptr, waiter_main, nullptr)) {
		printf("pthread_create failed\n");
		return;
	}
	while (!blocked)
		usleep(1000);
	/* read() may not be entered yet: cancellation is deferred, so the
	 * thread is cancelled in read() or at its entry either way */
	pthread_cancel(t);
	void *ret = nullptr;
	pthread_join(t, &ret);
	printf("cancelled %d cleanup %d\n", ret == PTHREAD_CANCELED ? 1 : 0, cleanup_ran.load());
}

int main()
{
	char line[256];
	long n;
	setvbuf(stdout, nullptr, _IOLBF, 0);
	if (pipe(cancel_pipe))
		return 1;
	while (fgets(line, sizeof(line), stdin)) {
		if (!strcmp(line, "ping\n")) {
			printf("pong\n");
		} else if (sscanf(line, "calc %ld", &n) == 1) {
			printf("calc %ld\n", compute(n));
		} else if (!strcmp(line, "label\n")) {
			printf("label %s\n", label());
		} else if (sscanf(line, "throw %ld", &n) == 1) {
			try {
				throw1(n);
				printf("not thrown\n");
			} catch (const Thrown &t) {
				printf("caught %ld\n", t.n);
			}
		} else if (!strcmp(line, "bt\n")) {
			int d = bt_outer();
			printf(d > 0 ? "bt ok %d\n" : "bt lost %d\n", d > 0 ? d : -d);
		} else if (!strcmp(line, "cancel\n")) {
			cancel_test();
		} else {
			printf("?\n");
		}
	}
	return 0;
}
