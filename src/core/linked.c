/*
 * After relocation: read .xsplice.funcs and the hook arrays from the staged
 * areas (so the values are the relocated ones), check every pointer lands
 * where it must, and collect the payload's global symbols, its .eh_frame
 * and its code range into struct xs_linked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "core/place_int.h"

/* The area whose used bytes contain [addr, addr + n), or -1. */
static int area_of_addr(const struct xs_place *p, uintptr_t addr, uint64_t n)
{
	for (int a = 0; a < XS_AREA_COUNT; a++) {
		uintptr_t lo = p->rg[a].addr;
		uint64_t used = p->e->used[a];

		if (used && addr >= lo && addr - lo < used && n <= used - (addr - lo))
			return a;
	}
	return -1;
}

static int in_any_region(const struct xs_place *p, uintptr_t addr)
{
	for (int a = 0; a < XS_AREA_COUNT; a++)
		if (p->e->used[a] && addr >= p->rg[a].addr && addr - p->rg[a].addr < p->rg[a].size)
			return 1;
	return 0;
}

static int func_name(struct xs_place *p, unsigned k, uintptr_t name, struct xs_func *f)
{
	int a = area_of_addr(p, name, 1);
	uint64_t left;
	const uint8_t *s;

	if (a < 0)
		return xs_err_set(p->err, -ENOEXEC,
		                  "funcs entry %u: name pointer 0x%lx is not inside the payload", k,
		                  (unsigned long)name);
	left = p->e->used[a] - (name - p->rg[a].addr);
	s = p->rg[a].stage + (name - p->rg[a].addr);
	if (!memchr(s, 0, left < XSPLICE_NAME_MAX ? left : XSPLICE_NAME_MAX))
		return xs_err_set(p->err, -ENOEXEC,
		                  "funcs entry %u: name is not NUL-terminated within %u bytes", k,
		                  XSPLICE_NAME_MAX);
	f->name = (const char *)name;
	return 0;
}

static int read_func(struct xs_place *p, unsigned k, struct xs_func *f)
{
	const struct xs_elf *e = p->e;
	unsigned fi = e->special[XS_SP_FUNCS];
	const char *nm;
	struct xsplice_func raw;
	int rc;

	memcpy(&raw, xs_place_sec_stage(p, fi) + (uint64_t)k * sizeof(raw), sizeof(raw));
	rc = func_name(p, k, (uintptr_t)raw.name, f);
	if (rc)
		return rc;
	nm = xs_func_label(e, k);
	if ((e->sec[fi].slots[k] & XS_FREL_NEW) &&
	    area_of_addr(p, (uintptr_t)raw.new_addr, raw.new_size ? raw.new_size : 1) != XS_AREA_RX)
		return xs_err_set(p->err, -ENOEXEC,
		                  "funcs entry %u (%s): new_addr 0x%lx + new_size 0x%x is not "
		                  "inside the payload's code",
		                  k, nm, (unsigned long)raw.new_addr, raw.new_size);
	if (raw.old_addr == 0)
		return xs_err_set(p->err, -ENOEXEC, "funcs entry %u (%s): old_addr resolved to 0",
		                  k, nm);
	if (in_any_region(p, (uintptr_t)raw.old_addr))
		return xs_err_set(p->err, -ENOEXEC,
		                  "funcs entry %u (%s): old_addr 0x%lx is inside the payload "
		                  "itself, not in the target",
		                  k, nm, (unsigned long)raw.old_addr);
	f->old_addr = (uintptr_t)raw.old_addr;
	f->new_addr = (uintptr_t)raw.new_addr;
	f->old_size = raw.old_size;
	f->new_size = raw.new_size;
	f->flags = raw.flags;
	f->expect_len = raw.expect.enabled ? raw.expect.len : 0;
	memcpy(f->expect, raw.expect.data, f->expect_len);
	return 0;
}

static int read_hooks(struct xs_place *p, struct xs_linked *out)
{
	const struct xs_elf *e = p->e;

	for (unsigned h = 0; h < XS_HOOK_COUNT; h++) {
		unsigned i = e->special[XS_SP_HOOK0 + h];
		const uint8_t *st;

		if (!e->nhooks[h])
			continue;
		out->hooks[h] = calloc(e->nhooks[h], sizeof(uintptr_t));
		if (!out->hooks[h])
			return xs_err_set(p->err, -ENOMEM, "out of memory for hooks");
		out->nhooks[h] = e->nhooks[h];
		st = xs_place_sec_stage(p, i);
		for (unsigned k = 0; k < e->nhooks[h]; k++) {
			uint64_t v;

			memcpy(&v, st + 8ull * k, 8);
			if (area_of_addr(p, (uintptr_t)v, 1) != XS_AREA_RX)
				return xs_err_set(p->err, -ENOEXEC,
				                  SEC_FMT ": hook %u points to 0x%lx, outside the "
				                          "payload's code",
				                  SEC_ARG(e, i), k, (unsigned long)v);
			out->hooks[h][k] = (uintptr_t)v;
		}
	}
	return 0;
}

static int exported(const struct xs_sym *y)
{
	unsigned bind = ELF64_ST_BIND(y->s.st_info), type = ELF64_ST_TYPE(y->s.st_info);

	return (bind == STB_GLOBAL || bind == STB_WEAK) && y->s.st_shndx != SHN_UNDEF &&
	       type != STT_SECTION && type != STT_FILE && y->name[0];
}

static int is_code(const struct xs_sym *y)
{
	return ELF64_ST_TYPE(y->s.st_info) == STT_FUNC && y->s.st_shndx != SHN_UNDEF &&
	       y->s.st_shndx < SHN_LORESERVE && y->name[0];
}

/* The payload's symbols that `keep` selects, with their final addresses, in
 * one allocation: the array, then their names, copied so that they outlive
 * the payload bytes. */
static int collect_symbols(struct xs_place *p, int (*keep)(const struct xs_sym *),
                           struct xs_symbol **list, unsigned *count)
{
	const struct xs_elf *e = p->e;
	size_t n = 0, names = 0;
	char *dst;

	for (unsigned k = 1; k < e->nsyms; k++)
		if (keep(&e->syms[k])) {
			n++;
			names += strlen(e->syms[k].name) + 1;
		}
	if (!n)
		return 0;
	*list = malloc(n * sizeof(**list) + names);
	if (!*list)
		return xs_err_set(p->err, -ENOMEM, "out of memory for %zu symbols", n);
	dst = (char *)(*list + n);
	for (unsigned k = 1; k < e->nsyms; k++) {
		const struct xs_sym *y = &e->syms[k];
		struct xs_symbol *o = &(*list)[*count];
		size_t len;
		int rc;

		if (!keep(y))
			continue;
		rc = xs_place_symbol(p, k, &o->addr);
		if (rc)
			return rc;
		len = strlen(y->name) + 1;
		memcpy(dst, y->name, len);
		o->name = dst;
		dst += len;
		o->size = y->s.st_size;
		o->type = ELF64_ST_TYPE(y->s.st_info);
		(*count)++;
	}
	return 0;
}

/* Global defined symbols, for payloads linked after this one. */
static int read_symbols(struct xs_place *p, struct xs_linked *out)
{
	return collect_symbols(p, exported, &out->symbols, &out->nsymbols);
}

/* Every defined function, local or global, for the debugger and profiler
 * maps. */
static int read_code_symbols(struct xs_place *p, struct xs_linked *out)
{
	return collect_symbols(p, is_code, &out->code_syms, &out->ncode_syms);
}

int xs_linked_build(struct xs_place *p, struct xs_linked *out)
{
	const struct xs_elf *e = p->e;
	unsigned eh = e->special[XS_SP_EH_FRAME];
	int rc = 0;

	if (e->nfuncs) {
		out->funcs = calloc(e->nfuncs, sizeof(*out->funcs));
		if (!out->funcs)
			return xs_err_set(p->err, -ENOMEM, "out of memory for %u funcs", e->nfuncs);
		out->nfuncs = e->nfuncs;
	}
	for (unsigned k = 0; k < e->nfuncs && !rc; k++)
		rc = read_func(p, k, &out->funcs[k]);
	if (!rc)
		rc = read_hooks(p, out);
	if (!rc)
		rc = read_symbols(p, out);
	if (!rc)
		rc = read_code_symbols(p, out);
	if (rc) {
		xs_linked_free(out);
		return rc;
	}
	if (eh && e->sec[eh].h.sh_size) {
		out->eh_frame = xs_place_sec_addr(p, eh);
		out->eh_frame_size = e->sec[eh].h.sh_size;
	}
	if (e->used[XS_AREA_RX]) {
		out->text_start = p->rg[XS_AREA_RX].addr;
		out->text_end = out->text_start + (uintptr_t)e->used[XS_AREA_RX];
	}
	if (out->eh_frame) {
		rc = xs_ehframe_check(xs_place_sec_stage(p, eh), out->eh_frame_size, out->eh_frame,
		                      out->text_start, out->text_end, p->err);
		if (rc)
			xs_linked_free(out);
	}
	return rc;
}

void xs_linked_free(struct xs_linked *l)
{
	if (!l)
		return;
	free(l->funcs);
	for (int h = 0; h < XS_HOOK_COUNT; h++)
		free(l->hooks[h]);
	free(l->symbols);
	free(l->code_syms);
	memset(l, 0, sizeof(*l));
}
