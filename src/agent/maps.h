/*
 * A snapshot of /proc/self/maps, read with raw read() into buffers sized
 * beforehand, so that it can be taken inside the quiesce window.
 */
#ifndef XS_AGENT_MAPS_H
#define XS_AGENT_MAPS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/rawsys.h"
#include "core/core.h"

enum {
	XS_MAP_R = 1,
	XS_MAP_W = 2,
	XS_MAP_X = 4,
	XS_MAP_SHARED = 8,
	XS_MAP_ANON = 16,  /* no path (anonymous) */
	XS_MAP_STACK = 32, /* "[stack]" */
};

struct xs_map {
	uintptr_t lo, hi;
	unsigned flags; /* XS_MAP_* */
};

struct xs_maps {
	struct xs_held held; /* /proc/self/maps, between hold and unhold */
	int no_query;        /* the kernel has no PROCMAP_QUERY */
	char *buf;
	size_t buf_cap;
	struct xs_map *v;
	size_t n, cap;
};

/* Outside the window: size the buffers for the current mappings (with room
 * to grow) and take a snapshot. */
int xs_maps_prepare(struct xs_maps *m, struct xs_err *err);
/* Anywhere: take a snapshot into the existing buffers; -ENOSPC when they
 * are too small (call xs_maps_prepare outside the window and retry). */
int xs_maps_read(struct xs_maps *m);
void xs_maps_free(struct xs_maps *m);
/* Outside the window: keep /proc/self/maps open for the reads until unhold
 * (no path lookup in the window). */
void xs_maps_hold(struct xs_maps *m);
void xs_maps_unhold(struct xs_maps *m);

/*
 * Between hold and unhold, on kernels with the PROCMAP_QUERY ioctl (6.11
 * and later): the mapping that holds addr now, asked of the kernel (no
 * text to format and parse: the whole file cost 35-45 us for 80 mappings
 * here, one query about 2.5 us).  Only lo, hi and the R/W/X/SHARED flags are
 * filled.  0; -ENOENT when no mapping holds addr; another negative errno
 * when the kernel cannot answer (older kernel, held file not ours): use
 * a snapshot.  The caller checks xs_held_valid(&m->held) first: an ioctl
 * meant for the maps file must never reach another file.
 */
int xs_maps_query(struct xs_maps *m, uintptr_t addr, struct xs_map *out);

/* The mapping containing addr, or NULL (binary search). */
const struct xs_map *xs_maps_find(const struct xs_maps *m, uintptr_t addr);
/* Does the mapping look like a thread stack: "[stack]", or anonymous
 * read-write right above an inaccessible guard mapping? */
int xs_maps_is_stack(const struct xs_maps *m, const struct xs_map *map);

#endif
