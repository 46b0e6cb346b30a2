/*
 * The target of tests/e2e/test_unwind.py: threads whose stacks the precise
 * stack check must read right - stale return addresses into the function
 * being replaced that are NOT live frames (apply must succeed), and live
 * frames of it, also behind a signal frame (apply must fail as busy).
 * One request line in, one reply line out (stdin/stdout).
 *
 *   call N      -> old_fn(N): N + 1 (payload p_old: N + 1000; its old_fn
 *                  calls mark and hold_here as this one does)
 *   stale MODE  -> a thread "idler" calls old_fn deep in a call chain, returns,
 *                  then parks where a large uninitialised buffer of its frame
 *                  still holds the return address into old_fn that the chain
 *                  left: MODE read (blocked in read), sig (in its own SIGUSR2
 *                  handler), altsig (the same on a sigaltstack).  Reply
 *                  "stale N": N copies of that return address in the buffer.
 *   in MODE     -> a thread "inside" is in old_fn: sleep (sleeps in poll
 *                  called by old_fn), loop (spins in old_fn), callee (blocked
 *                  in read in a function old_fn called), nocfi (the same in
 *                  an assembly function without CFI), sig / altsig (in its
 *                  own SIGUSR2 handler, raised by a function old_fn called),
 *                  userstack (sleep, on a stack the program gave
 *                  pthread_create), ownstack (blocked in read in a function
 *                  old_fn called, on a stack of the thread's own making
 *                  (swapcontext) that spans two mappings: old_fn's frame in
 *                  the upper one, the thread's SP in the lower one).
 *                  Reply "in".
 *   release     -> every such thread returns and exits: "released"
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noipa))
#define PATCHABLE __attribute__((noinline, noipa, used))

enum { M_PLAIN, M_SLEEP, M_LOOP, M_CALLEE, M_SIG, M_MARK, M_NOCFI, M_USERSTACK, M_OWNSTACK };

static atomic_int hold = 1, parked;
static int wake_pipe[2];
int wake_rd;                /* wake_pipe[0], for nocfi_block */
static uintptr_t ra_in_old; /* a return address into old_fn */
static sem_t ready;

static void park_in_handler(int sig)
{
	(void)sig;
	atomic_store(&parked, 1);
	while (atomic_load(&hold))
		poll(NULL, 0, 5);
}

/* called by old_fn: they leave their return address into old_fn (mark is
 * also called by the payload's old_fn) */
PATCHABLE long mark(void)
{
	ra_in_old = (uintptr_t)__builtin_return_address(0);
	return 0;
}

/* what the payload's old_fn calls to sleep (a return address into it) */
PATCHABLE long hold_here(void)
{
	atomic_store(&parked, 1);
	while (atomic_load(&hold))
		poll(NULL, 0, 5);
	return 0;
}

NOINLINE static long block_in_read(void)
{
	char c;
	atomic_store(&parked, 1);
	return read(wake_pipe[0], &c, 1);
}

NOINLINE static long raise_own_signal(void)
{
	pthread_kill(pthread_self(), SIGUSR2);
	return 0;
}

/* read(wake_rd, buf, 1) with a frame of its own and no CFI at all: the
 * unwinder is lost here and the conservative scan must take over */
long nocfi_block(void);
__asm__(".text\n"
        ".globl nocfi_block\n"
        ".type nocfi_block, @function\n"
        "nocfi_block:\n"
        "	push %rbx\n"
        "	sub $16, %rsp\n"
        "	movl wake_rd(%rip), %edi\n"
        "	mov %rsp, %rsi\n"
        "	mov $1, %edx\n"
        "	xor %eax, %eax\n"
        "	syscall\n"
        "	add $16, %rsp\n"
        "	pop %rbx\n"
        "	ret\n"
        ".size nocfi_block, .-nocfi_block\n");

/* Called by old_fn on the two-mapping stack: its frame reaches down into
 * the lower mapping, where the thread then blocks. */
#define OWN_HALF (64 * 1024)
NOINLINE static long below_the_boundary(void)
{
	volatile char big[OWN_HALF + 8192];
	big[0] = big[sizeof(big) - 1] = 1;
	return block_in_read() + big[0];
}

PATCHABLE long old_fn(long x, int mode)
{
	switch (mode) {
	case M_SLEEP:
		atomic_store(&parked, 1);
		while (atomic_load(&hold))
			poll(NULL, 0, 5);
		return x;
	case M_LOOP:
		atomic_store(&parked, 1);
		while (atomic_load(&hold))
			;
		return x;
	case M_CALLEE:
		return block_in_read() + x;
	case M_SIG:
		return raise_own_signal() + x;
	case M_MARK:
		return mark() + x;
	case M_NOCFI:
		atomic_store(&parked, 1);
		return nocfi_block() + x;
	case M_OWNSTACK:
		return below_the_boundary() + x;
	default:
		return x + 1;
	}
}

/* ---- stale return addresses -------------------------------------------------- */

/* A call chain that reaches old_fn well below the caller's frame. */
NOINLINE static long deep(int n)
{
	volatile char pad[200];
	pad[0] = (char)n;
	if (n == 0)
		return old_fn(0, M_MARK);
	return deep(n - 1) + pad[0];
}

NOINLINE static unsigned count_word(char *p, size_t n, uintptr_t w)
{
	unsigned c = 0;
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uintptr_t v;
		memcpy(&v, p + i, 8);
		c += v == w;
	}
	return c;
}

static unsigned stale_found;

/* The frame of this function covers where deep() ran: its buffer is left
 * uninitialised, so the old return address into old_fn stays in it. */
NOINLINE static void park_over_stale(int mode)
{
	char buf[16384];
	stale_found = count_word(buf, sizeof(buf), ra_in_old);
	sem_post(&ready);
	if (mode == M_SIG) {
		raise_own_signal();
	} else {
		atomic_store(&parked, 1);
		if (read(wake_pipe[0], buf, 1) < 0)
			perror("read");
	}
	__asm__ volatile("" : : "r"(buf) : "memory");
}

static void *idler_main(void *arg)
{
	int mode = (int)(intptr_t)arg;
	pthread_setname_np(pthread_self(), "idler");
	deep(20);
	park_over_stale(mode);
	return NULL;
}

static ucontext_t own_back, own_ctx;

static void own_entry(void)
{
	old_fn(1, M_OWNSTACK);
}

/* A stack of two read-write mappings that touch: MADV_DONTFORK on the
 * upper half keeps the kernel from merging them into one. */
static void run_on_own_stack(void)
{
	char *st =
	    mmap(NULL, 2 * OWN_HALF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED || madvise(st + OWN_HALF, OWN_HALF, MADV_DONTFORK) ||
	    getcontext(&own_ctx)) {
		perror("own stack");
		exit(1);
	}
	own_ctx.uc_stack.ss_sp = st;
	own_ctx.uc_stack.ss_size = 2 * OWN_HALF;
	own_ctx.uc_link = &own_back;
	makecontext(&own_ctx, own_entry, 0);
	swapcontext(&own_back, &own_ctx);
	munmap(st, 2 * OWN_HALF);
}

static void *inside_main(void *arg)
{
	int mode = (int)(intptr_t)arg;
	pthread_setname_np(pthread_self(), "inside");
	sem_post(&ready);
	if (mode == M_OWNSTACK)
		run_on_own_stack();
	else
		old_fn(1, mode == M_USERSTACK ? M_SLEEP : mode);
	return NULL;
}

/* ---- threads ------------------------------------------------------------------- */

static pthread_t threads[8];
static unsigned nthreads, nreaders;
static void *altstack;

static void install_handler(int on_altstack)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = park_in_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = on_altstack ? SA_ONSTACK : 0;
	sigaction(SIGUSR2, &sa, NULL);
}

/* sigaltstack is per thread: threads that use one set it up themselves. */
static void *with_altstack(void *(*fn)(void *), void *arg)
{
	stack_t ss = {.ss_sp = altstack, .ss_size = 1 << 16};
	sigaltstack(&ss, NULL);
	return fn(arg);
}

static void *idler_alt(void *arg)
{
	return with_altstack(idler_main, arg);
}

static void *inside_alt(void *arg)
{
	return with_altstack(inside_main, arg);
}

static int mode_of(const char *s, int *alt)
{
	*alt = !strcmp(s, "altsig");
	if (*alt || !strcmp(s, "sig"))
		return M_SIG;
	if (!strcmp(s, "sleep"))
		return M_SLEEP;
	if (!strcmp(s, "loop"))
		return M_LOOP;
	if (!strcmp(s, "callee"))
		return M_CALLEE;
	if (!strcmp(s, "nocfi"))
		return M_NOCFI;
	if (!strcmp(s, "userstack"))
		return M_USERSTACK;
	if (!strcmp(s, "ownstack"))
		return M_OWNSTACK;
	return M_PLAIN; /* "read" */
}

static void start(void *(*fn)(void *), void *(*alt_fn)(void *), const char *m)
{
	int alt, mode = mode_of(m, &alt);
	atomic_store(&hold, 1);
	atomic_store(&parked, 0);
	install_handler(alt);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	if (mode == M_USERSTACK) { /* never freed: the thread may outlive a release */
		size_t size = 256 * 1024;
		void *st =
		    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (st == MAP_FAILED || pthread_attr_setstack(&attr, st, size)) {
			perror("user stack");
			exit(1);
		}
	}
	pthread_create(&threads[nthreads++], &attr, alt ? alt_fn : fn, (void *)(intptr_t)mode);
	pthread_attr_destroy(&attr);
	sem_wait(&ready);
	nreaders += mode == M_CALLEE || mode == M_PLAIN || mode == M_NOCFI || mode == M_OWNSTACK;
	/* the reply goes out once the thread is (about to be) where it stays */
	while (!atomic_load(&parked))
		poll(NULL, 0, 1);
}

static void release(void)
{
	atomic_store(&hold, 0);
	for (; nreaders; nreaders--)
		if (write(wake_pipe[1], "x", 1) < 0)
			perror("write");
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
}

int main(void)
{
	char line[256];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(wake_pipe) || sem_init(&ready, 0, 0) || !(altstack = malloc(1 << 16)))
		return 1;
	wake_rd = wake_pipe[0];
	while (fgets(line, sizeof(line), stdin)) {
		char arg[32] = "";
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "call ", 5)) {
			printf("%ld\n", old_fn(atol(line + 5), M_PLAIN));
		} else if (sscanf(line, "stale %31s", arg) == 1) {
			start(idler_main, idler_alt, arg);
			printf("stale %u\n", stale_found);
		} else if (sscanf(line, "in %31s", arg) == 1) {
			start(inside_main, inside_alt, arg);
			printf("in\n");
		} else if (!strcmp(line, "release")) {
			release();
			printf("released\n");
		} else {
			printf("?\n");
		}
	}
	return 0;
}
