/*
 * The target of the engine tests (tests/e2e/test_engine*.py): functions to
 * patch, and threads that sit wherever a real program's threads sit -
 * inside a function being replaced, in blocking syscalls, with signals
 * blocked, in a tight loop, in a leaf function using the red zone - driven
 * one request line per reply line on stdin/stdout.
 *
 *   work N         -> work(N)                 (N + 1; payloads: N + 1000)
 *   hold / release -> a thread "holder" stays inside hold_fn() until released
 *   holdfn         -> hold_fn() once, not held (1; payload: 2)
 *   blocker / unblock -> a thread "blocker" with every signal blocked
 *   spin N / spinstat / spinstop -> N threads calling work(i) in a tight loop,
 *                     counting calls and results that are neither old nor new
 *   spawn / spawnstop -> a thread creating short-lived threads that call work()
 *   sys / syswake  -> threads blocked in read, poll, nanosleep, futex, select,
 *                     epoll_wait; counts every EINTR or wrong result
 *   redzone / redstop -> a leaf function checking its red zone in a loop
 *   fork           -> fork; the child answers from now on ("child PID") while
 *                     the parent waits; "exit" in the child ends it and the
 *                     parent answers again ("parent")
 *   exec           -> the child of a fork execs this program ("exec PID"),
 *                     then it behaves like "fork"
 *   sigall         -> install a handler for every signal ("sigall N")
 *   mdwe           -> prctl(PR_SET_MDWE): memory may never be W+X or gain X
 *   cbhold / cbrelease -> a thread "cbthread" calls through the function
 *                     pointer `callback` (a payload's load hook may point it
 *                     into the payload) and stays there until released
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#define PATCHABLE __attribute__((noinline, noipa, used))

static char *self_path;

/* two builds of this file differ here (and so in their build-ids) */
#ifdef OTHER_BUILD
__attribute__((used)) const char build_flavour[] = "other build";
#else
__attribute__((used)) const char build_flavour[] = "main build";
#endif

/* ---- functions to patch --------------------------------------------------- */

PATCHABLE long work(long x)
{
	return x + 1;
}

static atomic_int hold_flag, hold_inside;

PATCHABLE int hold_fn(void)
{
	atomic_store(&hold_inside, 1);
	while (atomic_load(&hold_flag))
		poll(NULL, 0, 5);
	return 1;
}

static atomic_int cb_hold;
extern atomic_int cb_entered;
int cb_default(void)
{
	atomic_store(&cb_entered, 1);
	return 0;
}
/* a payload's load hook may point this into the payload */
int (*volatile callback)(void) = cb_default;
/* what a payload's callback polls, and sets once it runs */
atomic_int *cb_hold_flag = &cb_hold;
atomic_int cb_entered;

/* ---- threads -------------------------------------------------------------- */

static void *holder_main(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "holder");
	hold_fn();
	return NULL;
}

static atomic_int unblock_flag, blocker_ready;
static void *blocker_main(void *a)
{
	sigset_t all;
	(void)a;
	pthread_setname_np(pthread_self(), "blocker");
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	atomic_store(&blocker_ready, 1);
	while (!atomic_load(&unblock_flag))
		poll(NULL, 0, 5);
	return NULL;
}

/* a thread's start routine that runs as long as the thread (test_exit_status) */
static atomic_int outer_stop, outer_ready;
void *outer_main(void *a);
void *outer_main(void *a)
{
	pthread_setname_np(pthread_self(), "outer");
	atomic_store(&outer_ready, 1);
	while (!atomic_load(&outer_stop))
		poll(NULL, 0, 5);
	return a;
}

static atomic_int spin_stop;
static atomic_long spin_calls, spin_bad;
static void *spin_main(void *a)
{
	long i = (long)(intptr_t)a, calls = 0, bad = 0;
	/* normal priority: a SCHED_IDLE thread on a loaded machine is not
	 * given a CPU for seconds, so it neither pauses in time nor dies
	 * promptly when killed (the tests flaked on that, not on the agent) */
	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed)) {
		long r = work(i);
		if (r != i + 1 && r != i + 1000)
			bad++;
		if (++calls % 1024 == 0) {
			atomic_fetch_add(&spin_calls, 1024);
			atomic_fetch_add(&spin_bad, bad);
			bad = 0;
		}
	}
	atomic_fetch_add(&spin_bad, bad);
	return NULL;
}

static atomic_int spawn_stop;
static atomic_long spawned, spawn_bad;
static void *spawned_main(void *a)
{
	long r = work(7);
	(void)a;
	if (r != 8 && r != 1007)
		atomic_fetch_add(&spawn_bad, 1);
	return NULL;
}
static void *spawner_main(void *a)
{
	(void)a;
	while (!atomic_load(&spawn_stop)) {
		pthread_t t;
		if (pthread_create(&t, NULL, spawned_main, NULL) == 0) {
			pthread_join(t, NULL);
			atomic_fetch_add(&spawned, 1);
		}
	}
	return NULL;
}

/* ---- blocking syscalls ---------------------------------------------------- */

static int sys_pipe[2], sys_epfd;
static atomic_int sys_stop;
static uint32_t sys_futex;
static atomic_long sys_eintr, sys_bad;

static void sys_fail(int r)
{
	atomic_fetch_add(r < 0 && errno == EINTR ? &sys_eintr : &sys_bad, 1);
}

static void *sys_read(void *a)
{
	char c;
	(void)a;
	ssize_t r = read(sys_pipe[0], &c, 1);
	if (r != 1)
		sys_fail((int)r);
	return NULL;
}

static void *sys_poll(void *a)
{
	struct pollfd p = {.fd = sys_pipe[0], .events = POLLIN};
	(void)a;
	int r = poll(&p, 1, -1);
	if (r != 1)
		sys_fail(r);
	return NULL;
}

static void *sys_sleep(void *a)
{
	(void)a;
	while (!atomic_load(&sys_stop)) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		int r = nanosleep(&ts, NULL);
		if (r)
			sys_fail(r);
	}
	return NULL;
}

static void *sys_futex_wait(void *a)
{
	(void)a;
	while (!__atomic_load_n(&sys_futex, __ATOMIC_SEQ_CST)) {
		long r = syscall(SYS_futex, &sys_futex, FUTEX_WAIT_PRIVATE, 0, NULL);
		if (r && errno != EAGAIN)
			sys_fail((int)r);
	}
	return NULL;
}

static void *sys_select(void *a)
{
	fd_set rd;
	(void)a;
	FD_ZERO(&rd);
	FD_SET(sys_pipe[0], &rd);
	int r = select(sys_pipe[0] + 1, &rd, NULL, NULL, NULL);
	if (r != 1)
		sys_fail(r);
	return NULL;
}

static void *sys_epoll(void *a)
{
	struct epoll_event ev;
	(void)a;
	int r = epoll_wait(sys_epfd, &ev, 1, -1);
	if (r != 1)
		sys_fail(r);
	return NULL;
}

static void *(*const sys_fns[])(void *) = {sys_read, sys_poll, sys_sleep, sys_futex_wait,
					   sys_select, sys_epoll};
#define NSYS (sizeof(sys_fns) / sizeof(sys_fns[0]))
static pthread_t sys_threads[NSYS];

static void sys_start(void)
{
	struct epoll_event ev = {.events = EPOLLIN};
	if (pipe(sys_pipe) || (sys_epfd = epoll_create1(0)) < 0 ||
	    epoll_ctl(sys_epfd, EPOLL_CTL_ADD, sys_pipe[0], &ev))
		abort();
	for (unsigned i = 0; i < NSYS; i++)
		pthread_create(&sys_threads[i], NULL, sys_fns[i], NULL);
}

static void sys_wake(void)
{
	atomic_store(&sys_stop, 1);
	__atomic_store_n(&sys_futex, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &sys_futex, FUTEX_WAKE_PRIVATE, 100);
	/* readable for poll/select/epoll; each of read consumes one byte */
	if (write(sys_pipe[1], "xxxxxxxx", 8) != 8)
		abort();
	for (unsigned i = 0; i < NSYS; i++)
		pthread_join(sys_threads[i], NULL);
}

/* ---- red zone -------------------------------------------------------------- */

/* long redzone_check(const volatile int *stop): fills the 128 bytes below
 * %rsp with a pattern, then checks them until *stop; returns how many
 * words were found changed.  A leaf: the red zone is its to use.  It has
 * CFI (a leaf that never moves %rsp) so the agent's stack check unwinds
 * through it precisely instead of scanning this thread's stack words, some
 * of which may be stale return addresses into work(). */
long redzone_check(const volatile int *stop);
__asm__(".text\n"
	".globl redzone_check\n"
	".type redzone_check,@function\n"
	"redzone_check:\n"
	"	.cfi_startproc\n"
	"	xor %eax, %eax\n"
	"	movabs $0x5a5aa5a55a5aa5a5, %rdx\n"
	"	lea -128(%rsp), %rcx\n"
	"1:	mov %rdx, (%rcx)\n"
	"	add $8, %rcx\n"
	"	cmp %rsp, %rcx\n"
	"	jne 1b\n"
	"2:	lea -128(%rsp), %rcx\n"
	"3:	cmp %rdx, (%rcx)\n"
	"	je 4f\n"
	"	inc %rax\n"
	"	mov %rdx, (%rcx)\n"
	"4:	add $8, %rcx\n"
	"	cmp %rsp, %rcx\n"
	"	jne 3b\n"
	"	cmpl $0, (%rdi)\n"
	"	je 2b\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size redzone_check, .-redzone_check\n");

static volatile int red_stop;
static long red_result;
static void *red_main(void *a)
{
	(void)a;
	red_result = redzone_check(&red_stop);
	return NULL;
}

/* ---- callbacks into payload code ------------------------------------------ */

static void *cb_main(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "cbthread");
	callback();
	return NULL;
}

/* ---- the command loop -------------------------------------------------------- */

static void on_signal(int s)
{
	(void)s;
}

static int sigall(void)
{
	struct sigaction sa;
	int n = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	for (int s = 1; s < NSIG; s++)
		n += sigaction(s, &sa, NULL) == 0;
	return n;
}

/* fork: the child serves the loop, the parent waits for it */
static int serve(void);
static void do_fork(int exec_it)
{
	pid_t c = fork();
	if (c == 0) {
		if (exec_it) {
			execl(self_path, self_path, "exec", (char *)NULL);
			_exit(127);
		}
		printf("child %d\n", (int)getpid());
		exit(serve());
	}
	waitpid(c, NULL, 0);
	printf("parent\n");
}

static pthread_t t_outer;
static pthread_t t_holder, t_blocker, t_spin[64], t_spawner, t_red, t_cb;
static int nspin;

static void command(char *line)
{
	long n = 0;
	char cmd[32] = "";
	sscanf(line, "%31s %ld", cmd, &n);
	if (!strcmp(cmd, "work")) {
		printf("%ld\n", work(n));
	} else if (!strcmp(cmd, "hold")) {
		atomic_store(&hold_flag, 1);
		atomic_store(&hold_inside, 0);
		pthread_create(&t_holder, NULL, holder_main, NULL);
		while (!atomic_load(&hold_inside))
			poll(NULL, 0, 1);
		printf("held\n");
	} else if (!strcmp(cmd, "release")) {
		atomic_store(&hold_flag, 0);
		pthread_join(t_holder, NULL);
		printf("released\n");
	} else if (!strcmp(cmd, "holdfn")) {
		printf("%d\n", hold_fn());
	} else if (!strcmp(cmd, "outer")) {
		pthread_create(&t_outer, NULL, outer_main, NULL);
		while (!atomic_load(&outer_ready))
			poll(NULL, 0, 1);
		printf("outer\n");
	} else if (!strcmp(cmd, "outerstop")) {
		atomic_store(&outer_stop, 1);
		pthread_join(t_outer, NULL);
		printf("outerstopped\n");
	} else if (!strcmp(cmd, "blocker")) {
		pthread_create(&t_blocker, NULL, blocker_main, NULL);
		while (!atomic_load(&blocker_ready))
			poll(NULL, 0, 1);
		printf("blocking\n");
	} else if (!strcmp(cmd, "unblock")) {
		atomic_store(&unblock_flag, 1);
		pthread_join(t_blocker, NULL);
		printf("unblocked\n");
	} else if (!strcmp(cmd, "spin")) {
		for (nspin = 0; nspin < n && nspin < 64; nspin++)
			pthread_create(&t_spin[nspin], NULL, spin_main, (void *)(intptr_t)nspin);
		printf("spinning %d\n", nspin);
	} else if (!strcmp(cmd, "spinstat")) {
		printf("calls %ld bad %ld\n", atomic_load(&spin_calls), atomic_load(&spin_bad));
	} else if (!strcmp(cmd, "spinstop")) {
		atomic_store(&spin_stop, 1);
		for (int i = 0; i < nspin; i++)
			pthread_join(t_spin[i], NULL);
		printf("calls %ld bad %ld\n", atomic_load(&spin_calls), atomic_load(&spin_bad));
	} else if (!strcmp(cmd, "spawn")) {
		pthread_create(&t_spawner, NULL, spawner_main, NULL);
		printf("spawning\n");
	} else if (!strcmp(cmd, "spawnstop")) {
		atomic_store(&spawn_stop, 1);
		pthread_join(t_spawner, NULL);
		printf("spawned %ld bad %ld\n", atomic_load(&spawned), atomic_load(&spawn_bad));
	} else if (!strcmp(cmd, "sys")) {
		sys_start();
		printf("sys %d\n", (int)NSYS);
	} else if (!strcmp(cmd, "syswake")) {
		sys_wake();
		printf("eintr %ld bad %ld\n", atomic_load(&sys_eintr), atomic_load(&sys_bad));
	} else if (!strcmp(cmd, "redzone")) {
		pthread_create(&t_red, NULL, red_main, NULL);
		printf("redzone\n");
	} else if (!strcmp(cmd, "redstop")) {
		red_stop = 1;
		pthread_join(t_red, NULL);
		printf("corrupted %ld\n", red_result);
	} else if (!strcmp(cmd, "fork") || !strcmp(cmd, "exec")) {
		fflush(stdout);
		do_fork(!strcmp(cmd, "exec"));
	} else if (!strcmp(cmd, "exit")) {
		exit(0);
	} else if (!strcmp(cmd, "mdwe")) {
		/* what systemd's MemoryDenyWriteExecute= sets: no page may be
		 * writable and executable, none may become executable */
		printf("mdwe %d\n", prctl(65 /* PR_SET_MDWE */, 1 /* REFUSE_EXEC_GAIN */, 0, 0, 0));
	} else if (!strcmp(cmd, "sigall")) {
		printf("sigall %d\n", sigall());
	} else if (!strcmp(cmd, "cbhold")) {
		atomic_store(&cb_hold, 1);
		atomic_store(&cb_entered, 0);
		pthread_create(&t_cb, NULL, cb_main, NULL);
		while (!atomic_load(&cb_entered))
			poll(NULL, 0, 1);
		printf("cbheld\n");
	} else if (!strcmp(cmd, "cbrelease")) {
		atomic_store(&cb_hold, 0);
		pthread_join(t_cb, NULL);
		callback = cb_default;
		printf("cbreleased\n");
	} else {
		printf("?\n");
	}
}

static int serve(void)
{
	char line[256];
	while (fgets(line, sizeof(line), stdin))
		command(line);
	return 0;
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "exec"))
		printf("exec %d\n", (int)getpid());
	return serve();
}
