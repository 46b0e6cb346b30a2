/* /proc/self/task/TID readers (see threadinfo.h). */
#include "agent/threadinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/rawsys.h"

const char *xs_parse_num(const char *p, uintptr_t *v, int *neg)
{
	int base = 10;
	*v = 0;
	*neg = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '-')
		*neg = 1, p++;
	if (p[0] == '0' && p[1] == 'x')
		base = 16, p += 2;
	const char *start = p;
	for (;; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else
			break;
		*v = *v * base + d;
	}
	return p == start ? NULL : p;
}

char *xs_task_path(char *buf, pid_t tid, const char *leaf)
{
	char *p = buf;
	for (const char *s = "/proc/self/task/"; *s;)
		*p++ = *s++;
	p = xs_fmt_u64(p, (uint64_t)tid);
	*p++ = '/';
	while (*leaf)
		*p++ = *leaf++;
	*p = 0;
	return buf;
}

/* "nr a1 a2 a3 a4 a5 a6 sp pc", "-1 sp pc" or "running" */
void xs_task_syscall(pid_t tid, struct xs_sysinfo *out)
{
	char path[64], buf[256];
	uintptr_t v[9];
	int neg;
	out->nr = -1;
	if (xs_raw_read_file(xs_task_path(path, tid, "syscall"), buf, sizeof(buf)) <= 0)
		return;
	const char *p = buf;
	for (int i = 0; i < 9; i++) {
		p = xs_parse_num(p, &v[i], &neg);
		if (!p || (neg && i == 0))
			return;
	}
	for (int i = 0; i < 6; i++)
		out->args[i] = v[1 + i];
	out->pc = v[8];
	out->nr = (long)v[0];
}

static int stat_field(const struct xs_held *h, int field, uintptr_t *out)
{
	static const struct xs_held none;
	char buf[1024];
	long n =
	    field < 4 ? -1 : xs_held_read(h ? h : &none, "/proc/self/stat", buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *rp = NULL; /* the name may hold ')': the fields follow the last */
	for (char *p = buf; *p; p++)
		if (*p == ')')
			rp = p;
	if (!rp || rp[1] != ' ' || !rp[2])
		return -1;
	/* after the state letter (field 3): ppid is field 4 */
	const char *p = rp + 3;
	int neg = 0;
	for (int f = 4; f <= field; f++)
		if (!(p = xs_parse_num(p, out, &neg)))
			return -1;
	return neg ? -1 : 0;
}

int xs_proc_stat_field(int field, uintptr_t *out)
{
	return stat_field(NULL, field, out);
}

unsigned xs_proc_nthreads(const struct xs_held *stat)
{
	uintptr_t v;
	return stat_field(stat, 20, &v) ? 0 : (unsigned)v;
}

char xs_task_state(pid_t tid)
{
	char path[64], buf[512];
	if (xs_raw_read_file(xs_task_path(path, tid, "stat"), buf, sizeof(buf)) <= 0)
		return 0;
	char *rp = NULL; /* the name may hold ')': the state follows the last */
	for (char *p = buf; *p; p++)
		if (*p == ')')
			rp = p;
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

int xs_task_dead(pid_t pid, pid_t tid)
{
	if (xs_sys3(SYS_tgkill, pid, tid, 0) == -ESRCH)
		return 1;
	char st = xs_task_state(tid);
	return !st || st == 'Z' || st == 'X';
}

/* The hex mask after "\nKey:" in a status text has signo set? */
static int mask_has(const char *status, const char *key, int signo)
{
	size_t kl = 0;
	while (key[kl])
		kl++;
	for (const char *p = status; *p; p++) {
		size_t i = 0;
		while (i < kl && p[i] == key[i])
			i++;
		if (i < kl)
			continue;
		p += kl;
		while (*p == ' ' || *p == '\t')
			p++;
		uintptr_t m = 0;
		for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
			m = m << 4 | (uintptr_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
		return signo >= 1 && signo <= 64 && ((m >> (signo - 1)) & 1);
	}
	return 0;
}

int xs_task_sig_pending(pid_t tid, int signo)
{
	char path[64], buf[2048];
	if (xs_raw_read_file(xs_task_path(path, tid, "status"), buf, sizeof(buf)) <= 0)
		return 0;
	return mask_has(buf, "\nSigPnd:", signo);
}

void xs_thread_name(pid_t tid, char *out, size_t cap)
{
	char path[64], buf[64];
	long n = xs_raw_read_file(xs_task_path(path, tid, "comm"), buf, sizeof(buf));
	if (n <= 0) {
		snprintf(out, cap, "?");
		return;
	}
	if (buf[n - 1] == '\n')
		buf[n - 1] = 0;
	snprintf(out, cap, "%s", buf);
}

void xs_thread_describe(pid_t tid, int signo, int in_handler, unsigned long waited_ms, char *out,
                        size_t cap)
{
	char path[64], status[4096], name[64];
	xs_thread_name(tid, name, sizeof(name));
	if (xs_raw_read_file(xs_task_path(path, tid, "status"), status, sizeof(status)) <= 0) {
		snprintf(out, cap, "thread %d (%s) did not stop and has exited since", tid, name);
		return;
	}
	char state = xs_task_state(tid);
	if (state == 'T')
		snprintf(out, cap,
		         "thread %d (%s) is stopped (SIGSTOP or a job-control stop); resume the "
		         "process with kill -CONT",
		         tid, name);
	else if (state == 't')
		snprintf(out, cap, "thread %d (%s) is stopped by a debugger (ptrace)", tid, name);
	else if (state == 'D')
		snprintf(out, cap, "thread %d (%s) is in uninterruptible sleep (state D)", tid,
		         name);
	else if (in_handler)
		/* our handler blocks every signal while it runs: the thread has
		 * not yet left the pause of an earlier attempt */
		snprintf(
		    out, cap,
		    "thread %d (%s) is late: inside the agent's signal handler (not yet "
		    "parked, or leaving an earlier pause), %s for %lu ms (the machine is busy)",
		    tid, name, state == 'R' ? "runnable but not run" : "waiting", waited_ms);
	else if (mask_has(status, "\nSigBlk:", signo))
		snprintf(out, cap,
		         "thread %d (%s) blocks signal %d (XSPLICE_SIGNAL), so it cannot be paused",
		         tid, name, signo);
	else if (state == 'R')
		snprintf(out, cap,
		         "thread %d (%s) is late: runnable (state R) but not yet run %lu ms after "
		         "it was signalled (the machine is busy)",
		         tid, name, waited_ms);
	else
		snprintf(out, cap, "thread %d (%s) did not answer signal %d in %lu ms (state %c)",
		         tid, name, signo, waited_ms, state ? state : '?');
}
