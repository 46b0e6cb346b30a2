/*
 * A C++ target for the engine tests: exceptions and thread cancellation
 * must still unwind through a function once it is patched (the payload's
 * code has its own .eh_frame, which the agent registers).
 *
 *   throw N   -> checked(N) inside try/catch: "ok R" or "caught WHAT"
 *   cancel    -> a thread runs waiter() (blocked in read()), is cancelled
 *                and joined: "cancelled C cleanup K innew I"
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>

#define PATCHABLE __attribute__((noinline, noipa, used))

extern "C" {
std::atomic<int> in_new; /* set by the payload's waiter */
int waiter_pipe[2];

/* throws for negative n */
PATCHABLE int thrower(int n)
{
	if (n < 0)
		throw std::runtime_error("negative " + std::to_string(n));
	return n;
}

PATCHABLE int checked(int n)
{
	return thrower(n) * 2;
}

PATCHABLE int waiter(void)
{
	char c;
	return (int)read(waiter_pipe[0], &c, 1);
}
}

static std::atomic<int> cleanup_ran;

static void *waiter_main(void *)
{
	struct Cleanup {
		~Cleanup() { cleanup_ran = 1; }
	} c;
	waiter();
	return nullptr;
}

static void cancel_test(void)
{
	pthread_t t;
	cleanup_ran = 0;
	in_new = 0;
	pthread_create(&t, nullptr, waiter_main, nullptr);
	/* let it block in read(), inside waiter() or its replacement */
	for (int i = 0; i < 200 && !in_new; i++)
		usleep(1000);
	usleep(20000);
	pthread_cancel(t);
	void *ret = nullptr;
	pthread_join(t, &ret);
	printf("cancelled %d cleanup %d innew %d\n", ret == PTHREAD_CANCELED ? 1 : 0,
	       cleanup_ran.load(), in_new.load());
}

int main()
{
	char line[256];
	setvbuf(stdout, nullptr, _IOLBF, 0);
	if (pipe(waiter_pipe))
		return 1;
	while (fgets(line, sizeof(line), stdin)) {
		int n = 0;
		if (sscanf(line, "throw %d", &n) == 1) {
			try {
				printf("ok %d\n", checked(n));
			} catch (const std::exception &e) {
				printf("caught %s\n", e.what());
			}
		} else if (!strcmp(line, "cancel\n")) {
			cancel_test();
		} else {
			printf("?\n");
		}
	}
	return 0;
}
