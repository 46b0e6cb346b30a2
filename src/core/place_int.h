/*
 * Private to src/core: the state of one xs_link_place() call, shared by
 * place.c (copy, resolve, relocate) and linked.c (read the relocated
 * xsplice tables into struct xs_linked).
 */
#ifndef XS_CORE_PLACE_INT_H
#define XS_CORE_PLACE_INT_H

#include "core/elf_int.h"

struct xs_place {
	const struct xs_elf *e;
	const struct xs_region *rg; /* indexed by enum xs_area */
	const struct xs_host *host;
	struct xs_err *err;
	uintptr_t *val; /* resolved symbol values */
	uint8_t *done;  /* val[k] is valid */
};

/* run-time address / staging pointer of an allocated section */
static inline uintptr_t xs_place_sec_addr(const struct xs_place *p, unsigned i)
{
	return p->rg[p->e->sec[i].area].addr + (uintptr_t)p->e->sec[i].off;
}

static inline uint8_t *xs_place_sec_stage(const struct xs_place *p, unsigned i)
{
	return p->rg[p->e->sec[i].area].stage + p->e->sec[i].off;
}

/* the value of symbol k (resolved once, then cached) */
int xs_place_symbol(struct xs_place *p, unsigned k, uintptr_t *v);
/* read funcs, hooks, global symbols, .eh_frame and the text range */
int xs_linked_build(struct xs_place *p, struct xs_linked *out);

#endif
