/* Async-signal-safe helpers for the quiesce window (see rawsys.h). */
#include "agent/rawsys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

char *xs_fmt_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	*p = 0;
	return p;
}

/* Read from offset 0 until end of file or cap bytes. */
static long pread_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len < cap) {
		long r = xs_sys4(SYS_pread64, fd, buf + len, cap - len, (long)len);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return len ? (long)len : r;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	return (long)len;
}

static long read_path(const char *path, char *buf, size_t cap)
{
	long fd = xs_raw_open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fd;
	long len = pread_all((int)fd, buf, cap);
	xs_raw_close((int)fd);
	return len;
}

long xs_raw_read_file(const char *path, char *buf, size_t cap)
{
	long len = read_path(path, buf, cap - 1);
	if (len >= 0)
		buf[len] = 0;
	return len;
}

void xs_held_open(struct xs_held *h, const char *path)
{
	struct stat st;
	long fd = xs_raw_open(path, O_RDONLY | O_CLOEXEC);
	h->open = 0;
	if (fd < 0)
		return;
	if (xs_sys2(SYS_fstat, fd, &st)) {
		xs_raw_close((int)fd);
		return;
	}
	h->fd = (int)fd;
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	h->open = 1;
}

void xs_held_close(struct xs_held *h)
{
	if (h->open)
		xs_raw_close(h->fd);
	h->open = 0;
}

int xs_held_valid(const struct xs_held *h)
{
	struct stat st;
	return h->open && !xs_sys2(SYS_fstat, h->fd, &st) && st.st_dev == h->dev &&
	       st.st_ino == h->ino;
}

long xs_held_read(const struct xs_held *h, const char *path, char *buf, size_t cap)
{
	if (xs_held_valid(h))
		return pread_all(h->fd, buf, cap);
	return read_path(path, buf, cap);
}
