/* Socket location and trust rules, shared by the agent and the client library. */
#include "common/sockdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A directory is only trusted when it is what the XDG spec promises. */
static int runtime_dir_usable(const char *d, uid_t uid)
{
	struct stat st;
	if (!d || d[0] != '/')
		return 0;
	if (lstat(d, &st) || !S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 022))
		return 0;
	return 1;
}

int xs_sockdir_default(char *out, size_t n, uid_t uid, const char *xdg_runtime_dir)
{
	char run[64];
	int len;
	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)uid);
	if (runtime_dir_usable(xdg_runtime_dir, uid))
		len = snprintf(out, n, "%s/xsplice", xdg_runtime_dir);
	else if (uid == 0)
		len = snprintf(out, n, "%s", XS_SOCKDIR_ROOT);
	else if (runtime_dir_usable(run, uid))
		len = snprintf(out, n, "%s/xsplice", run);
	else
		len = snprintf(out, n, "/tmp/xsplice-%u", (unsigned)uid);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int xs_sockdir_normalize(const char *in, char *out, size_t n, char *why, size_t wn)
{
	size_t o = 0;
	if (!in || in[0] != '/') {
		snprintf(why, wn, "XSPLICE_DIR=%s is not an absolute path", in ? in : "");
		return -EINVAL;
	}
	for (const char *p = in; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t l = strcspn(p, "/");
		if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.')) {
			snprintf(why, wn, "XSPLICE_DIR=%s has a '.' or '..' component", in);
			return -EINVAL;
		}
		if (o + 1 + l + 1 > n) {
			snprintf(why, wn, "XSPLICE_DIR is too long");
			return -ENAMETOOLONG;
		}
		out[o++] = '/';
		memcpy(out + o, p, l);
		o += l;
		p += l;
	}
	if (o == 0) {
		snprintf(why, wn, "XSPLICE_DIR=%s is the root directory", in);
		return -EINVAL;
	}
	out[o] = '\0';
	return 0;
}

static const char *kind(mode_t m)
{
	return S_ISLNK(m) ? "a symlink" : S_ISDIR(m) ? "a directory" : "not a directory";
}

/* Check one component; `shown` is its path for messages. */
static int check_component(const struct stat *st, const char *shown, uid_t uid, int last,
                           int mode0700, char *why, size_t wn)
{
	if (!S_ISDIR(st->st_mode)) {
		snprintf(why, wn, "%s is %s", shown, kind(st->st_mode));
		return -ENOTDIR;
	}
	if (st->st_uid != 0 && st->st_uid != uid) {
		snprintf(why, wn, "%s is owned by uid %u (want root or uid %u)", shown,
		         (unsigned)st->st_uid, (unsigned)uid);
		return -EPERM;
	}
	if (last && mode0700 && (st->st_uid != uid || (st->st_mode & 07777) != 0700)) {
		snprintf(why, wn,
		         "%s has owner uid %u and mode %04o (want a directory owned by uid %u "
		         "with mode 0700)",
		         shown, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777),
		         (unsigned)uid);
		return -EPERM;
	}
	int open_to_others = (st->st_mode & 022) != 0;
	int sticky_root = (st->st_mode & S_ISVTX) && st->st_uid == 0;
	if (open_to_others && (last || !sticky_root)) {
		snprintf(why, wn, "%s (owner uid %u) is writable by others (mode %04o)", shown,
		         (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int xs_sockdir_open(int rootfd, const char *dir, uid_t uid, int create, int mode0700, char *why,
                    size_t wn)
{
	struct stat st;
	char shown[4096];
	size_t slen = 0;
	if (dir[0] != '/') {
		snprintf(why, wn, "%s is not an absolute path", dir);
		return -EINVAL;
	}
	int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		snprintf(why, wn, "dup: %s", strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || check_component(&st, "/", uid, 0, 0, why, wn)) {
		close(fd);
		return -EPERM;
	}
	shown[0] = '\0';
	for (const char *p = dir; *p;) {
		while (*p == '/')
			p++;
		size_t l = strcspn(p, "/");
		char name[256];
		if (!l)
			break;
		if (l >= sizeof(name) || slen + l + 2 >= sizeof(shown)) {
			close(fd);
			snprintf(why, wn, "%s: name too long", dir);
			return -ENAMETOOLONG;
		}
		memcpy(name, p, l);
		name[l] = '\0';
		p += l;
		while (*p == '/')
			p++;
		int last = !*p;
		shown[slen++] = '/';
		memcpy(shown + slen, name, l + 1);
		slen += l;
		if (last && create && mkdirat(fd, name, 0700) && errno != EEXIST) {
			int e = errno;
			snprintf(why, wn, "cannot create %s: %s", shown, strerror(e));
			close(fd);
			return -e;
		}
		int nfd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		if (nfd < 0) {
			snprintf(why, wn, "%s: %s", shown, strerror(e));
			return -e;
		}
		fd = nfd;
		int rc = fstat(fd, &st) ? -errno : 0;
		if (rc)
			snprintf(why, wn, "%s: %s", shown, strerror(-rc));
		else
			rc = check_component(&st, shown, uid, last, mode0700, why, wn);
		if (rc) {
			close(fd);
			return rc;
		}
	}
	return fd;
}

int xs_sock_name(char *out, size_t n, pid_t pid, unsigned long pidns_ino)
{
	int len = pidns_ino == XS_PIDNS_INIT_INO
	              ? snprintf(out, n, "%d.sock", (int)pid)
	              : snprintf(out, n, "%d-%lu.sock", (int)pid, pidns_ino);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

unsigned long xs_pidns_ino(pid_t pid)
{
	char path[64];
	struct stat st;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/pid");
	if (stat(path, &st))
		return XS_PIDNS_INIT_INO;
	return (unsigned long)st.st_ino;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int xs_sock_connect_opath(int sockfd, long long deadline_ns)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", sockfd);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		int e = errno;
		if (e == EINTR)
			continue;
		/* a full backlog: the agent is busy accepting, try again shortly */
		if (e == EAGAIN && (deadline_ns < 0 || now_ns() < deadline_ns)) {
			poll(NULL, 0, 5);
			continue;
		}
		close(fd);
		return e == EAGAIN ? -ETIMEDOUT : -e;
	}
}

/* "123.sock" or "123-4026531836.sock" */
static int socket_like(const char *n)
{
	size_t i = 0;
	while (n[i] >= '0' && n[i] <= '9')
		i++;
	if (!i)
		return 0;
	if (n[i] == '-') {
		size_t j = ++i;
		while (n[i] >= '0' && n[i] <= '9')
			i++;
		if (i == j)
			return 0;
	}
	return !strcmp(n + i, ".sock");
}

int xs_sockdir_sweep(int dirfd)
{
	int rfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return 0;
	DIR *d = fdopendir(rfd);
	if (!d) {
		close(rfd);
		return 0;
	}
	int removed = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (!socket_like(e->d_name) ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISSOCK(st.st_mode))
			continue;
		int sfd = openat(dirfd, e->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			continue;
		int c = xs_sock_connect_opath(sfd, 0);
		close(sfd);
		if (c >= 0)
			close(c);
		else if (c == -ECONNREFUSED && !unlinkat(dirfd, e->d_name, 0))
			removed++;
	}
	closedir(d);
	return removed;
}

int xs_sock_path(char *out, size_t n, const char *dir, pid_t pid)
{
	struct sockaddr_un sa;
	int len = snprintf(out, n, "%s/%d.sock", dir, (int)pid);
	if (len < 0 || (size_t)len >= n || (size_t)len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	return 0;
}
