/*
 * A target for test_review.py: one thread parked in a call whose return
 * address lies inside the 5 bytes an inline patch overwrites.
 *
 *   waiter_loop:   53          push %rbx
 *                  48 89 fb    mov  %rdi, %rbx
 *   +4 (site)      ff d3       call *%rbx       <- returns to site + 2
 *                  90 90 90    nop; nop; nop
 *   +9             85 c0       test %eax, %eax
 *                  75 f5       jnz  site
 *                  5b c3       pop %rbx; ret
 *
 * Requests (one line each, one reply line): "start" starts the thread,
 * which waits in wait_once() (a read from a pipe); "stop" lets it leave the
 * loop and joins it; "ping" answers "pong".
 *
 * And a thread paused between two instructions of a NOP patch:
 *
 *   nop_spot:      48 b8 f4 f4 f4 f4 f4 f4 f4 f4   movabs $0xf4..f4, %rax
 *   +10            c3                              ret
 *
 * A 10-byte NOP patch there is a 9-byte and a 1-byte NOP.  "nopstep" starts
 * a thread that single-steps (EFLAGS.TF) through nop_spot; at +9 - a NOP
 * boundary, but the middle of the original movabs - its SIGTRAP handler
 * waits until "nopgo".  Replies: "parked" (it waits at +9) or "passed" (it
 * never stopped there: the original code ran).
 */
#define _GNU_SOURCE /* REG_RIP */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

extern void waiter_loop(int (*fn)(void));
__asm__(".text\n"
	".globl waiter_loop\n"
	".type waiter_loop, @function\n"
	"waiter_loop:\n"
	"	.cfi_startproc\n"
	"	push %rbx\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbx, -16\n"
	"	mov %rdi, %rbx\n"
	"1:	call *%rbx\n"
	"	nop\n"
	"	nop\n"
	"	nop\n"
	"	test %eax, %eax\n"
	"	jnz 1b\n"
	"	pop %rbx\n"
	"	.cfi_def_cfa_offset 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size waiter_loop, .-waiter_loop\n");

static int pipefd[2];

extern void nop_spot(void);
__asm__(".text\n"
	".globl nop_spot\n"
	".type nop_spot, @function\n"
	"nop_spot:\n"
	"	.cfi_startproc\n"
	"	movabs $0xf4f4f4f4f4f4f4f4, %rax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size nop_spot, .-nop_spot\n");

#define TF 0x100L
static int steppipe[2];
static int step_state; /* 0 running, 1 parked at +9, 2 finished */
static long steps;

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uintptr_t lo = (uintptr_t)nop_spot;

	(void)sig, (void)si;
	if (pc == lo + 9) {
		char c;

		__atomic_store_n(&step_state, 1, __ATOMIC_SEQ_CST);
		while (read(steppipe[0], &c, 1) < 0 && errno == EINTR)
			;
	}
	if (pc == lo + 9 || pc == lo + 10 || ++steps > 100000)
		uc->uc_mcontext.gregs[REG_EFL] &= ~TF;
}

static void *step_main(void *arg)
{
	(void)arg;
	__asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq" ::: "memory", "cc");
	nop_spot();
	__asm__ volatile("pushfq; andq $~0x100, (%%rsp); popfq" ::: "memory", "cc");
	if (__atomic_load_n(&step_state, __ATOMIC_SEQ_CST) == 0)
		__atomic_store_n(&step_state, 2, __ATOMIC_SEQ_CST);
	return NULL;
}

static const char *nopstep(pthread_t *th)
{
	struct sigaction sa = {.sa_sigaction = on_trap, .sa_flags = SA_SIGINFO | SA_RESTART};
	int st;

	if (sigaction(SIGTRAP, &sa, NULL) || (!steppipe[0] && pipe(steppipe)))
		return "error";
	steps = 0;
	__atomic_store_n(&step_state, 0, __ATOMIC_SEQ_CST);
	if (pthread_create(th, NULL, step_main, NULL))
		return "error";
	while (!(st = __atomic_load_n(&step_state, __ATOMIC_SEQ_CST)))
		usleep(1000);
	if (st == 2) {
		pthread_join(*th, NULL);
		return "passed";
	}
	return "parked";
}

/* 1: loop again, 0: leave */
static int wait_once(void)
{
	char c = 'q';

	if (read(pipefd[0], &c, 1) != 1)
		return 0;
	return c != 'q';
}

static void *waiter_main(void *arg)
{
	(void)arg;
	waiter_loop(wait_once);
	return NULL;
}

int main(void)
{
	char line[256];
	pthread_t th, st;
	int running = 0;

	if (pipe(pipefd))
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "start") && !running) {
			running = !pthread_create(&th, NULL, waiter_main, NULL);
			printf("%s\n", running ? "started" : "error");
		} else if (!strcmp(line, "stop") && running) {
			if (write(pipefd[1], "q", 1) != 1)
				return 1;
			pthread_join(th, NULL);
			running = 0;
			printf("stopped\n");
		} else if (!strcmp(line, "nopstep")) {
			printf("%s\n", nopstep(&st));
		} else if (!strcmp(line, "nopgo")) {
			if (write(steppipe[1], "g", 1) != 1)
				return 1;
			pthread_join(st, NULL);
			printf("done\n");
		} else if (!strcmp(line, "ping")) {
			printf("pong\n");
		} else {
			printf("error\n");
		}
	}
	return 0;
}
