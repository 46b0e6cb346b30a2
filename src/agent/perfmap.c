/*
 * Profilers: perf (and other tools that read the JIT map convention) name
 * code that belongs to no file through /tmp/perf-PID.map, one line per
 * function: "START SIZE NAME" in hex.  At upload the agent appends a line
 * for every function of the payload, named "FUNC [xsplice:PAYLOAD]"; at
 * unload it rewrites the file without them (lines of other writers, e.g.
 * the program's own JIT, are kept).
 *
 * /tmp is shared with every user: the file is opened with O_NOFOLLOW, and
 * used only if it is a regular file owned by the process's effective uid;
 * a file someone else made is left alone (no map).  XSPLICE_PERF_MAP=0
 * turns the map off.
 *
 * Pids are reused: a file last written before this process started was
 * left by a dead process with the same pid (killed before it could clean
 * up), and its lines would name our code after functions it never had.
 * The first upload empties such a file.
 */
#include "agent/perfmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/payload.h"
#include "agent/server.h"
#include "agent/threadinfo.h"
#include "common/buf.h"

static int enabled(void)
{
	const char *v = getenv("XSPLICE_PERF_MAP");
	return !(v && !strcmp(v, "0"));
}

static void map_path(char *out, size_t cap)
{
	snprintf(out, cap, "/tmp/perf-%d.map", (int)getpid());
}

/* The map open for appending (created 0644 if missing), or -1. */
static int open_map(const char *path, int flags)
{
	struct stat st;
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		return -1;
	}
	return fd;
}

/* When this process started, on the realtime clock (ns), 0 if unknown. */
static uint64_t process_start_ns(void)
{
	uintptr_t ticks;
	struct timespec rt, boot;
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0 || xs_proc_stat_field(22, &ticks) || clock_gettime(CLOCK_REALTIME, &rt) ||
	    clock_gettime(CLOCK_BOOTTIME, &boot))
		return 0;
	uint64_t up = (uint64_t)boot.tv_sec * 1000000000u + (uint64_t)boot.tv_nsec;
	uint64_t now = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	uint64_t since_boot = (uint64_t)ticks * (1000000000u / (uint64_t)hz);
	return since_boot <= up && up - since_boot <= now ? now - (up - since_boot) : 0;
}

/* Left by a dead process with our pid?  Written last before we started
 * (with two clock ticks of margin: the start time is counted in ticks). */
static int stale(const struct stat *st)
{
	uint64_t start = process_start_ns(), margin = 2000000000u / (uint64_t)sysconf(_SC_CLK_TCK);
	uint64_t mtime = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
	return start > margin && mtime < start - margin;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void tag(char *out, size_t cap, const struct xsplice_payload *p)
{
	snprintf(out, cap, " [xsplice:%s]\n", p->name);
}

void xs_perfmap_add(struct xsplice_payload *p)
{
	char path[64], t[XSPLICE_NAME_MAX + 16];
	struct xs_buf b;
	if (!enabled() || !p->l.ncode_syms)
		return;
	map_path(path, sizeof(path));
	tag(t, sizeof(t), p);
	xs_buf_init(&b);
	for (unsigned i = 0; i < p->l.ncode_syms; i++) {
		const struct xs_symbol *s = &p->l.code_syms[i];
		xs_buf_printf(&b, "%lx %lx %s%s", (unsigned long)s->addr,
		              (unsigned long)(s->size ? s->size : 1), s->name, t);
	}
	int fd = b.oom ? -1 : open_map(path, O_WRONLY | O_APPEND | O_CREAT);
	struct stat st;
	if (fd >= 0 && !fstat(fd, &st) && st.st_size && stale(&st) && ftruncate(fd, 0)) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0) {
		p->perfmapped = !write_all(fd, b.data, b.len);
		close(fd);
	}
	xs_buf_free(&b);
}

void xs_perfmap_remove(struct xsplice_payload *p)
{
	char path[64], tmp[96], t[XSPLICE_NAME_MAX + 16];
	struct xs_buf keep;
	if (!p->perfmapped)
		return;
	p->perfmapped = 0;
	map_path(path, sizeof(path));
	tag(t, sizeof(t), p);
	int fd = open_map(path, O_RDONLY);
	if (fd < 0)
		return;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return;
	}
	xs_buf_init(&keep);
	char *line = NULL;
	size_t cap = 0, tl = strlen(t);
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		if ((size_t)n >= tl && !strcmp(line + n - tl, t))
			continue;
		xs_buf_printf(&keep, "%s", line);
	}
	free(line);
	fclose(f);
	snprintf(tmp, sizeof(tmp), "%s.xsplice-XXXXXX", path);
	int out = keep.oom ? -1 : mkostemp(tmp, O_CLOEXEC);
	if (out >= 0) {
		int bad = fchmod(out, 0644) || write_all(out, keep.data, keep.len);
		close(out);
		if (bad || (keep.len ? rename(tmp, path) : (unlink(tmp), unlink(path))))
			unlink(tmp);
	}
	xs_buf_free(&keep);
}
