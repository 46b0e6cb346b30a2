/* The patch store's location and trust rules (see store.h). */
#include "common/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int xs_store_dir(char *out, size_t n)
{
	const char *env = secure_getenv(XS_STORE_ENV);
	const char *xdg = secure_getenv("XDG_DATA_HOME");
	const char *home = secure_getenv("HOME");
	int len;
	if (env && env[0])
		len = snprintf(out, n, "%s", env);
	else if (geteuid() == 0)
		len = snprintf(out, n, "%s", XS_STORE_ROOT_DEFAULT);
	else if (xdg && xdg[0] == '/')
		len = snprintf(out, n, "%s/xsplice/payloads", xdg);
	else if (home && home[0] == '/')
		len = snprintf(out, n, "%s/.local/share/xsplice/payloads", home);
	else
		return -ENOENT;
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int xs_store_check_name(const char *name, const char **why)
{
	size_t n = strlen(name);
	if (n == 0 || n > XS_STORE_NAME_MAX) {
		*why = "a store name is 1 to 121 bytes";
		return -EINVAL;
	}
	if (name[0] == '.') {
		*why = "a store name does not start with '.'";
		return -EINVAL;
	}
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '/' || (unsigned char)*c >= 0x7f) {
			*why = "a store name has no space, '/' or control character";
			return -EINVAL;
		}
	return 0;
}

static int trusted_stat(const struct stat *st, const char *path, int dir, uid_t uid, char *why,
                        size_t whylen)
{
	const char *kind = S_ISLNK(st->st_mode)   ? "a symlink"
	                   : S_ISDIR(st->st_mode) ? "a directory"
	                   : S_ISREG(st->st_mode) ? "a regular file"
	                                          : "a special file";
	if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "%s is %s, not %s", path, kind,
		         dir ? "a directory" : "a regular file");
		return -EPERM;
	}
	if (st->st_uid != 0 && st->st_uid != uid) {
		snprintf(why, whylen, "%s belongs to uid %u (want root or uid %u)", path,
		         (unsigned)st->st_uid, (unsigned)uid);
		return -EPERM;
	}
	if (st->st_mode & 022) {
		snprintf(why, whylen, "%s is writable by %s (mode %04o)", path,
		         (st->st_mode & 002) ? "everyone" : "its group",
		         (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int xs_store_check_trusted(const char *path, int dir, uid_t uid, char *why, size_t whylen)
{
	struct stat st;
	if (lstat(path, &st)) {
		int e = errno;
		snprintf(why, whylen, "%s: %s", path, strerror(e));
		return -e;
	}
	return trusted_stat(&st, path, dir, uid, why, whylen);
}

int xs_store_entry_name(const char *file, char *name, size_t n)
{
	size_t len = strlen(file), sl = strlen(XS_STORE_SUFFIX);
	const char *why;
	if (len <= sl || strcmp(file + len - sl, XS_STORE_SUFFIX) || len - sl >= n)
		return -1;
	memcpy(name, file, len - sl);
	name[len - sl] = '\0';
	return xs_store_check_name(name, &why) ? -1 : 0;
}

int xs_store_read(const char *path, uid_t uid, size_t max, void **data, size_t *len, char *why,
                  size_t whylen)
{
	struct stat st;
	*data = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		snprintf(why, whylen, "%s: %s", path,
		         e == ELOOP ? "a symlink, not a regular file" : strerror(e));
		return e == ELOOP ? -EPERM : -e;
	}
	int rc = fstat(fd, &st) ? -errno : trusted_stat(&st, path, 0, uid, why, whylen);
	if (!rc && (st.st_size <= 0 || (size_t)st.st_size > max)) {
		snprintf(why, whylen, "%s has %lld bytes; want 1 to %zu", path,
		         (long long)st.st_size, max);
		rc = -EFBIG;
	}
	char *buf = rc ? NULL : malloc((size_t)st.st_size);
	if (!rc && !buf) {
		snprintf(why, whylen, "out of memory reading %s", path);
		rc = -ENOMEM;
	}
	size_t got = 0;
	while (!rc && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			snprintf(why, whylen, "cannot read %s: %s", path,
			         r < 0 ? strerror(errno) : "it shrank");
		} else
			got += (size_t)r;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*data = buf;
	*len = got;
	return 0;
}
