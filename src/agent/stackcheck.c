/* Stack check of parked threads (see stackcheck.h). */
#include "agent/stackcheck.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/quiesce.h"

#define RED_ZONE 128

int xs_sranges_add(struct xs_sranges *s, uintptr_t lo, uintptr_t hi, const char *what,
		   const char *owner)
{
	if (hi <= lo)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct xs_srange *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct xs_srange){lo, hi, what, owner};
	return 0;
}

static int by_lo(const void *a, const void *b)
{
	const struct xs_srange *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and merge overlaps, so that a binary search finds the one range
 * holding an address (a merged range keeps the first range's name). */
void xs_sranges_sort(struct xs_sranges *s)
{
	size_t out = 0;
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), by_lo);
	for (size_t i = 1; i < s->n; i++) {
		if (s->v[i].lo < s->v[out].hi) {
			if (s->v[i].hi > s->v[out].hi)
				s->v[out].hi = s->v[i].hi;
		} else {
			s->v[++out] = s->v[i];
		}
	}
	s->n = out + 1;
}

void xs_sranges_reset(struct xs_sranges *s)
{
	s->n = 0;
}

void xs_sranges_free(struct xs_sranges *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static const struct xs_srange *lookup(const struct xs_sranges *r, uintptr_t v)
{
	size_t lo = 0, hi = r->n;
	if (!r->n || v < r->v[0].lo || v >= r->v[r->n - 1].hi)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v < r->v[mid].lo)
			hi = mid;
		else if (v >= r->v[mid].hi)
			lo = mid + 1;
		else
			return &r->v[mid];
	}
	return NULL;
}

/* Scan words in [from, to) (8-byte aligned).  Returns the hit or NULL. */
static const struct xs_srange *scan(const struct xs_sranges *r, uintptr_t from, uintptr_t to,
				    uintptr_t *hit)
{
	from &= ~(uintptr_t)7;
	for (const uintptr_t *w = (const uintptr_t *)from; (uintptr_t)w + 8 <= to; w++) {
		const struct xs_srange *s = lookup(r, *w);
		if (s) {
			*hit = *w;
			return s;
		}
	}
	return NULL;
}

/* Scan the stack mapping that holds `sp`, from sp - red zone to its top. */
static const struct xs_srange *scan_stack(const struct xs_sranges *r, const struct xs_maps *m,
					  uintptr_t sp, uintptr_t *hit)
{
	const struct xs_map *map = xs_maps_find(m, sp);
	if (!map || !(map->flags & XS_MAP_R))
		return NULL;
	uintptr_t from = sp - RED_ZONE < map->lo ? map->lo : sp - RED_ZONE;
	return scan(r, from, map->hi, hit);
}

/*
 * A thread interrupted on its sigaltstack: the frames it will return to are
 * also on the stack it was running on before the signal.  That stack's SP is
 * saved in a signal frame on the altstack; every word there that points
 * into a stack-like mapping is taken as such an SP and scanned too.
 */
static const struct xs_srange *scan_alt(const struct xs_sranges *r, const struct xs_maps *m,
					const struct xs_qthread *t, uintptr_t *hit)
{
	const struct xs_srange *s = scan_stack(r, m, t->sp, hit);
	if (s)
		return s;
	uintptr_t from = t->sp - RED_ZONE < t->alt_lo ? t->alt_lo : t->sp - RED_ZONE;
	for (const uintptr_t *w = (const uintptr_t *)(from & ~(uintptr_t)7);
	     (uintptr_t)w + 8 <= t->alt_hi; w++) {
		const struct xs_map *map = xs_maps_find(m, *w);
		if (!map || (*w >= t->alt_lo && *w < t->alt_hi) || !xs_maps_is_stack(m, map))
			continue;
		s = scan(r, *w & ~(uintptr_t)7, map->hi, hit);
		if (s)
			return s;
	}
	return NULL;
}

int xs_stack_check(const struct xs_sranges *r, struct xs_maps *maps, struct xs_busy *busy)
{
	memset(busy, 0, sizeof(*busy));
	if (!r->n)
		return 0;
	int rc = xs_maps_read(maps);
	if (rc) {
		busy->maps_err = rc;
		return rc;
	}
	for (unsigned i = 0; i < xs_quiesce_nthreads(); i++) {
		const struct xs_qthread *t = xs_quiesce_thread(i);
		const struct xs_srange *s;
		uintptr_t hit = 0;
		if (!t)
			continue;
		busy->tid = t->tid;
		if ((s = lookup(r, t->pc))) {
			busy->addr = t->pc;
			busy->at_pc = 1;
			busy->range = s;
			return -EBUSY;
		}
		s = t->alt_hi ? scan_alt(r, maps, t, &hit) : scan_stack(r, maps, t->sp, &hit);
		if (s) {
			busy->addr = hit;
			busy->range = s;
			return -EBUSY;
		}
	}
	busy->tid = 0;
	return 0;
}
