/* /proc/self/maps snapshots (see maps.h). */
#include "agent/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "agent/rawsys.h"

static const char *hex(const char *p, const char *end, uintptr_t *v)
{
	const char *start = p;
	*v = 0;
	for (; p < end; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else
			break;
		*v = *v << 4 | d;
	}
	return p == start ? NULL : p;
}

/* "lo-hi rwxp offset dev inode   path" */
static int parse_line(const char *p, const char *end, struct xs_map *out)
{
	p = hex(p, end, &out->lo);
	if (!p || p >= end || *p != '-')
		return -1;
	p = hex(p + 1, end, &out->hi);
	if (!p || end - p < 6)
		return -1;
	p++;
	out->flags = (p[0] == 'r' ? XS_MAP_R : 0) | (p[1] == 'w' ? XS_MAP_W : 0) |
	             (p[2] == 'x' ? XS_MAP_X : 0) | (p[3] == 's' ? XS_MAP_SHARED : 0);
	/* skip perms, offset, dev, inode: four fields */
	for (int f = 0; f < 4 && p < end; f++) {
		while (p < end && *p != ' ')
			p++;
		while (p < end && *p == ' ')
			p++;
	}
	if (p >= end)
		out->flags |= XS_MAP_ANON;
	else if (end - p >= 7 && !memcmp(p, "[stack]", 7))
		out->flags |= XS_MAP_STACK;
	return 0;
}

static long read_all(struct xs_maps *m)
{
	long len = xs_held_read(&m->held, "/proc/self/maps", m->buf, m->buf_cap);
	return len == (long)m->buf_cap ? -ENOSPC : len;
}

/* struct procmap_query of <linux/fs.h> (kernel 6.11; Debian 12's headers
 * predate it), and _IOWR('f', 17, that struct). */
struct pm_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define PM_QUERY 0xC0686611ul
enum { PM_R = 1, PM_W = 2, PM_X = 4, PM_SHARED = 8 };

int xs_maps_query(struct xs_maps *m, uintptr_t addr, struct xs_map *out)
{
	_Static_assert(sizeof(struct pm_query) == 0x68, "struct procmap_query");
	if (!m->held.open || m->no_query)
		return -ENOTTY;
	struct pm_query q;
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.query_addr = addr;
	long r = xs_sys3(SYS_ioctl, m->held.fd, PM_QUERY, &q);
	if (r == -ENOENT)
		return -ENOENT;
	if (r) {
		if (r == -ENOTTY || r == -EINVAL)
			m->no_query = 1;
		return r < 0 ? (int)r : -EIO;
	}
	out->lo = q.vma_start;
	out->hi = q.vma_end;
	out->flags = (q.vma_flags & PM_R ? XS_MAP_R : 0) | (q.vma_flags & PM_W ? XS_MAP_W : 0) |
	             (q.vma_flags & PM_X ? XS_MAP_X : 0) |
	             (q.vma_flags & PM_SHARED ? XS_MAP_SHARED : 0);
	return out->lo <= addr && addr < out->hi ? 0 : -EIO;
}

void xs_maps_hold(struct xs_maps *m)
{
	xs_held_open(&m->held, "/proc/self/maps");
}

void xs_maps_unhold(struct xs_maps *m)
{
	xs_held_close(&m->held);
}

int xs_maps_read(struct xs_maps *m)
{
	long len = read_all(m);
	if (len < 0)
		return (int)len;
	const char *p = m->buf, *end = m->buf + len;
	m->n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (m->n == m->cap)
			return -ENOSPC;
		if (!parse_line(p, nl, &m->v[m->n]))
			m->n++;
		p = nl + 1;
	}
	return 0;
}

int xs_maps_prepare(struct xs_maps *m, struct xs_err *err)
{
	for (int tries = 0; tries < 8; tries++) {
		if (m->buf && !xs_maps_read(m) && m->n * 2 <= m->cap && m->n * 160 <= m->buf_cap)
			return 0;
		size_t bcap = m->buf_cap ? m->buf_cap * 2 : 256 * 1024;
		size_t cap = m->cap ? m->cap * 2 : 2048;
		char *b = realloc(m->buf, bcap);
		if (b)
			m->buf = b, m->buf_cap = bcap;
		struct xs_map *v = realloc(m->v, cap * sizeof(*v));
		if (v)
			m->v = v, m->cap = cap;
		if (!b || !v)
			return xs_err_set(err, -ENOMEM, "out of memory reading /proc/self/maps");
	}
	return xs_err_set(err, -ENOSPC, "/proc/self/maps keeps growing");
}

void xs_maps_free(struct xs_maps *m)
{
	xs_maps_unhold(m);
	free(m->buf);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

const struct xs_map *xs_maps_find(const struct xs_maps *m, uintptr_t addr)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < m->v[mid].lo)
			hi = mid;
		else if (addr >= m->v[mid].hi)
			lo = mid + 1;
		else
			return &m->v[mid];
	}
	return NULL;
}

int xs_maps_is_stack(const struct xs_maps *m, const struct xs_map *map)
{
	if (map->flags & XS_MAP_STACK)
		return 1;
	if ((map->flags & (XS_MAP_ANON | XS_MAP_R | XS_MAP_W | XS_MAP_X)) !=
	    (XS_MAP_ANON | XS_MAP_R | XS_MAP_W))
		return 0;
	if (map == m->v)
		return 0;
	const struct xs_map *below = map - 1;
	return below->hi == map->lo && !(below->flags & (XS_MAP_R | XS_MAP_W | XS_MAP_X));
}
