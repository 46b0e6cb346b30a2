/*
 * The target of the issue-4 feature tests: a process with functions to
 * patch and variables for payload hooks to write into, driven one line per
 * request on stdin, one line per reply on stdout.
 *
 *   greet              -> greet()
 *   calc N             -> calc(N)          (payload B's replacement calls
 *   twice N            -> twice(N)          a function payload A added)
 *   nop N              -> nop_victim(N)    (hand-written: N + 1)
 *   inline N           -> inline_victim(N) (hand-written: N + 0x100)
 *   expect N           -> expect_victim(N) (hand-written: N * 3)
 *   get NAME           -> an int variable by name (hook counters, flags)
 *   set NAME V         -> set it
 *   trace              -> the hook trace, then clears it
 *   add K V / touch K / del K -> the node list (shadow variables)
 *   threads N          -> start N worker threads blocked in different ways,
 *                         reply with the tids of main and every worker
 *   ptlog              -> the tids recorded by per-thread actions, and the
 *                         patched result each of them saw
 *   hammer / rounds    -> start a thread that allocates and frees shadow
 *                         variables in a loop / how many rounds it made
 *
 * Everything a payload touches is global and `noipa` so that the compiler
 * neither inlines nor propagates across it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ftarget.h"

#define PATCHABLE __attribute__((noinline, noipa, used))

/* ---- variables hooks write into ------------------------------------------- */

int hello_loads, hello_unloads;
int feature_flag;
int prepost_veto_revert = 1; /* the pre-revert hook vetoes while this is set */
int veto_replace_revert, veto_replace_apply;
int param_count;
int shadow_dtors;
int window_ok, window_busy, window_err;

static struct {
	const char *name;
	int *var;
} vars[] = {
	{"hello_loads", &hello_loads},
	{"hello_unloads", &hello_unloads},
	{"feature_flag", &feature_flag},
	{"prepost_veto_revert", &prepost_veto_revert},
	{"veto_replace_revert", &veto_replace_revert},
	{"veto_replace_apply", &veto_replace_apply},
	{"param_count", &param_count},
	{"shadow_dtors", &shadow_dtors},
	{"window_ok", &window_ok},
	{"window_busy", &window_busy},
	{"window_err", &window_err},
};

static int *var_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (strcmp(vars[i].name, name) == 0)
			return vars[i].var;
	return NULL;
}

/*
 * The hook trace: words appended by hooks, printed and cleared by `trace`.
 * Hooks may run inside the quiesce window, so appending never allocates,
 * locks or touches stdio.
 */
static char trace_buf[8192];
static size_t trace_len;

PATCHABLE void trace(const char *word)
{
	size_t n = strlen(word);

	if (trace_len + n + 2 > sizeof(trace_buf))
		return;
	if (trace_len)
		trace_buf[trace_len++] = ' ';
	memcpy(trace_buf + trace_len, word, n);
	trace_len += n;
	trace_buf[trace_len] = 0;
}

/* word=value, without stdio */
PATCHABLE void trace_int(const char *word, long v)
{
	char num[32], out[128];
	size_t n = 0, w = strlen(word);
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	do
		num[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < sizeof(num));
	if (w > sizeof(out) - sizeof(num) - 3)
		w = sizeof(out) - sizeof(num) - 3;
	memcpy(out, word, w);
	out[w++] = '=';
	if (v < 0)
		out[w++] = '-';
	while (n)
		out[w++] = num[--n];
	out[w] = 0;
	trace(out);
}

/* ---- functions the payloads replace ---------------------------------------- */

PATCHABLE const char *greet(void)
{
	return "hello-v0";
}

PATCHABLE long calc(long n)
{
	return n + 1;
}

PATCHABLE long twice(long n)
{
	return 2 * n;
}

/*
 * Hand-written functions whose bytes the tests know exactly (for NOP,
 * expectation and inline patches).  No endbr64, nothing the compiler may
 * change.
 */
__asm__(".pushsection .text.nop_victim,\"ax\",@progbits\n"
	".globl nop_victim\n"
	".type nop_victim,@function\n"
	"nop_victim:\n"
	"	addq $1, %rdi\n"           /* 48 83 c7 01: what the NOP patch removes */
	"	movq %rdi, %rax\n"         /* 48 89 f8 */
	"	ret\n"                     /* c3 */
	"	int3; int3; int3; int3; int3; int3; int3; int3\n"
	".size nop_victim, .-nop_victim\n"
	".popsection\n"

	".pushsection .text.inline_victim,\"ax\",@progbits\n"
	".globl inline_victim\n"
	".type inline_victim,@function\n"
	"inline_victim:\n"
	"	movq %rdi, %rax\n"         /* 48 89 f8 */
	"	addq $0x100, %rax\n"       /* 48 05 00 01 00 00: the inline patch site, +3 */
	"	ret\n"                     /* c3, at +9 */
	"	int3; int3; int3; int3; int3; int3; int3; int3\n"
	".size inline_victim, .-inline_victim\n"
	".popsection\n"

	".pushsection .text.expect_victim,\"ax\",@progbits\n"
	".globl expect_victim\n"
	".type expect_victim,@function\n"
	"expect_victim:\n"
	"	leaq (%rdi,%rdi,2), %rax\n" /* 48 8d 04 7f */
	"	nop; nop; nop; nop; nop; nop\n"
	"	ret\n"
	".size expect_victim, .-expect_victim\n"
	".popsection\n");

/* ---- a live data structure (shadow variables) ----------------------------------- */

struct node *nodes;

/* value of the node; a payload adds a per-node touch counter */
PATCHABLE long node_touch(struct node *n)
{
	return n->value;
}

PATCHABLE void node_free(struct node *n)
{
	free(n);
}

static struct node **node_find(long key)
{
	struct node **pp = &nodes;

	while (*pp && (*pp)->key != key)
		pp = &(*pp)->next;
	return pp;
}

static void node_add(long key, long value)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		abort();
	n->key = key;
	n->value = value;
	n->next = nodes;
	nodes = n;
}

/* ---- threads and per-thread actions ------------------------------------------------ */

#define MAX_PT 256
/* written by per-thread actions: one slot per call */
int pt_count;
long pt_tids[MAX_PT];
long pt_seen[MAX_PT];

PATCHABLE long pt_value(void)
{
	return 1;
}

/* Per-thread action helper for payloads: record the calling thread and
 * what pt_value() returns on it.  Async-signal-safe. */
PATCHABLE void pt_record(void)
{
	int i = __atomic_fetch_add(&pt_count, 1, __ATOMIC_SEQ_CST);

	if (i < MAX_PT) {
		pt_tids[i] = syscall(SYS_gettid);
		pt_seen[i] = pt_value();
	}
}

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static int worker_pipe[2];
static volatile long spin_sink;

struct worker {
	int kind;
	long tid;
	int started;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->tid = syscall(SYS_gettid);
	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	for (;;) {
		char c;
		struct timespec ts = {0, 50 * 1000 * 1000};
		struct pollfd pfd = {.fd = worker_pipe[0], .events = POLLIN};

		switch (w->kind % 5) {
		case 0: /* blocked in read */
			if (read(worker_pipe[0], &c, 1) == 0)
				return NULL;
			break;
		case 1: /* sleeping */
			nanosleep(&ts, NULL);
			break;
		case 2: /* futex: a condition variable nobody signals */
			pthread_mutex_lock(&idle_lock);
			pthread_cond_wait(&idle_cond, &idle_lock);
			pthread_mutex_unlock(&idle_lock);
			break;
		case 3: /* poll */
			poll(&pfd, 1, 1000);
			break;
		default: /* running in user space */
			for (int i = 0; i < 1000000; i++)
				spin_sink += i;
			break;
		}
	}
	return NULL;
}

static void start_threads(int n)
{
	static struct worker w[64];
	static int nw;

	if (!worker_pipe[0] && pipe(worker_pipe) < 0)
		abort();
	printf("tids %ld", (long)syscall(SYS_gettid));
	for (int i = 0; i < n && nw < 64; i++, nw++) {
		pthread_t th;

		w[nw].kind = nw;
		if (pthread_create(&th, NULL, worker_main, &w[nw]) != 0)
			abort();
		while (!__atomic_load_n(&w[nw].started, __ATOMIC_ACQUIRE))
			sched_yield();
		printf(" %ld", w[nw].tid);
	}
	printf("\n");
}

/* ---- a thread that keeps the agent's shadow store busy -------------------------------- */

static unsigned long hammer_rounds;

/* Allocate and free a shadow variable over and over through the agent's
 * exported API, so that the agent's quiesce signal often parks this thread
 * with the store's lock held. */
static void *hammer_main(void *arg)
{
	void *(*get_or_alloc)(const void *, unsigned long, size_t, void *, void *) = arg;
	void (*free_fn)(const void *, unsigned long, void *) =
		(void (*)(const void *, unsigned long, void *))dlsym(RTLD_DEFAULT,
								    "xsplice_shadow_free");
	static char obj;

	for (;;) {
		if (get_or_alloc(&obj, 0x4a4d, 64, NULL, NULL))
			free_fn(&obj, 0x4a4d, NULL);
		__atomic_add_fetch(&hammer_rounds, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void start_hammer(void)
{
	void *f = dlsym(RTLD_DEFAULT, "xsplice_shadow_get_or_alloc");
	pthread_t th;

	if (!f || !dlsym(RTLD_DEFAULT, "xsplice_shadow_free")) {
		printf("error: the agent's shadow API is not there\n");
		return;
	}
	if (pthread_create(&th, NULL, hammer_main, f) != 0)
		abort();
	printf("ok\n");
}

/* ---- the request loop ------------------------------------------------------------------ */

static void reply_nodes(const char *cmd, long k, long v)
{
	struct node **pp = node_find(k);

	if (strcmp(cmd, "add") == 0) {
		node_add(k, v);
		printf("ok\n");
	} else if (!*pp) {
		printf("no node %ld\n", k);
	} else if (strcmp(cmd, "touch") == 0) {
		printf("%ld\n", node_touch(*pp));
	} else {
		struct node *n = *pp;

		*pp = n->next;
		node_free(n);
		printf("ok\n");
	}
}

static void serve(char *line)
{
	char cmd[32] = "", name[64] = "";
	long a = 0, b = 0;

	line[strcspn(line, "\n")] = 0;
	sscanf(line, "%31s", cmd);
	if (strcmp(cmd, "greet") == 0) {
		printf("%s\n", greet());
	} else if (sscanf(line, "calc %ld", &a) == 1) {
		printf("%ld\n", calc(a));
	} else if (sscanf(line, "twice %ld", &a) == 1) {
		printf("%ld\n", twice(a));
	} else if (sscanf(line, "nop %ld", &a) == 1) {
		printf("%ld\n", nop_victim(a));
	} else if (sscanf(line, "inline %ld", &a) == 1) {
		printf("%ld\n", inline_victim(a));
	} else if (sscanf(line, "expect %ld", &a) == 1) {
		printf("%ld\n", expect_victim(a));
	} else if (sscanf(line, "get %63s", name) == 1 && var_by_name(name)) {
		printf("%d\n", *var_by_name(name));
	} else if (sscanf(line, "set %63s %ld", name, &a) == 2 && var_by_name(name)) {
		*var_by_name(name) = (int)a;
		printf("ok\n");
	} else if (strcmp(cmd, "trace") == 0) {
		printf("trace: %s\n", trace_buf);
		trace_len = 0;
		trace_buf[0] = 0;
	} else if (sscanf(line, "%31s %ld %ld", cmd, &a, &b) >= 2 &&
		   (!strcmp(cmd, "add") || !strcmp(cmd, "touch") || !strcmp(cmd, "del"))) {
		reply_nodes(cmd, a, b);
	} else if (sscanf(line, "threads %ld", &a) == 1) {
		start_threads((int)a);
	} else if (strcmp(cmd, "hammer") == 0) {
		start_hammer();
	} else if (strcmp(cmd, "rounds") == 0) {
		printf("%lu\n", __atomic_load_n(&hammer_rounds, __ATOMIC_RELAXED));
	} else if (strcmp(cmd, "ptlog") == 0) {
		int n = __atomic_load_n(&pt_count, __ATOMIC_SEQ_CST);

		printf("ptlog");
		for (int i = 0; i < n && i < MAX_PT; i++)
			printf(" %ld:%ld", pt_tids[i], pt_seen[i]);
		printf("\n");
	} else {
		printf("error: unknown request '%s'\n", line);
	}
	fflush(stdout);
}

int main(void)
{
	char line[256];

	while (fgets(line, sizeof(line), stdin))
		serve(line);
	return 0;
}
