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
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
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
	pthread_t th;
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
		} else if (!strcmp(line, "ping")) {
			printf("pong\n");
		} else {
			printf("error\n");
		}
	}
	return 0;
}
