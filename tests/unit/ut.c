/* Helpers for the core unit tests: see ut.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ut.h"

void ut_refused_at(const char *file, int line, const void *buf, size_t len, int code,
                   const char *substr)
{
	struct xs_elf *e = (struct xs_elf *)1;
	struct xs_err err = {0};
	int rc = xs_payload_verify(buf, len, &e, &err);

	if (rc == code && e == NULL && err.code == code && strstr(err.msg, substr))
		return;
	print_error("expected refusal %d \"%s\", got %d \"%s\"\n", code, substr, rc, err.msg);
	if (rc == 0)
		xs_elf_free(e);
	_fail(file, line);
}

struct xs_elf *ut_verify_ok_at(const char *file, int line, const struct eg_out *o)
{
	struct xs_elf *e = NULL;
	struct xs_err err = {0};
	int rc = xs_payload_verify(o->buf, o->len, &e, &err);

	if (rc != 0 || !e) {
		print_error("expected a valid payload, got %d \"%s\"\n", rc, err.msg);
		_fail(file, line);
	}
	return e;
}

static int ut_resolve(void *ctx, const char *name, uintptr_t *addr)
{
	struct ut_host *u = ctx;

	u->calls++;
	for (unsigned i = 0; i < u->n; i++)
		if (!strcmp(u->sym[i].name, name)) {
			*addr = u->sym[i].addr;
			return 0;
		}
	return -ENOENT;
}

void ut_host_init(struct ut_host *u, uintptr_t target_bias)
{
	memset(u, 0, sizeof(*u));
	u->h.ctx = u;
	u->h.target_bias = target_bias;
	u->h.resolve = ut_resolve;
}

void ut_host_add(struct ut_host *u, const char *name, uintptr_t addr)
{
	assert_true(u->n < 16);
	u->sym[u->n].name = name;
	u->sym[u->n].addr = addr;
	u->n++;
}

int ut_place(struct xs_elf *e, uintptr_t base, const struct ut_host *h, struct ut_placed *p,
             struct xs_err *err)
{
	const struct xs_region *volatile rg;
	size_t off = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = xs_link_layout(e, UT_PAGE, &p->lay, err);
	if (rc)
		return rc;
	p->buf = aligned_alloc(UT_PAGE, p->lay.total + 2 * UT_PAGE);
	assert_non_null(p->buf);
	memset(p->buf, 0xa5, p->lay.total + 2 * UT_PAGE);
	p->mem = p->buf + UT_PAGE;
	if (!base)
		base = (uintptr_t)p->mem;
	for (int a = 0; a < XS_AREA_COUNT; a++) {
		p->rg[a].stage = p->mem + off;
		p->rg[a].addr = base + off;
		p->rg[a].size = p->lay.size[a];
		off += p->lay.size[a];
	}
	/* through a plain pointer: GCC 12 with ASan misjudges the size of
	 * p->rg for the array parameter and warns (-Wstringop-overread) */
	rg = p->rg;
	return xs_link_place(e, rg, &h->h, &p->l, err);
}

int ut_guards_ok(const struct ut_placed *p)
{
	const uint8_t *tail = p->mem + p->lay.total;

	for (size_t i = 0; i < UT_PAGE; i++)
		if (p->buf[i] != 0xa5 || tail[i] != 0xa5)
			return 0;
	return 1;
}

void ut_placed_free(struct ut_placed *p)
{
	xs_linked_free(&p->l);
	free(p->buf);
	p->buf = NULL;
}

uint8_t *ut_stage_of(const struct ut_placed *p, uintptr_t addr)
{
	for (int a = 0; a < XS_AREA_COUNT; a++)
		if (addr >= p->rg[a].addr && addr - p->rg[a].addr < p->rg[a].size)
			return p->rg[a].stage + (addr - p->rg[a].addr);
	fail_msg("address 0x%lx is not in the areas", (unsigned long)addr);
	return NULL;
}

uintptr_t ut_sym_addr(const struct ut_placed *p, const char *name)
{
	for (unsigned i = 0; i < p->l.nsymbols; i++)
		if (!strcmp(p->l.symbols[i].name, name))
			return p->l.symbols[i].addr;
	return 0;
}

void ut_min(struct ut_payload *p)
{
	eg_minimal(&p->g, &p->m);
	eg_build(&p->g, &p->o);
}

void ut_rebuild(struct ut_payload *p)
{
	eg_out_free(&p->o);
	eg_build(&p->g, &p->o);
}

void ut_payload_free(struct ut_payload *p)
{
	eg_out_free(&p->o);
	eg_free(&p->g);
}
