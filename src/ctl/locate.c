/*
 * Finding the control socket of a process.  The agent put it in
 * $XSPLICE_DIR/<pid>.sock, where XSPLICE_DIR is the *target's* setting or
 * the target uid's default; the client tries, in order:
 *
 *   1. its own $XSPLICE_DIR (the user says where to look);
 *   2. XSPLICE_DIR from /proc/PID/environ (readable for our own processes);
 *   3. the default for the target's uid with the target's XDG_RUNTIME_DIR;
 *   4. /run/user/<uid>/xsplice, then /tmp/xsplice-<uid>.
 *
 * The first candidate that holds a socket named <pid>.sock wins.
 */
#include "ctl/ctl_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sockdir.h"

#define NCAND 5

/* Effective uid of pid from /proc/PID/status: 0 or -errno. */
static int target_uid(pid_t pid, uid_t *uid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int rc = -EIO;
	while (fgets(line, sizeof(line), f)) {
		unsigned r, e;
		if (sscanf(line, "Uid: %u %u", &r, &e) == 2) {
			*uid = e;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
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
	const char *mine = getenv(XS_SOCKDIR_ENV);
	char *theirs = target_env(pid, XS_SOCKDIR_ENV);
	char *xdg = target_env(pid, "XDG_RUNTIME_DIR");
	char run[64];

	snprintf(cand[0], 4096, "%s", mine ? mine : "");
	snprintf(cand[1], 4096, "%s", theirs ? theirs : "");
	cand[2][0] = '\0';
	if (xdg && xs_sockdir_default(cand[2], 4096, uid, xdg))
		cand[2][0] = '\0';
	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)uid);
	if (xs_sockdir_default(cand[3], 4096, uid, run) || !strncmp(cand[3], "/tmp/", 5))
		cand[3][0] = '\0';
	xs_sockdir_default(cand[4], 4096, uid, NULL);
	free(theirs);
	free(xdg);
}

/* "a, b, c": truncated when full */
static void append(char *list, size_t size, const char *item)
{
	size_t l = strlen(list);
	if (l && l + 2 < size) {
		memcpy(list + l, ", ", 3);
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

int xs_ctl_locate(pid_t pid, char *out, size_t n, char *why, size_t whylen)
{
	char cand[NCAND][4096];
	char looked[1024] = "";
	uid_t uid = 0;
	int denied = 0;

	if (pid <= 0)
		return snprintf(why, whylen, "invalid pid %d", (int)pid), -EINVAL;
	int rc = target_uid(pid, &uid);
	if (rc)
		return snprintf(why, whylen, "no process %d: %s", (int)pid, strerror(-rc)), -ESRCH;
	candidates(pid, uid, cand);
	for (int i = 0; i < NCAND; i++) {
		struct stat st;
		char path[4200];
		if (!cand[i][0] || seen_before(cand, i) ||
		    xs_sock_path(path, sizeof(path), cand[i], pid))
			continue;
		if (!lstat(path, &st) && S_ISSOCK(st.st_mode)) {
			snprintf(out, n, "%s", path);
			return strlen(path) < n ? 0 : -ENAMETOOLONG;
		}
		if (errno == EACCES && !denied) {
			denied = 1;
			snprintf(why, whylen,
			         "cannot look for the agent socket of process %d in %s: %s "
			         "(the process belongs to uid %u)",
			         (int)pid, cand[i], strerror(EACCES), (unsigned)uid);
		}
		append(looked, sizeof(looked), cand[i]);
	}
	if (denied)
		return -EACCES;
	snprintf(why, whylen,
	         "process %d has no xsplice agent socket (looked in %s); is it running "
	         "under the agent (xsplice run, or LD_PRELOAD=libxsplice.so)? If not, "
	         "'xsplice -p %d attach' loads the agent into it",
	         (int)pid, looked, (int)pid);
	return -ENOENT;
}

XSCTL_API int xsctl_locate(pid_t pid, char *out, size_t n)
{
	char why[512];
	return xs_ctl_locate(pid, out, n, why, sizeof(why));
}
