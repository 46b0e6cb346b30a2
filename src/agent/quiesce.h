/*
 * Thread rendezvous: park every other thread of the process in the agent's
 * signal handler, do some work, release them.
 *
 *     xs_quiesce_prepare()          outside: size the slot array
 *     xs_quiesce_begin()            signal, park, re-scan until stable
 *       ... xs_quiesce_nthreads() / xs_quiesce_thread(i): parked threads
 *       ... xs_quiesce_perthread(): run actions on every thread
 *     xs_quiesce_end()              release
 *
 * Between begin and end the caller is "in the window": no malloc, no stdio,
 * no dl*, no lock a parked thread could hold.  The caller's own thread is
 * never parked (it is the one doing the work).
 */
#ifndef XS_AGENT_QUIESCE_H
#define XS_AGENT_QUIESCE_H

#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"

#define XS_QUIESCE_DEFAULT_TIMEOUT_MS 30

/* A parked thread as the handler recorded it (valid inside the window). */
struct xs_qthread {
	pid_t tid;
	uintptr_t pc, sp;
	/* the sigaltstack the thread was running on when signalled, else 0/0 */
	uintptr_t alt_lo, alt_hi;
	/* its thread pointer (on x86-64 the %fs base): for a thread the C
	 * library started, its TCB, which sits above the thread's stack */
	uintptr_t tp;
	/* the handler's ucontext_t: the interrupted registers, for the
	 * unwinder (valid while the thread is parked) */
	const void *uc;
};

/* Why an attempt failed (filled by xs_quiesce_begin on -EBUSY). */
enum xs_qwhy {
	XS_QWHY_NONE,
	XS_QWHY_TIMEOUT, /* `tid` did not park within the timeout */
	XS_QWHY_GROW,    /* more threads than slots: grow and retry at once */
	XS_QWHY_SIGNAL,  /* tgkill failed for `tid` (errno in `err`) */
	XS_QWHY_INRANGE, /* `tid` stayed in code about to change (at `pc`) */
};

struct xs_qfail {
	enum xs_qwhy why;
	pid_t tid;
	int err;
	uintptr_t pc;
	unsigned nparked, nthreads;
	uint64_t waited_ns; /* from the first signal to the failure */
	int in_handler;     /* `tid` was in the agent's handler then */
};

/* Install the handler for `signo`.  Refuses (-EBUSY) when the program
 * already has a handler or ignores it. */
int xs_quiesce_init(int signo, struct xs_err *err);
int xs_quiesce_signal(void);
/* Still our handler?  Else -ENOTSUP with a message naming XSPLICE_SIGNAL
 * (retrying cannot help). */
int xs_quiesce_check_handler(struct xs_err *err);
/* Outside the window: make room for the process's threads (and growth). */
int xs_quiesce_prepare(struct xs_err *err);

/*
 * Code about to change: a thread signalled while its PC is where
 * in_range(ctx, pc) says declines to park, runs on and is signalled again
 * only once it has executed some of its own code (measured on its CPU
 * clock) or blocked in a syscall, so that a thread in a tight loop through
 * a patched function does not fail the whole attempt.  A thread still in
 * the range at the deadline fails it with XS_QWHY_INRANGE.
 * in_range is called in the signal handler: async-signal-safe, read-only.
 * NULL: no such check.  Set before xs_quiesce_begin.
 */
void xs_quiesce_set_avoid(int (*in_range)(const void *ctx, uintptr_t pc), const void *ctx);

/* Park every other thread.  0 when all are parked (the window is open),
 * else -EBUSY / -EAGAIN with `fail` filled and every thread released. */
int xs_quiesce_begin(uint32_t timeout_ms, struct xs_qfail *fail);
unsigned xs_quiesce_nthreads(void);
const struct xs_qthread *xs_quiesce_thread(unsigned i);
/* In the window: run fns[0..n) once on every parked thread and on the
 * caller's thread; returns when all have run them. */
void xs_quiesce_perthread(const uintptr_t *fns, unsigned n);
/* Release every parked thread. */
void xs_quiesce_end(void);

/* Nanoseconds between the first signal and the release of the last window
 * (for measurements). */
uint64_t xs_quiesce_last_pause_ns(void);
/* Number of syscalls the handler restarted since init (EINTR avoided). */
uint64_t xs_quiesce_restarts(void);

/* Is thread tid running the agent's signal handler right now?  (Its
 * signal mask then blocks the signal: it is late, not blocking it.) */
int xs_quiesce_in_handler(pid_t tid);

/* In a forked child: forget the parent's threads. */
void xs_quiesce_atfork_child(void);

#endif
