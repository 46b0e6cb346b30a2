/*
 * Calling a function inside one thread of another process with ptrace.
 *
 * Only the chosen thread is seized (PTRACE_SEIZE: no signal is sent, no
 * group stop), stopped with PTRACE_INTERRUPT and later detached; every other
 * thread of the process keeps running throughout.  While stopped, the
 * thread's general registers, its extended FPU/vector state
 * (NT_X86_XSTATE) and its signal mask are saved.  The call:
 *
 *   - runs on the thread's own stack, below its 128-byte red zone, with the
 *     stack aligned as the ABI wants at a call;
 *   - returns to address 0: the fault is a signal-delivery stop of SIGSEGV
 *     at rip 0 that we see before the program does, and suppress;
 *   - runs with every signal blocked but the synchronous ones (SIGSEGV,
 *     SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS: blocking those would make the
 *     kernel reset the program's handler on a fault), so none of the
 *     program's handlers runs on the borrowed thread;
 *   - sets orig_rax to -1, so the kernel does not try to restart the system
 *     call the thread was in while it runs our function.
 *
 * Restoring puts everything back, orig_rax included: on detach the kernel's
 * own restart logic sees the interrupted call's -ERESTART* and restarts it
 * (read), or resumes it through restart_syscall with what remains of its
 * timeout (nanosleep, -ERESTART_RESTARTBLOCK: the restart block survives
 * because no signal handler ran on the thread meanwhile).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl/inject.h"

#define RED_ZONE 128
#define XSTATE_MAX (64 * 1024)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t sigbit(int sig)
{
	return 1ull << (sig - 1);
}

/* Wait for the next stop of t->tid: 0 with *status, or -errno. */
static int wait_stop(struct xs_pt_thread *t, int *status)
{
	for (;;) {
		pid_t r = waitpid(t->tid, status, __WALL);
		if (r == t->tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int save_state(struct xs_pt_thread *t, char *why, size_t whylen)
{
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->saved))
		return snprintf(why, whylen, "PTRACE_GETREGS: %s", strerror(errno)), -errno;
	t->xstate = malloc(XSTATE_MAX);
	if (!t->xstate)
		return snprintf(why, whylen, "out of memory"), -ENOMEM;
	struct iovec iov = {t->xstate, XSTATE_MAX};
	if (!ptrace(PTRACE_GETREGSET, t->tid, (void *)NT_X86_XSTATE, &iov)) {
		t->xstate_len = iov.iov_len;
	} else if (!ptrace(PTRACE_GETFPREGS, t->tid, 0, t->xstate)) {
		t->xstate_legacy = 1;
		t->xstate_len = sizeof(struct user_fpregs_struct);
	} else {
		return snprintf(why, whylen, "cannot read the FPU state: %s", strerror(errno)),
		       -errno;
	}
	if (ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(uint64_t), &t->saved_mask))
		return snprintf(why, whylen, "PTRACE_GETSIGMASK: %s", strerror(errno)), -errno;
	t->scratch_sp = (t->saved.rsp - RED_ZONE) & ~(uint64_t)15;
	return 0;
}

void xs_pt_release(struct xs_pt_thread *t)
{
	if (t->seized)
		ptrace(PTRACE_DETACH, t->tid, 0, 0);
	t->seized = 0;
	free(t->xstate);
	t->xstate = NULL;
}

int xs_pt_stop(struct xs_pt_thread *t, pid_t tid, char *why, size_t whylen)
{
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	if (ptrace(PTRACE_SEIZE, tid, 0, 0))
		return -errno; /* the caller explains */
	t->seized = 1;
	int st, rc;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0)) {
		rc = -errno;
		snprintf(why, whylen, "PTRACE_INTERRUPT of thread %d: %s", (int)tid,
		         strerror(errno));
		xs_pt_release(t);
		return rc;
	}
	t->t_stop = now_ns();
	/* A signal may be reported before the interrupt: let it through. */
	while (!(rc = wait_stop(t, &st)) && WIFSTOPPED(st) && (st >> 16) != PTRACE_EVENT_STOP)
		if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(st)))
			break;
	if (rc || !WIFSTOPPED(st)) {
		snprintf(why, whylen, "thread %d did not stop (%s)", (int)tid,
		         rc ? strerror(-rc) : "it exited");
		t->seized = rc ? t->seized : 0;
		xs_pt_release(t);
		return rc ? rc : -ESRCH;
	}
	rc = save_state(t, why, whylen);
	if (rc)
		xs_pt_release(t);
	return rc;
}

static int mem_io(struct xs_pt_thread *t, uint64_t addr, void *buf, size_t len, int write)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)t->tid);
	int fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write ? pwrite(fd, buf, len, (off_t)addr) : pread(fd, buf, len, (off_t)addr);
	int rc = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

int xs_pt_read(struct xs_pt_thread *t, uint64_t addr, void *buf, size_t len)
{
	return mem_io(t, addr, buf, len, 0);
}

int xs_pt_push(struct xs_pt_thread *t, const void *data, size_t len, uint64_t *addr)
{
	uint64_t sp = (t->scratch_sp - len) & ~(uint64_t)15;
	int rc = mem_io(t, sp, (void *)data, len, 1);
	if (rc)
		return rc;
	t->scratch_sp = sp;
	*addr = sp;
	return 0;
}

static int put_state(struct xs_pt_thread *t, char *why, size_t whylen)
{
	struct iovec iov = {t->xstate, t->xstate_len};
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->saved))
		return snprintf(why, whylen, "PTRACE_SETREGS: %s", strerror(errno)), -errno;
	if (t->xstate_legacy ? ptrace(PTRACE_SETFPREGS, t->tid, 0, t->xstate)
	                     : ptrace(PTRACE_SETREGSET, t->tid, (void *)NT_X86_XSTATE, &iov))
		return snprintf(why, whylen, "cannot restore the FPU state: %s", strerror(errno)),
		       -errno;
	if (ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(uint64_t), &t->saved_mask))
		return snprintf(why, whylen, "PTRACE_SETSIGMASK: %s", strerror(errno)), -errno;
	return 0;
}

int xs_pt_restore(struct xs_pt_thread *t, char *why, size_t whylen)
{
	int rc = put_state(t, why, whylen);
	t->held_ns = now_ns() - t->t_stop;
	xs_pt_release(t);
	return rc;
}

/* The thread stopped somewhere that is not our return: restore it. */
static int abandon(struct xs_pt_thread *t, int rc, char *why, size_t whylen)
{
	size_t l = strlen(why);
	char more[256] = "";
	if (xs_pt_restore(t, more, sizeof(more)))
		snprintf(why + l, whylen - l, "; restoring thread %d failed too: %s", (int)t->tid,
		         more);
	return rc;
}

int xs_pt_call(struct xs_pt_thread *t, uint64_t fn, uint64_t a0, uint64_t a1, uint64_t *ret,
               char *why, size_t whylen)
{
	static const uint64_t zero = 0;
	uint64_t ra;
	int rc = xs_pt_push(t, &zero, 8, &ra);
	if (rc)
		return snprintf(why, whylen, "cannot write the thread's stack: %s", strerror(-rc)),
		       abandon(t, rc, why, whylen);
	/* xs_pt_push aligned to 16; the return address sits at rsp, so at the
	 * function's entry rsp + 8 is 16-byte aligned, as after a call. */
	uint64_t sp = ra;
	if ((sp & 15) == 0) {
		sp -= 8;
		if ((rc = mem_io(t, sp, (void *)&zero, 8, 1)))
			return snprintf(why, whylen, "cannot write the thread's stack: %s",
			                strerror(-rc)),
			       abandon(t, rc, why, whylen);
	}
	struct user_regs_struct r = t->saved;
	r.rip = fn;
	r.rsp = sp;
	r.rdi = a0;
	r.rsi = a1;
	r.rax = 0;
	r.orig_rax = (uint64_t)-1;
	r.eflags &= ~(uint64_t)(0x400 | 0x100); /* DF and TF clear */
	uint64_t mask = ~(sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) | sigbit(SIGFPE) |
	                  sigbit(SIGTRAP) | sigbit(SIGSYS));
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &r) ||
	    ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(uint64_t), &mask) ||
	    ptrace(PTRACE_CONT, t->tid, 0, 0)) {
		rc = -errno;
		snprintf(why, whylen, "cannot start the call in thread %d: %s", (int)t->tid,
		         strerror(errno));
		return abandon(t, rc, why, whylen);
	}
	for (;;) {
		int st;
		if ((rc = wait_stop(t, &st))) {
			snprintf(why, whylen, "waiting for thread %d: %s", (int)t->tid,
			         strerror(-rc));
			return abandon(t, rc, why, whylen);
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			t->seized = 0;
			xs_pt_release(t);
			snprintf(why, whylen, "the process ended during the call (%s %d)",
			         WIFEXITED(st) ? "exit status" : "signal",
			         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			return -ESRCH;
		}
		int sig = WSTOPSIG(st);
		if ((st >> 16) == PTRACE_EVENT_STOP) {
			/* a group stop or a stray interrupt: the call goes on */
			ptrace(PTRACE_CONT, t->tid, 0, 0);
			continue;
		}
		struct user_regs_struct now;
		if (ptrace(PTRACE_GETREGS, t->tid, 0, &now)) {
			rc = -errno;
			snprintf(why, whylen, "PTRACE_GETREGS: %s", strerror(errno));
			return abandon(t, rc, why, whylen);
		}
		if (sig == SIGSEGV && now.rip == 0 && now.rsp == sp + 8) {
			*ret = now.rax;
			return 0;
		}
		if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
		    sig == SIGTRAP || sig == SIGSYS) {
			snprintf(why, whylen,
			         "the called function faulted in thread %d (%s at rip %#llx); the "
			         "fault is suppressed and the thread put back where it was",
			         (int)t->tid, strsignal(sig), (unsigned long long)now.rip);
			return abandon(t, -EFAULT, why, whylen);
		}
		ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig); /* not ours: deliver it */
	}
}
