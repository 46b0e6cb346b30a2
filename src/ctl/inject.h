/*
 * Bringing the agent into a running process with ptrace (xsplice attach).
 * Internal to libxsplicectl and the xsplice command; see docs/design.md,
 * "Attaching to a running process".
 *
 *   attach_check.c  the refusals, decided from /proc before any ptrace call
 *   remote_sym.c    where a library is mapped in a process, and the address
 *                   of one of its dynamic symbols there
 *   ptrace_call.c   one thread: seize, interrupt, save, call a function in
 *                   it, restore exactly, detach
 *   inject.c        the safety rule (which thread may run the loader) and
 *                   the dlopen of the agent
 */
#ifndef XS_CTL_INJECT_H
#define XS_CTL_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* ---- attach_check.c ---------------------------------------------------- */

/* 1 when libxsplice.so is mapped in pid, 0 when not, -errno when unknown. */
int xs_has_agent(pid_t pid);

/* May we inject into pid?  0, or -errno with the reason in why (a refusal:
 * static program, traced, seccomp, permissions, architecture). */
int xs_attach_check(pid_t pid, const char *agent_path, char *why, size_t whylen);

/* The reason a PTRACE_SEIZE of pid failed with errno err, in words. */
void xs_explain_ptrace_error(pid_t pid, int err, char *why, size_t whylen);

/* ---- remote_sym.c ------------------------------------------------------ */

struct xs_remote_lib {
	char path[4096];     /* as in /proc/PID/maps */
	uint64_t bias;       /* load bias: runtime address - ELF vaddr */
	uint64_t text_start; /* the executable mapping */
	uint64_t text_end;
};

/* Find the library whose file name is `name` (e.g. "libc.so.6") in pid's
 * maps: 0, -ENOENT when not mapped, or -errno. */
int xs_remote_lib_find(pid_t pid, const char *name, struct xs_remote_lib *lib);

/* Runtime address of the defined function `sym` of lib in pid (the
 * default version when there are several): 0 or -errno, why filled. */
int xs_remote_sym(pid_t pid, const struct xs_remote_lib *lib, const char *sym, uint64_t *addr,
                  char *why, size_t whylen);

/* ---- ptrace_call.c ----------------------------------------------------- */

struct xs_pt_thread {
	pid_t tid;
	int seized;
	struct user_regs_struct saved; /* as the thread was stopped */
	uint64_t saved_mask;
	unsigned char *xstate; /* NT_X86_XSTATE, or the legacy FP area */
	size_t xstate_len;
	int xstate_legacy;
	uint64_t scratch_sp; /* next free byte below the red zone */
	uint64_t held_ns;    /* from the interrupt to the resume */
	uint64_t t_stop;
};

/* Seize tid and stop it with PTRACE_INTERRUPT; save its registers, extended
 * state and signal mask.  0 or -errno (why filled; nothing is left attached). */
int xs_pt_stop(struct xs_pt_thread *t, pid_t tid, char *why, size_t whylen);

/* Detach a stopped thread without having changed it (an interrupted
 * system call restarts as if nothing had happened). */
void xs_pt_release(struct xs_pt_thread *t);

/* Copy len bytes onto the stopped thread's stack, below its red zone:
 * their address in *addr. 0 or -errno. */
int xs_pt_push(struct xs_pt_thread *t, const void *data, size_t len, uint64_t *addr);

/* Read len bytes of the process's memory. 0 or -errno. */
int xs_pt_read(struct xs_pt_thread *t, uint64_t addr, void *buf, size_t len);

/* Call fn(a0, a1) in the stopped thread with most signals blocked, other
 * threads running; the result in *ret.  0, or -errno with why filled (the
 * thread is then restored and detached: t->seized is 0). */
int xs_pt_call(struct xs_pt_thread *t, uint64_t fn, uint64_t a0, uint64_t a1, uint64_t *ret,
               char *why, size_t whylen);

/* Put back the saved registers, extended state and signal mask and detach:
 * an interrupted system call restarts (or resumes, restart_syscall). 0 or
 * -errno (why filled). */
int xs_pt_restore(struct xs_pt_thread *t, char *why, size_t whylen);

/* ---- inject.c ---------------------------------------------------------- */

struct xs_inject_result {
	pid_t tid;         /* the thread that ran the loader */
	long syscall_nr;   /* the system call it was in */
	char syscall[24];  /* its name */
	uint64_t held_ns;  /* how long that thread was held */
	uint64_t total_ns; /* the whole injection, as the operator waits */
	int candidates;    /* threads considered */
	int already;       /* the agent was already there */
};

/*
 * Load agent_path into pid with the target's dlopen.  0 done (also when
 * the agent was already mapped: r->already), -EAGAIN when no thread is at
 * a point where the loader may run (retry can succeed), other -errno on a
 * refusal or a failure; why says what and why, the process as it was.
 */
int xs_inject_agent(pid_t pid, const char *agent_path, struct xs_inject_result *r, char *why,
                    size_t whylen);

#endif
