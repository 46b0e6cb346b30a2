/*
 * The refusals of `xsplice attach`, decided from /proc before any ptrace
 * call, each with its reason: another architecture, a statically linked
 * program (no dynamic loader, no dlopen), a program already traced, a
 * seccomp filter, and the ptrace permission rules (other uid without
 * CAP_SYS_PTRACE, a non-dumpable process, Yama's ptrace_scope).  When the
 * kernel refuses anyway, xs_explain_ptrace_error says which rule it was.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/inject.h"

#define CAP_SYS_PTRACE_BIT 19

int xs_has_agent(pid_t pid)
{
	struct xs_remote_lib lib;
	int rc = xs_remote_lib_find(pid, "libxsplice.so", &lib);
	return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

/* The value of "Key:" in /proc/PID/status (pid 0: ourselves), or -1. */
static int status_field(pid_t pid, const char *key, char *out, size_t n)
{
	char path[64], line[512];
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t k = strlen(key);
	int rc = -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, k) && line[k] == ':') {
			char *v = line + k + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, n, "%s", v);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int have_cap_sys_ptrace(void)
{
	char v[64];
	if (status_field(0, "CapEff", v, sizeof(v)))
		return 0;
	return (strtoull(v, NULL, 16) >> CAP_SYS_PTRACE_BIT) & 1;
}

static unsigned euid_of(pid_t pid)
{
	char v[128];
	unsigned r = 0, e = 0;
	if (status_field(pid, "Uid", v, sizeof(v)) || sscanf(v, "%u %u", &r, &e) != 2)
		return (unsigned)-1;
	return e;
}

static int yama_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int v = -1;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* A non-dumpable process's /proc/PID/ files belong to root, not to its
 * uid (the directory itself may keep the old owner). */
static int non_dumpable(pid_t pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	unsigned uid = euid_of(pid);
	return !stat(path, &st) && uid != (unsigned)-1 && uid != 0 && st.st_uid == 0;
}

void xs_explain_ptrace_error(pid_t pid, int err, char *why, size_t whylen)
{
	unsigned me = (unsigned)geteuid(), them = euid_of(pid);
	int cap = have_cap_sys_ptrace(), yama = yama_scope();
	if (err == ESRCH) {
		snprintf(why, whylen, "process %d is gone", (int)pid);
	} else if (err != EPERM && err != EACCES) {
		snprintf(why, whylen, "cannot trace process %d: %s", (int)pid, strerror(err));
	} else if (them != me && !cap) {
		snprintf(why, whylen,
		         "ptrace of process %d denied: it belongs to uid %u and you are uid %u "
		         "without CAP_SYS_PTRACE (run as its user, or as root)",
		         (int)pid, them, me);
	} else if (non_dumpable(pid) && !cap) {
		snprintf(why, whylen,
		         "ptrace of process %d denied: the process is not dumpable (it called "
		         "prctl(PR_SET_DUMPABLE, 0), or changed credentials); attaching needs "
		         "CAP_SYS_PTRACE",
		         (int)pid);
	} else if (yama >= 1) {
		snprintf(why, whylen,
		         "ptrace of process %d denied by Yama (kernel.yama.ptrace_scope = %d: %s)",
		         (int)pid, yama,
		         yama == 1   ? "only a parent may trace its descendants, or a holder of "
		                       "CAP_SYS_PTRACE"
		         : yama == 2 ? "only a holder of CAP_SYS_PTRACE may trace"
		                     : "no process may be traced at all");
	} else {
		snprintf(why, whylen,
		         "ptrace of process %d denied: %s (a security module, or a missing "
		         "capability)",
		         (int)pid, strerror(err));
	}
}

/* The executable's ELF header: class, machine, and whether it has an
 * interpreter (PT_INTERP).  0 or -errno. */
static int exe_kind(pid_t pid, int *is_x86_64, int *dynamic, char *desc, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	Elf64_Ehdr eh;
	int rc = 0;
	if (pread(fd, &eh, sizeof(eh), 0) < (ssize_t)EI_NIDENT + 4 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG)) {
		rc = -ENOEXEC;
		goto out;
	}
	uint16_t machine = ((Elf32_Ehdr *)&eh)->e_machine; /* same offset */
	*is_x86_64 = eh.e_ident[EI_CLASS] == ELFCLASS64 && machine == EM_X86_64;
	snprintf(desc, n, "%s, e_machine %u",
	         eh.e_ident[EI_CLASS] == ELFCLASS64 ? "ELF64" : "ELF32", (unsigned)machine);
	*dynamic = 0;
	if (!*is_x86_64)
		goto out;
	for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != sizeof(ph))
			break;
		if (ph.p_type == PT_INTERP)
			*dynamic = 1;
	}
out:
	close(fd);
	return rc;
}

int xs_attach_check(pid_t pid, const char *agent_path, char *why, size_t whylen)
{
	char v[256], path[64];
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (access(path, F_OK))
		return snprintf(why, whylen, "no process %d", (int)pid), -ESRCH;
#if !defined(__x86_64__)
	return snprintf(why, whylen, "attach is implemented for x86-64 only"), -ENOTSUP;
#endif
	if (pid == getpid())
		return snprintf(why, whylen, "cannot attach to myself"), -EINVAL;
	if (!status_field(pid, "TracerPid", v, sizeof(v)) && strtol(v, NULL, 10) != 0)
		return snprintf(why, whylen,
		                "process %d is already traced by process %s (a debugger?); "
		                "a process has one tracer at a time: detach it first",
		                (int)pid, v),
		       -EBUSY;
	if (!status_field(pid, "State", v, sizeof(v)) && (v[0] == 'T' || v[0] == 't'))
		return snprintf(why, whylen,
		                "process %d is stopped (%s); continue it first (kill -CONT %d): "
		                "the loader must run in it",
		                (int)pid, v, (int)pid),
		       -EBUSY;
	if (!status_field(pid, "Seccomp", v, sizeof(v)) && strcmp(v, "0"))
		return snprintf(why, whylen,
		                "process %d runs under seccomp (%s mode): the loader and the agent "
		                "make system calls (openat, mmap, mprotect, socket, bind, "
		                "rt_sigaction, clone3, membarrier...) the filter may kill it for; "
		                "refusing",
		                (int)pid, !strcmp(v, "1") ? "strict" : "filter"),
		       -EPERM;
	unsigned me = (unsigned)geteuid(), them = euid_of(pid);
	int cap = have_cap_sys_ptrace();
	if (them != me && !cap)
		return xs_explain_ptrace_error(pid, EPERM, why, whylen), -EPERM;
	if (non_dumpable(pid) && !cap)
		return xs_explain_ptrace_error(pid, EPERM, why, whylen), -EPERM;
	if (yama_scope() >= 2 && (!cap || yama_scope() == 3))
		return xs_explain_ptrace_error(pid, EPERM, why, whylen), -EPERM;
	int x86 = 0, dyn = 0;
	char desc[64] = "";
	int rc = exe_kind(pid, &x86, &dyn, desc, sizeof(desc));
	if (rc == -EACCES || rc == -EPERM)
		return xs_explain_ptrace_error(pid, EPERM, why, whylen), -EPERM;
	if (rc)
		return snprintf(why, whylen, "cannot read the executable of process %d: %s",
		                (int)pid, strerror(-rc)),
		       rc;
	if (!x86)
		return snprintf(why, whylen,
		                "process %d is not an x86-64 program (%s); attach supports "
		                "x86-64 only",
		                (int)pid, desc),
		       -ENOTSUP;
	struct xs_remote_lib libc;
	rc = xs_remote_lib_find(pid, "libc.so.6", &libc);
	if (rc == -ENOENT)
		return snprintf(why, whylen,
		                dyn ? "process %d has no glibc (libc.so.6) mapped: there is no "
		                      "dlopen to load the agent with"
		                    : "process %d is statically linked: it has no dynamic loader "
		                      "and no dlopen to load the agent with",
		                (int)pid),
		       -ENOTSUP;
	if (rc)
		return snprintf(why, whylen, "cannot read the maps of process %d: %s", (int)pid,
		                strerror(-rc)),
		       rc;
	/* the process opens the agent by name in its own mount namespace */
	char theirs[4096 + 64];
	struct stat a, b;
	snprintf(theirs, sizeof(theirs), "/proc/%d/root%s", (int)pid, agent_path);
	if (stat(agent_path, &a))
		return snprintf(why, whylen, "the agent %s: %s", agent_path, strerror(errno)),
		       -errno;
	if (stat(theirs, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return snprintf(why, whylen,
		                "process %d does not see the agent at %s (another mount "
		                "namespace?); install libxsplice.so where it can, and set "
		                "XSPLICE_AGENT to that path",
		                (int)pid, agent_path),
		       -ENOENT;
	return 0;
}
