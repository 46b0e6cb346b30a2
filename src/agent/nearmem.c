/* Near memory for payloads and its W^X finalization (see nearmem.h). */
#include "agent/nearmem.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAP_TRIES 8

static int snapshot_ranges(struct xs_maps *maps, struct xs_range **out, size_t *n,
                           struct xs_err *err)
{
	int rc = xs_maps_prepare(maps, err);
	if (rc)
		return rc;
	struct xs_range *r = malloc((maps->n + 1) * sizeof(*r));
	if (!r)
		return xs_err_set(err, -ENOMEM, "out of memory for the mappings list");
	for (size_t i = 0; i < maps->n; i++)
		r[i] = (struct xs_range){maps->v[i].lo, maps->v[i].hi};
	*out = r;
	*n = maps->n;
	return 0;
}

/* mmap exactly at addr, never over an existing mapping. */
static int map_at(uintptr_t addr, size_t size, int prot, int flags, int fd)
{
	void *p = mmap((void *)addr, size, prot, flags | MAP_FIXED_NOREPLACE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if ((uintptr_t)p != addr) { /* a kernel that ignores NOREPLACE */
		munmap(p, size);
		return -EEXIST;
	}
	return 0;
}

static void unmap_areas(struct xs_areas *a)
{
	for (int i = 0; i < XS_AREA_COUNT; i++)
		if (a->size[i] && a->addr[i])
			munmap((void *)a->addr[i], a->size[i]);
	if (a->stage_rx)
		munmap(a->stage_rx, a->size[XS_AREA_RX]);
	a->stage_rx = NULL;
}

/* The code area: memfd-backed, executable, never writable in place. */
static int map_rx(struct xs_areas *a, uintptr_t at, const char *name)
{
	size_t sz = a->size[XS_AREA_RX];
	if (a->memfd < 0) {
		char nm[160];
		snprintf(nm, sizeof(nm), "xsplice:%s", name);
		a->memfd = memfd_create(nm, MFD_CLOEXEC);
		if (a->memfd < 0)
			return -errno;
		if (ftruncate(a->memfd, (off_t)sz))
			return -errno;
	}
	int rc = map_at(at, sz, PROT_READ | PROT_EXEC, MAP_SHARED, a->memfd);
	if (rc)
		return rc;
	a->addr[XS_AREA_RX] = at;
	return 0;
}

/* The writable view of the code area.  Mapped after every fixed area: the
 * kernel may place an unhinted mapping inside the gap chosen for them. */
static int map_stage(struct xs_areas *a)
{
	void *st = mmap(NULL, a->size[XS_AREA_RX], PROT_READ | PROT_WRITE, MAP_SHARED, a->memfd, 0);
	if (st == MAP_FAILED)
		return -errno;
	a->stage_rx = st;
	return 0;
}

static int map_all(struct xs_areas *a, uintptr_t base, const char *name)
{
	uintptr_t at = base;
	int rc = 0;
	if (a->size[XS_AREA_RX])
		rc = map_rx(a, at, name);
	at += a->size[XS_AREA_RX];
	for (int i = XS_AREA_R; !rc && i < XS_AREA_COUNT; i++) {
		if (!a->size[i])
			continue;
		/* fresh zero pages, committed only when written (.bss) */
		rc = map_at(at, a->size[i], PROT_READ | PROT_WRITE,
		            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
		if (!rc)
			a->addr[i] = at;
		at += a->size[i];
	}
	if (!rc && a->size[XS_AREA_RX])
		rc = map_stage(a);
	return rc;
}

int xs_near_map(const struct xs_module *mod, const struct xs_layout *lay, const char *name,
                struct xs_maps *maps, struct xs_areas *a, struct xs_region rg[XS_AREA_COUNT],
                struct xs_err *err)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	memset(a, 0, sizeof(*a));
	a->memfd = -1;
	for (int i = 0; i < XS_AREA_COUNT; i++)
		a->size[i] = lay->size[i];
	a->total = lay->total;
	if (!a->total)
		return xs_err_set(err, -EINVAL, "payload %s has nothing to load", name);
	int rc = -EEXIST;
	for (int tries = 0; tries < MAP_TRIES && rc == -EEXIST; tries++) {
		struct xs_range *r = NULL;
		size_t n = 0;
		rc = snapshot_ranges(maps, &r, &n, err);
		if (rc)
			break;
		rc = xs_near_find(r, n, mod->lo, mod->hi, a->total, page, &a->base, err);
		free(r);
		if (rc)
			break;
		rc = map_all(a, a->base, name);
		if (rc) /* raced with another thread's mmap: look again */
			unmap_areas(a), memset(a->addr, 0, sizeof(a->addr));
	}
	if (rc) {
		if (a->memfd >= 0)
			close(a->memfd), a->memfd = -1;
		if (!err || !err->msg[0] || err->code != rc)
			xs_err_set(err, rc,
			           "cannot map %zu bytes for payload %s within 2 GiB of %s: %s",
			           a->total, name, mod->path, strerror(-rc));
		return rc;
	}
	rg[XS_AREA_RX] = (struct xs_region){a->stage_rx, a->addr[XS_AREA_RX], a->size[XS_AREA_RX]};
	for (int i = XS_AREA_R; i < XS_AREA_COUNT; i++)
		rg[i] = (struct xs_region){(uint8_t *)a->addr[i], a->addr[i], a->size[i], 1};
	return 0;
}

/*
 * The finished code moves from the memfd to anonymous memory: an RW copy is
 * made read-only and executable, then mremap'd over the memfd mapping (one
 * step, the code is never writable and executable at once).  Profilers
 * treat anonymous executable memory as JIT code and read its symbols from
 * /tmp/perf-PID.map (perfmap.c); a "memfd:" mapping they take for a file
 * they cannot open.  On failure the memfd mapping simply stays.
 */
static void make_rx_anonymous(struct xs_areas *a)
{
	size_t sz = a->size[XS_AREA_RX];
	if (!sz || !a->stage_rx)
		return;
	void *tmp = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tmp == MAP_FAILED)
		return;
	memcpy(tmp, a->stage_rx, sz);
	if (mprotect(tmp, sz, PROT_READ | PROT_EXEC) ||
	    mremap(tmp, sz, sz, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)a->addr[XS_AREA_RX]) ==
	        MAP_FAILED)
		munmap(tmp, sz);
}

int xs_near_finalize(struct xs_areas *a, struct xs_err *err)
{
	make_rx_anonymous(a);
	if (a->stage_rx)
		munmap(a->stage_rx, a->size[XS_AREA_RX]);
	a->stage_rx = NULL;
	if (a->memfd >= 0)
		close(a->memfd);
	a->memfd = -1;
	if (a->size[XS_AREA_R] &&
	    mprotect((void *)a->addr[XS_AREA_R], a->size[XS_AREA_R], PROT_READ))
		return xs_err_set(err, -errno, "mprotect of the read-only area: %s",
		                  strerror(errno));
	a->final = 1;
	return 0;
}

void xs_near_unmap(struct xs_areas *a)
{
	unmap_areas(a);
	if (a->memfd >= 0)
		close(a->memfd);
	memset(a, 0, sizeof(*a));
	a->memfd = -1;
}

int xs_near_contains(const struct xs_areas *a, uintptr_t addr)
{
	return a->total && addr >= a->base && addr < a->base + a->total;
}

/* ---- unwinder registration --------------------------------------------------- */

static struct {
	int tried;
	void (*reg)(const void *);
	void (*dereg)(const void *);
} eh;

static void find_unwinder(void)
{
	if (eh.tried)
		return;
	eh.tried = 1;
	/* the unwinder the program already uses, else load the shared one
	 * (glibc loads the same libgcc_s itself for pthread_cancel) */
	eh.reg = (void (*)(const void *))dlsym(RTLD_DEFAULT, "__register_frame");
	eh.dereg = (void (*)(const void *))dlsym(RTLD_DEFAULT, "__deregister_frame");
	if (!eh.reg || !eh.dereg) {
		void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_GLOBAL);
		if (h) {
			eh.reg = (void (*)(const void *))dlsym(h, "__register_frame");
			eh.dereg = (void (*)(const void *))dlsym(h, "__deregister_frame");
		}
	}
	if (!eh.reg || !eh.dereg)
		eh.reg = NULL, eh.dereg = NULL;
}

int xs_eh_register(uintptr_t eh_frame, struct xs_err *err)
{
	find_unwinder();
	if (!eh.reg)
		return xs_err_set(err, -ENOSYS,
		                  "no unwinder (libgcc_s.so.1) to register .eh_frame with");
	eh.reg((const void *)eh_frame);
	return 0;
}

void xs_eh_deregister(uintptr_t eh_frame)
{
	if (eh.dereg && eh_frame)
		eh.dereg((const void *)eh_frame);
}
