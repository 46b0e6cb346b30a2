/*
 * Loading the agent into a running process: the safety rule, then
 * dlopen(agent, RTLD_NOW | RTLD_GLOBAL) called in one borrowed thread.
 *
 * The rule (docs/design.md, "Attaching to a running process"): the loader
 * runs only in a thread that is stopped at the boundary of a *waiting*
 * system call (read, poll, epoll_wait, accept, nanosleep, ...) whose syscall
 * instruction lies in libc.so.6's own code.  Such a thread is in a libc
 * wrapper called by the program, so it holds none of libc's internal locks
 * that dlopen needs (the loader's lock is taken by code in ld.so and its
 * system calls are made there; malloc makes no waiting call); at most it
 * holds its own stdio lock (recursive, and never taken by the loader or the
 * agent) and the program's own locks (which the loader and the agent do not
 * touch).  futex is not on the list: a futex wait may be inside malloc or
 * the loader, waiting for a lock while holding another.  The candidate is
 * chosen from /proc/PID/task/TID/syscall, then checked again once stopped,
 * from its registers (the state may have changed in between).  Every other
 * thread keeps running, so any lock they hold is released as usual.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ctl/inject.h"

#define MAX_CANDIDATES 64

static const struct {
	long nr;
	const char *name;
} waiting_calls[] = {
    {SYS_read, "read"},
    {SYS_readv, "readv"},
    {SYS_pread64, "pread64"},
    {SYS_poll, "poll"},
    {SYS_ppoll, "ppoll"},
    {SYS_select, "select"},
    {SYS_pselect6, "pselect6"},
    {SYS_epoll_wait, "epoll_wait"},
    {SYS_epoll_pwait, "epoll_pwait"},
#ifdef SYS_epoll_pwait2
    {SYS_epoll_pwait2, "epoll_pwait2"},
#endif
    {SYS_accept, "accept"},
    {SYS_accept4, "accept4"},
    {SYS_recvfrom, "recvfrom"},
    {SYS_recvmsg, "recvmsg"},
    {SYS_recvmmsg, "recvmmsg"},
    {SYS_nanosleep, "nanosleep"},
    {SYS_clock_nanosleep, "clock_nanosleep"},
    {SYS_pause, "pause"},
    {SYS_rt_sigtimedwait, "rt_sigtimedwait"},
    {SYS_wait4, "wait4"},
    {SYS_waitid, "waitid"},
    {SYS_msgrcv, "msgrcv"},
};

static const char *waiting_name(long nr)
{
	for (size_t i = 0; i < sizeof(waiting_calls) / sizeof(waiting_calls[0]); i++)
		if (waiting_calls[i].nr == nr)
			return waiting_calls[i].name;
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The system call tid is blocked in, from /proc (-1 running or unknown). */
static long blocked_in(pid_t pid, pid_t tid)
{
	char path[96], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long nr = -1;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr;
}

/* Threads blocked in a waiting call, the main thread first. */
static int candidates(pid_t pid, pid_t *out, int max, int *nthreads)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int n = 0;
	struct dirent *e;
	*nthreads = 0;
	if (waiting_name(blocked_in(pid, pid)))
		out[n++] = pid;
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
		if (tid <= 0)
			continue;
		++*nthreads;
		if (tid != pid && n < max && waiting_name(blocked_in(pid, tid)))
			out[n++] = tid;
	}
	closedir(d);
	return n;
}

/*
 * Does the call swap the thread's signal mask while it waits (ppoll,
 * pselect6, epoll_pwait(2) given a mask)?  Then the mask ptrace reads is the
 * temporary one, and the thread's own mask is kept by the kernel where
 * ptrace cannot restore it: such a thread is not borrowed (rt_sigsuspend,
 * which always swaps, is not on the list at all).
 */
static int swaps_mask(struct xs_pt_thread *t)
{
	const struct user_regs_struct *r = &t->saved;
	uint64_t ss = 0;
	switch ((long)r->orig_rax) {
	case SYS_ppoll:
		return r->r10 != 0;
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
		return r->r8 != 0;
	case SYS_pselect6: /* r9: { const sigset_t *ss; size_t len; } */
		return r->r9 && (xs_pt_read(t, r->r9, &ss, sizeof(ss)) || ss != 0);
	default:
		return 0;
	}
}

/* Is the stopped thread at a waiting call's boundary, in libc's code? */
static const char *safe_point(struct xs_pt_thread *t, const struct xs_remote_lib *libc)
{
	long nr = (long)t->saved.orig_rax;
	uint64_t ip = t->saved.rip;
	unsigned char insn[2];
	const char *name = waiting_name(nr);
	if (!name || ip < libc->text_start + 2 || ip > libc->text_end)
		return NULL;
	if (xs_pt_read(t, ip - 2, insn, 2) || insn[0] != 0x0f || insn[1] != 0x05)
		return NULL;
	return swaps_mask(t) ? NULL : name;
}

/* Signals pending for tid (its own and the process's), from /proc. */
static int pending_signals(pid_t pid, pid_t tid, uint64_t *set)
{
	char path[96], line[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	*set = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "SigPnd:", 7) || !strncmp(line, "ShdPnd:", 7))
			*set |= strtoull(line + 7, NULL, 16);
	fclose(f);
	return 0;
}

/*
 * Some waiting calls do not restart after a stop but fail with EINTR
 * (epoll_wait, rt_sigtimedwait, a socket call with SO_RCVTIMEO): the kernel
 * does that for any ptrace or job-control stop.  When no signal the thread
 * would take is pending, the EINTR can only be ours: the call is issued
 * again, with the same arguments, instead of returning it.  A timeout then
 * starts over (documented); with a signal pending, the EINTR stays, as the
 * program would have seen it.
 */
static void reissue_if_ours(pid_t pid, struct xs_pt_thread *t)
{
	uint64_t pend = 0;
	if (t->saved.rax != (uint64_t)-EINTR || !waiting_name((long)t->saved.orig_rax) ||
	    pending_signals(pid, t->tid, &pend) || (pend & ~t->saved_mask))
		return;
	t->saved.rax = t->saved.orig_rax;
	t->saved.rip -= 2; /* the syscall instruction, checked by safe_point */
}

/* dlerror() in the target, after a failed dlopen. */
static void remote_dlerror(pid_t pid, struct xs_pt_thread *t, const struct xs_remote_lib *libc,
                           char *msg, size_t n)
{
	uint64_t fn, p = 0;
	char why[256];
	snprintf(msg, n, "(no message)");
	if (xs_remote_sym(pid, libc, "dlerror", &fn, why, sizeof(why)) ||
	    xs_pt_call(t, fn, 0, 0, &p, why, sizeof(why)) || !p)
		return;
	char buf[512];
	size_t got = 0;
	/* read up to the terminator, a chunk at a time (the string may end
	 * near the end of its mapping) */
	while (got + 64 < sizeof(buf) && !xs_pt_read(t, p + got, buf + got, 64)) {
		if (memchr(buf + got, '\0', 64))
			break;
		got += 64;
	}
	buf[sizeof(buf) - 1] = '\0';
	snprintf(msg, n, "%s", buf);
}

static int load(pid_t pid, struct xs_pt_thread *t, const struct xs_remote_lib *libc,
                const char *agent_path, char *why, size_t whylen)
{
	uint64_t dlopen_fn, path_addr, handle = 0;
	int rc = xs_remote_sym(pid, libc, "dlopen", &dlopen_fn, why, whylen);
	if (rc)
		return rc;
	rc = xs_pt_push(t, agent_path, strlen(agent_path) + 1, &path_addr);
	if (rc)
		return snprintf(why, whylen, "cannot write to the stack of thread %d: %s",
		                (int)t->tid, strerror(-rc)),
		       rc;
	rc = xs_pt_call(t, dlopen_fn, path_addr, 0x2 | 0x100 /* RTLD_NOW | RTLD_GLOBAL */, &handle,
	                why, whylen);
	if (rc)
		return rc;
	if (!handle) {
		char msg[512];
		remote_dlerror(pid, t, libc, msg, sizeof(msg));
		if (!t->seized)
			return snprintf(why, whylen, "dlopen of %s failed in process %d",
			                agent_path, (int)pid),
			       -EIO;
		snprintf(why, whylen, "dlopen of %s failed in process %d: %s", agent_path, (int)pid,
		         msg);
		return -ENOEXEC;
	}
	return 0;
}

int xs_inject_agent(pid_t pid, const char *agent_path, struct xs_inject_result *r, char *why,
                    size_t whylen)
{
	uint64_t t0 = now_ns();
	memset(r, 0, sizeof(*r));
	r->syscall_nr = -1;
	int rc = xs_has_agent(pid);
	if (rc == 1) {
		r->already = 1;
		return 0;
	}
	rc = xs_attach_check(pid, agent_path, why, whylen);
	if (rc)
		return rc;
	struct xs_remote_lib libc;
	rc = xs_remote_lib_find(pid, "libc.so.6", &libc);
	if (rc)
		return snprintf(why, whylen, "libc.so.6 is not mapped in process %d", (int)pid), rc;
	pid_t cand[MAX_CANDIDATES];
	int nthreads = 0;
	int n = candidates(pid, cand, MAX_CANDIDATES, &nthreads);
	if (n < 0)
		return snprintf(why, whylen, "cannot list the threads of process %d: %s", (int)pid,
		                strerror(-n)),
		       n;
	for (int i = 0; i < n; i++) {
		struct xs_pt_thread t;
		r->candidates++;
		why[0] = '\0';
		rc = xs_pt_stop(&t, cand[i], why, whylen);
		if (rc == -ESRCH)
			continue; /* the thread ended meanwhile */
		if (rc) {
			if (!why[0]) /* PTRACE_SEIZE itself failed */
				xs_explain_ptrace_error(pid, -rc, why, whylen);
			return rc;
		}
		const char *name = safe_point(&t, &libc);
		if (!name) {
			xs_pt_release(&t);
			continue;
		}
		r->tid = t.tid;
		r->syscall_nr = (long)t.saved.orig_rax;
		snprintf(r->syscall, sizeof(r->syscall), "%s", name);
		rc = load(pid, &t, &libc, agent_path, why, whylen);
		if (t.seized) {
			char more[256];
			reissue_if_ours(pid, &t);
			int rrc = xs_pt_restore(&t, more, sizeof(more));
			if (rrc && !rc) {
				snprintf(why, whylen, "restoring thread %d: %s", (int)t.tid, more);
				rc = rrc;
			}
		}
		r->held_ns = t.held_ns;
		r->total_ns = now_ns() - t0;
		return rc;
	}
	snprintf(why, whylen,
	         "none of the %d thread(s) of process %d is blocked in a system call where the "
	         "loader may run safely (read, poll, epoll_wait, accept, nanosleep... made by "
	         "libc); try again when the program waits",
	         nthreads, (int)pid);
	return -EAGAIN;
}
