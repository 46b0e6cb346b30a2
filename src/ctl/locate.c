/*
 * Finding and authenticating the control socket of a process.  The agent
 * put it in DIR/<name> (common/sockdir.h), where DIR is the *target's*
 * XSPLICE_DIR or its uid's default, in the target's mount namespace.  The
 * client looks through /proc/PID/root (the target's view of the file
 * system; "/" when that is not ours to open), trying in order:
 *
 *   1. its own $XSPLICE_DIR (the user says where to look; also in our own
 *      mount namespace);
 *   2. XSPLICE_DIR from /proc/PID/environ (readable for our own processes);
 *   3. the default for the target's uid with the target's XDG_RUNTIME_DIR;
 *   4. the default without it (/run/xsplice for root, /run/user/UID/xsplice,
 *      /tmp/xsplice-UID).
 *
 * The first candidate that holds the socket wins.  Before a request is sent,
 * xs_ctl_dial() checks the whole path and the peer's credentials: a socket
 * another user could have put there is refused, never talked to.
 */
#include "ctl/ctl_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sockdir.h"

#define NCAND 5

/* Effective uid and innermost pid (NSpid) of pid from /proc/PID/status. */
static int target_ids(pid_t pid, uid_t *uid, pid_t *nspid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int rc = -EIO;
	*nspid = pid;
	while (fgets(line, sizeof(line), f)) {
		unsigned r, e;
		if (sscanf(line, "Uid: %u %u", &r, &e) == 2) {
			*uid = e;
			rc = 0;
		} else if (!strncmp(line, "NSpid:", 6)) {
			char *last = strrchr(line, '\t');
			long v = last ? strtol(last + 1, NULL, 10) : 0;
			if (v > 0)
				*nspid = (pid_t)v;
		}
	}
	fclose(f);
	return rc;
}

char xs_ctl_proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *rp = strrchr(buf, ')'); /* the name may hold anything */
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

/* Value of `key` in the target's initial environment, or NULL (malloc'd). */
static char *target_env(pid_t pid, const char *key)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t r = 0;
	while (buf && len < cap && (r = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)r;
	close(fd);
	if (!buf)
		return NULL;
	buf[len] = '\0';
	size_t klen = strlen(key);
	char *val = NULL;
	for (size_t i = 0; i < len && !val; i += strlen(buf + i) + 1)
		if (!strncmp(buf + i, key, klen) && buf[i + klen] == '=' && buf[i + klen + 1])
			val = strdup(buf + i + klen + 1);
	free(buf);
	return val;
}

static void candidates(pid_t pid, uid_t uid, char cand[NCAND][4096])
{
	char why[256];
	const char *mine = getenv(XS_SOCKDIR_ENV);
	char *theirs = target_env(pid, XS_SOCKDIR_ENV);
	char *xdg = target_env(pid, "XDG_RUNTIME_DIR");

	for (int i = 0; i < NCAND; i++)
		cand[i][0] = '\0';
	if (mine && xs_sockdir_normalize(mine, cand[0], 4096, why, sizeof(why)))
		cand[0][0] = '\0';
	if (theirs && xs_sockdir_normalize(theirs, cand[1], 4096, why, sizeof(why)))
		cand[1][0] = '\0';
	if (xdg && xs_sockdir_default(cand[2], 4096, uid, xdg))
		cand[2][0] = '\0';
	xs_sockdir_default(cand[3], 4096, uid, NULL);
	free(theirs);
	free(xdg);
}

/* "a, b, c": truncated when full */
static void append(char *list, size_t size, const char *item)
{
	size_t l = strlen(list);
	if (l && l + 2 < size) {
		memcpy(list + l, "; ", 3);
		l += 2;
	}
	size_t n = strnlen(item, size - l - 1);
	memcpy(list + l, item, n);
	list[l + n] = '\0';
}

static int seen_before(char cand[NCAND][4096], int i)
{
	for (int j = 0; j < i; j++)
		if (!strcmp(cand[j], cand[i]))
			return 1;
	return 0;
}

/* O_PATH of "/" or of the target's root directory. */
static int open_root(pid_t pid, int proc_root)
{
	char path[64];
	if (!proc_root)
		return open("/", O_PATH | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* Same mount namespace and same root directory as us (or cannot tell)? */
static int same_fs_view(pid_t pid)
{
	char a[64], b[64];
	struct stat x, y;
	snprintf(a, sizeof(a), "/proc/%d/ns/mnt", (int)pid);
	snprintf(b, sizeof(b), "/proc/%d/root", (int)pid);
	if (stat(a, &x) || stat("/proc/self/ns/mnt", &y))
		return 1;
	if (x.st_ino != y.st_ino || x.st_dev != y.st_dev)
		return 0;
	if (stat(b, &x) || stat("/", &y))
		return 1;
	return x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

static void set_shown(struct xs_loc *loc)
{
	if (loc->proc_root && loc->pid)
		snprintf(loc->shown, sizeof(loc->shown),
		         "%s/%s (in the mount namespace of process %d)", loc->dir, loc->name,
		         (int)loc->pid);
	else
		snprintf(loc->shown, sizeof(loc->shown), "%s/%s", loc->dir, loc->name);
}

/* Does the socket exist in loc (without checking the path)? */
static int socket_exists(const struct xs_loc *loc)
{
	int root = open_root(loc->pid, loc->proc_root);
	if (root < 0)
		return 0;
	char rel[4200];
	struct stat st;
	snprintf(rel, sizeof(rel), ".%s/%s", loc->dir, loc->name);
	int ok = !fstatat(root, rel, &st, AT_SYMLINK_NOFOLLOW);
	close(root);
	return ok;
}

/* One candidate: 1 found (loc set), 0 not there (note in looked), or a
 * negative errno when the socket is there but may not be trusted. */
static int try_dir(struct xs_loc *loc, char *looked, size_t lsize, char *why, size_t whylen)
{
	char reason[1200], item[1400];
	int root = open_root(loc->pid, loc->proc_root);
	if (root < 0)
		return 0;
	int dfd = xs_sockdir_open(root, loc->dir, loc->uid, 0, 0, reason, sizeof(reason));
	close(root);
	set_shown(loc);
	if (dfd < 0) {
		if (dfd != -ENOENT && socket_exists(loc)) {
			snprintf(why, whylen,
			         "refusing the agent socket %s: %s; another user could have put it "
			         "there",
			         loc->shown, reason);
			return -EPERM;
		}
		snprintf(item, sizeof(item), "%.300s: %.1000s", loc->dir,
		         dfd == -ENOENT ? "no such directory" : reason);
		append(looked, lsize, item);
		return dfd == -EACCES ? -EACCES : 0;
	}
	struct stat st;
	int found = !fstatat(dfd, loc->name, &st, AT_SYMLINK_NOFOLLOW);
	close(dfd);
	if (found)
		return 1;
	snprintf(item, sizeof(item), "%.300s: no %s", loc->dir, loc->name);
	append(looked, lsize, item);
	return 0;
}

int xs_ctl_locate(pid_t pid, struct xs_loc *loc, char *why, size_t whylen)
{
	char cand[NCAND][4096];
	char looked[2048] = "";
	uid_t uid = 0;
	pid_t nspid = pid;
	int denied = 0;

	memset(loc, 0, sizeof(*loc));
	if (pid <= 0)
		return snprintf(why, whylen, "invalid pid %d", (int)pid), -EINVAL;
	int rc = target_ids(pid, &uid, &nspid);
	if (rc)
		return snprintf(why, whylen, "no process %d: %s", (int)pid, strerror(-rc)), -ESRCH;
	loc->pid = pid;
	loc->uid = uid;
	if (xs_sock_name(loc->name, sizeof(loc->name), nspid, xs_pidns_ino(pid)))
		return snprintf(why, whylen, "bad pid"), -EINVAL;
	/* the target's view of the file system, when it is not ours */
	int have_proc_root = !same_fs_view(pid);
	candidates(pid, uid, cand);
	for (int i = 0; i < NCAND; i++) {
		if (!cand[i][0] || seen_before(cand, i))
			continue;
		/* in the target's namespace; the user's own XSPLICE_DIR also in ours */
		for (int pr = have_proc_root; pr >= (i == 0 || !have_proc_root ? 0 : 1); pr--) {
			memcpy(loc->dir, cand[i], sizeof(loc->dir));
			loc->proc_root = pr;
			rc = try_dir(loc, looked, sizeof(looked), why, whylen);
			if (rc == 1)
				return 0;
			if (rc == -EACCES)
				denied = 1;
			else if (rc < 0)
				return rc;
		}
	}
	loc->dir[0] = '\0';
	if (denied) {
		snprintf(why, whylen,
		         "cannot look for the agent socket of process %d: %s (the process belongs "
		         "to uid %u)",
		         (int)pid, looked, (unsigned)uid);
		return -EACCES;
	}
	snprintf(why, whylen,
	         "process %d has no xsplice agent socket (looked in %s); is it running "
	         "under the agent (xsplice run, or LD_PRELOAD=libxsplice.so)? If not, "
	         "'xsplice -p %d attach' loads the agent into it",
	         (int)pid, looked, (int)pid);
	return -ENOENT;
}

int xs_ctl_loc_path(const char *path, struct xs_loc *loc, char *why, size_t whylen)
{
	char norm[4096], abs[4096 + 256];
	struct stat st;
	memset(loc, 0, sizeof(*loc));
	if (path[0] != '/') { /* relative to where the caller is */
		char cwd[4096];
		if (!getcwd(cwd, sizeof(cwd)))
			return snprintf(why, whylen, "getcwd: %s", strerror(errno)), -errno;
		snprintf(abs, sizeof(abs), "%s/%.255s", cwd, path);
		path = abs;
	}
	int rc = xs_sockdir_normalize(path, norm, sizeof(norm), why, whylen);
	if (rc)
		return rc;
	char *slash = strrchr(norm, '/');
	if (strlen(slash + 1) >= sizeof(loc->name) || slash == norm)
		return snprintf(why, whylen, "bad socket path %s", path), -EINVAL;
	snprintf(loc->name, sizeof(loc->name), "%s", slash + 1);
	*slash = '\0';
	snprintf(loc->dir, sizeof(loc->dir), "%s", norm);
	if (lstat(path, &st))
		return snprintf(why, whylen, "the agent socket %s: %s", path, strerror(errno)),
		       -errno;
	loc->uid = st.st_uid;
	set_shown(loc);
	return 0;
}

int xs_ctl_dial(const struct xs_loc *loc, long long deadline_ns, char *why, size_t whylen)
{
	char reason[1200];
	struct stat st;
	int root = open_root(loc->pid, loc->proc_root);
	if (root < 0)
		return snprintf(why, whylen, "cannot open the root of process %d: %s",
		                (int)loc->pid, strerror(errno)),
		       -errno;
	int dfd = xs_sockdir_open(root, loc->dir, loc->uid, 0, 0, reason, sizeof(reason));
	close(root);
	if (dfd < 0) {
		snprintf(why, whylen, "refusing the agent socket %s: %s", loc->shown, reason);
		return dfd == -ENOENT ? -ENOENT : -EPERM;
	}
	int sfd = openat(dfd, loc->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		int e = errno;
		close(dfd);
		snprintf(why, whylen, "the agent socket %s is gone (the process exited?)",
		         loc->shown);
		return -e;
	}
	if (fstat(sfd, &st) || !S_ISSOCK(st.st_mode) || (st.st_uid && st.st_uid != loc->uid)) {
		snprintf(why, whylen,
		         "refusing the agent socket %s: it is %s owned by uid %u (want a socket "
		         "owned by root or uid %u)",
		         loc->shown, S_ISSOCK(st.st_mode) ? "a socket" : "not a socket",
		         (unsigned)st.st_uid, (unsigned)loc->uid);
		close(sfd);
		close(dfd);
		return -EPERM;
	}
	int fd = xs_sock_connect_opath(sfd, deadline_ns);
	close(sfd);
	if (fd == -ECONNREFUSED) {
		/* nobody listens: the agent's process is gone, whoever has its pid */
		int removed = !unlinkat(dfd, loc->name, 0);
		close(dfd);
		snprintf(why, whylen,
		         "no agent listens on %s (a stale socket: the process exited, was killed "
		         "or exec'd)%s",
		         loc->shown, removed ? "; removed it" : "");
		return fd;
	}
	close(dfd);
	if (fd < 0) {
		if (fd == -ETIMEDOUT)
			snprintf(why, whylen,
			         "the agent at %s did not accept the connection in time (its "
			         "backlog is full)",
			         loc->shown);
		else
			snprintf(why, whylen, "cannot connect to %s: %s", loc->shown,
			         strerror(-fd));
		return fd;
	}
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		int e = errno;
		close(fd);
		snprintf(why, whylen, "cannot read the credentials of %s: %s", loc->shown,
		         strerror(e));
		return -e;
	}
	int ok = loc->pid ? cred.pid == loc->pid : (cred.uid == 0 || cred.uid == loc->uid);
	if (!ok) {
		close(fd);
		if (loc->pid)
			snprintf(
			    why, whylen,
			    "refusing the agent socket %s: it is served by process %d (uid %u), "
			    "not by process %d",
			    loc->shown, (int)cred.pid, (unsigned)cred.uid, (int)loc->pid);
		else
			snprintf(why, whylen,
			         "refusing the agent socket %s: it is served by uid %u, not by its "
			         "owner uid %u or root",
			         loc->shown, (unsigned)cred.uid, (unsigned)loc->uid);
		return -EPERM;
	}
	return fd;
}

XSCTL_API int xsctl_locate(pid_t pid, char *out, size_t n)
{
	char why[512];
	struct xs_loc loc;
	int rc = xs_ctl_locate(pid, &loc, why, sizeof(why));
	if (rc)
		return rc;
	int len = loc.proc_root
	              ? snprintf(out, n, "/proc/%d/root%s/%s", (int)pid, loc.dir, loc.name)
	              : snprintf(out, n, "%s/%s", loc.dir, loc.name);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}
