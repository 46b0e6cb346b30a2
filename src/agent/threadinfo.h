/*
 * What /proc/self/task/TID says about a thread.  Everything but the two
 * message builders at the end uses raw syscalls and fixed buffers only, so
 * it may run in the quiesce window.
 */
#ifndef XS_AGENT_THREADINFO_H
#define XS_AGENT_THREADINFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/rawsys.h"

/* The syscall a blocked thread is in (from .../syscall). */
struct xs_sysinfo {
	long nr; /* -1: not in a syscall (running, or unknown) */
	uintptr_t args[6];
	uintptr_t pc; /* user PC: right after the syscall instruction */
};

/* A decimal or 0x-hex number after optional spaces and '-'; NULL if none. */
const char *xs_parse_num(const char *p, uintptr_t *v, int *neg);
/* "/proc/self/task/TID/leaf" into buf (64 bytes are enough). */
char *xs_task_path(char *buf, pid_t tid, const char *leaf);

void xs_task_syscall(pid_t tid, struct xs_sysinfo *out);
/* Exited, or a zombie (a main thread after pthread_exit)? */
int xs_task_dead(pid_t pid, pid_t tid);
/* Is `signo` pending for the thread itself (SigPnd)? */
int xs_task_sig_pending(pid_t tid, int signo);

/* Numeric field `field` (4 or more, numbered as in proc(5)) of
 * /proc/self/stat; -1 when it cannot be read or is negative. */
int xs_proc_stat_field(int field, uintptr_t *out);
/* Threads in this process (num_threads of /proc/self/stat, read through
 * `stat` when it is not NULL), 0 if unknown. */
unsigned xs_proc_nthreads(const struct xs_held *stat);

/* The state letter of /proc/self/task/TID/stat (R, S, D, T, t, Z...), 0 if
 * it cannot be read. */
char xs_task_state(pid_t tid);

/* Outside the window. */
void xs_thread_name(pid_t tid, char *out, size_t cap);
/*
 * Why it did not park, `waited_ms` after it was signalled: "thread 123
 * (worker) blocks signal 42 ...", "... is late: runnable ...", "... is
 * stopped ...".  `in_handler`: it was running the agent's own handler (its
 * mask then blocks the signal: late, not blocking).
 */
void xs_thread_describe(pid_t tid, int signo, int in_handler, unsigned long waited_ms, char *out,
                        size_t cap);

#endif
