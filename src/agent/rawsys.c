/* Async-signal-safe helpers for the quiesce window (see rawsys.h). */
#include "agent/rawsys.h"

#include <fcntl.h>

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

long xs_raw_read_file(const char *path, char *buf, size_t cap)
{
	long fd = xs_raw_open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fd;
	size_t len = 0;
	while (len + 1 < cap) {
		long r = xs_raw_read((int)fd, buf + len, cap - 1 - len);
		if (r == -4 /* EINTR */)
			continue;
		if (r <= 0) {
			if (r < 0 && len == 0) {
				xs_raw_close((int)fd);
				return r;
			}
			break;
		}
		len += (size_t)r;
	}
	buf[len] = 0;
	xs_raw_close((int)fd);
	return (long)len;
}
