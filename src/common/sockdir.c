/* Socket location rules, shared by the agent and the client library. */
#include "common/sockdir.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>

/* XDG_RUNTIME_DIR is only trusted when it is what the spec promises. */
static int xdg_usable(const char *xdg, uid_t uid)
{
	struct stat st;
	if (!xdg || xdg[0] != '/')
		return 0;
	if (stat(xdg, &st) || !S_ISDIR(st.st_mode) || st.st_uid != uid)
		return 0;
	return 1;
}

int xs_sockdir_default(char *out, size_t n, uid_t uid, const char *xdg_runtime_dir)
{
	int len;
	if (xdg_usable(xdg_runtime_dir, uid))
		len = snprintf(out, n, "%s/xsplice", xdg_runtime_dir);
	else
		len = snprintf(out, n, "/tmp/xsplice-%u", (unsigned)uid);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int xs_sock_path(char *out, size_t n, const char *dir, pid_t pid)
{
	struct sockaddr_un sa;
	int len = snprintf(out, n, "%s/%d.sock", dir, (int)pid);
	if (len < 0 || (size_t)len >= n || (size_t)len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	return 0;
}
