/*
 * Near placement: find a free, page-aligned gap for the payload within rel32
 * reach of the module it patches (rule and limits in core.h).  Pure: the
 * host gives the mappings, we give an address.
 */
#include <errno.h>

#include "core/core.h"

struct near_best {
	int found;
	uintptr_t addr;
	uintptr_t dist;
};

/* Consider the free range [a, b): clip it to the reach window and the
 * address limits, and keep the placement closest to the module. */
static void near_consider(uintptr_t a, uintptr_t b, uintptr_t mod_lo, uintptr_t mod_hi, size_t size,
                          size_t page, struct near_best *best)
{
	/* window: g >= mod_hi - SPAN and g + size <= mod_lo + SPAN */
	uintptr_t wlo = mod_hi > XS_NEAR_SPAN ? mod_hi - XS_NEAR_SPAN : 0;
	uintptr_t whi = mod_lo + XS_NEAR_SPAN; /* mod_lo < 2^47: no overflow */
	uintptr_t g, dist;

	if (a < wlo)
		a = wlo;
	if (a < XS_NEAR_MIN_ADDR)
		a = XS_NEAR_MIN_ADDR;
	if (b > whi)
		b = whi;
	if (b > XS_NEAR_MAX_ADDR)
		b = XS_NEAR_MAX_ADDR;
	a = (a + page - 1) & ~(uintptr_t)(page - 1);
	b &= ~(uintptr_t)(page - 1);
	if (a >= b || b - a < size)
		return;
	if (b <= mod_lo) { /* below the module: take the top of the gap */
		g = b - size;
		dist = mod_lo - b;
	} else { /* above it (the module itself is never free) */
		g = a;
		dist = a - mod_hi;
	}
	if (!best->found || dist < best->dist) {
		best->found = 1;
		best->addr = g;
		best->dist = dist;
	}
}

static int near_args_ok(const struct xs_range *maps, size_t nmaps, uintptr_t mod_lo,
                        uintptr_t mod_hi, size_t size, size_t page, struct xs_err *err)
{
	if (page == 0 || (page & (page - 1)))
		return xs_err_set(err, -EINVAL, "page size %zu is not a power of two", page);
	if (mod_lo >= mod_hi || mod_hi > XS_NEAR_MAX_ADDR)
		return xs_err_set(err, -EINVAL, "module range [0x%lx, 0x%lx) is empty or invalid",
		                  (unsigned long)mod_lo, (unsigned long)mod_hi);
	if (size == 0 || size > XS_NEAR_SPAN || mod_hi - mod_lo > XS_NEAR_SPAN - size)
		return xs_err_set(
		    err, -ENOMEM,
		    "a payload of %zu bytes cannot be placed within 2 GiB of module "
		    "[0x%lx, 0x%lx) (the module and payload together exceed the reach)",
		    size, (unsigned long)mod_lo, (unsigned long)mod_hi);
	for (size_t i = 0; i < nmaps; i++) {
		if (maps[i].lo > maps[i].hi)
			return xs_err_set(err, -EINVAL, "mapping %zu [0x%lx, 0x%lx) is inverted", i,
			                  (unsigned long)maps[i].lo, (unsigned long)maps[i].hi);
		if (i > 0 && maps[i].lo < maps[i - 1].lo)
			return xs_err_set(err, -EINVAL,
			                  "mapping %zu (0x%lx) is not sorted by address", i,
			                  (unsigned long)maps[i].lo);
	}
	return 0;
}

int xs_near_find(const struct xs_range *maps, size_t nmaps, uintptr_t mod_lo, uintptr_t mod_hi,
                 size_t size, size_t page_size, uintptr_t *addr, struct xs_err *err)
{
	struct near_best best = {0};
	uintptr_t cursor = 0; /* everything below is taken (or examined) */
	int module_done = 0;
	size_t i = 0;
	int rc = near_args_ok(maps, nmaps, mod_lo, mod_hi, size, page_size, err);

	if (rc)
		return rc;
	size = (size + page_size - 1) & ~(page_size - 1);
	/* walk the mappings and the module (as one more occupied range) in
	 * address order; each hole between `cursor` and the next start is free */
	for (;;) {
		struct xs_range r;

		if (!module_done && (i == nmaps || maps[i].lo >= mod_lo)) {
			r.lo = mod_lo;
			r.hi = mod_hi;
			module_done = 1;
		} else if (i < nmaps) {
			r = maps[i++];
		} else {
			break;
		}
		if (r.lo > cursor)
			near_consider(cursor, r.lo, mod_lo, mod_hi, size, page_size, &best);
		if (r.hi > cursor)
			cursor = r.hi;
	}
	if (cursor < XS_NEAR_MAX_ADDR)
		near_consider(cursor, XS_NEAR_MAX_ADDR, mod_lo, mod_hi, size, page_size, &best);
	if (!best.found)
		return xs_err_set(err, -ENOMEM,
		                  "no free gap of %zu bytes within 2 GiB of module [0x%lx, 0x%lx)",
		                  size, (unsigned long)mod_lo, (unsigned long)mod_hi);
	*addr = best.addr;
	return 0;
}
