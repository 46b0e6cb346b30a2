/*
 * xs_link_place: copy the allocated sections into the host's areas, resolve
 * symbols, fill the GOT and the call stubs, apply the relocations, then
 * hand over to linked.c to read the relocated xsplice tables.
 *
 * Symbol values, in order of precedence:
 *   SHN_ABS                      st_value
 *   defined in a section         that section's run-time address + st_value
 *   undefined, with a symref     host->target_bias + symref offset
 *   undefined, otherwise         host->resolve(name); weak and unresolved -> 0
 *
 * Writes go to region.stage only; addresses are computed against
 * region.addr (the two differ when the host stages code in a writable
 * alias of memory that will be executable).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "core/elf_int.h"
#include "core/place_int.h"

static const char *const area_names[XS_AREA_COUNT] = {"RX", "R", "RW"};

static int check_regions(const struct xs_elf *e, const struct xs_region *rg, struct xs_err *err)
{
	for (int a = 0; a < XS_AREA_COUNT; a++) {
		if (e->used[a] == 0)
			continue;
		if (!rg[a].stage || rg[a].size < e->used[a])
			return xs_err_set(
			    err, -EINVAL, "%s area: %zu bytes given, the payload needs %lu",
			    area_names[a], rg[a].stage ? rg[a].size : 0, (unsigned long)e->used[a]);
		if (rg[a].addr & (e->align[a] - 1))
			return xs_err_set(
			    err, -EINVAL, "%s area: address 0x%lx is not aligned to 0x%lx",
			    area_names[a], (unsigned long)rg[a].addr, (unsigned long)e->align[a]);
		if (rg[a].addr + rg[a].size < rg[a].addr)
			return xs_err_set(err, -EINVAL, "%s area: address range wraps",
			                  area_names[a]);
	}
	return 0;
}

static void copy_sections(const struct xs_elf *e, const struct xs_region *rg)
{
	for (int a = 0; a < XS_AREA_COUNT; a++)
		if (e->used[a] && !rg[a].zeroed)
			memset(rg[a].stage, a == XS_AREA_RX ? XS_ARCH_CODE_FILL : 0, rg[a].size);
	for (unsigned i = 1; i < e->nsec; i++) {
		const struct xs_sec *s = &e->sec[i];

		if (s->alloc && s->data && s->h.sh_size) /* NOBITS stay zero */
			memcpy(rg[s->area].stage + s->off, s->data, s->h.sh_size);
	}
}

static int resolve_undef(struct xs_place *p, unsigned k, uintptr_t *v)
{
	const struct xs_sym *y = &p->e->syms[k];
	int rc = -ENOENT;

	if (y->has_ref) {
		*v = p->host->target_bias + (uintptr_t)y->ref_off;
		return 0;
	}
	if (p->host->resolve)
		rc = p->host->resolve(p->host->ctx, y->name, v);
	if (rc == 0)
		return 0;
	if (ELF64_ST_BIND(y->s.st_info) == STB_WEAK) {
		*v = 0;
		return 0;
	}
	return xs_err_set(p->err, -ENOENT,
	                  "unresolved symbol '%s': not a target symbol recorded by xsplice-pack "
	                  "and not found in the process's libraries or earlier payloads",
	                  y->name);
}

int xs_place_symbol(struct xs_place *p, unsigned k, uintptr_t *v)
{
	const struct xs_sym *y = &p->e->syms[k];
	int rc = 0;

	if (p->done[k]) {
		*v = p->val[k];
		return 0;
	}
	if (y->s.st_shndx == SHN_ABS)
		*v = (uintptr_t)y->s.st_value;
	else if (y->s.st_shndx != SHN_UNDEF)
		*v = xs_place_sec_addr(p, y->s.st_shndx) + (uintptr_t)y->s.st_value;
	else
		rc = resolve_undef(p, k, v);
	if (rc)
		return rc;
	p->val[k] = *v;
	p->done[k] = 1;
	return 0;
}

static int fill_got_and_stubs(struct xs_place *p)
{
	const struct xs_elf *e = p->e;
	uintptr_t v;
	int rc;

	for (unsigned j = 0; j < e->ngot; j++) {
		uint64_t v64;

		rc = xs_place_symbol(p, e->got_sym[j], &v);
		if (rc)
			return rc;
		v64 = v;
		memcpy(p->rg[XS_AREA_R].stage + e->got_off + 8ull * j, &v64, 8);
	}
	for (unsigned j = 0; j < e->nstubs; j++) {
		rc = xs_place_symbol(p, e->stub_sym[j], &v);
		if (rc)
			return rc;
		xs_arch_write_stub(
		    p->rg[XS_AREA_RX].stage + e->stub_off + (uint64_t)j * XS_ARCH_STUB_SIZE, v);
	}
	return 0;
}

static int relocate_one(struct xs_place *p, unsigned ri, uint64_t k)
{
	const struct xs_elf *e = p->e;
	unsigned ti = e->sec[ri].h.sh_info;
	const struct xs_sec *t = &e->sec[ti];
	Elf64_Rela r = xs_rela_get(e, ri, k);
	unsigned sym = (unsigned)ELF64_R_SYM(r.r_info);
	const struct xs_sym *y = &e->syms[sym];
	struct xs_reloc_args a = {.type = ELF64_R_TYPE(r.r_info), .A = r.r_addend};
	unsigned info = xs_arch_reloc_info(a.type);
	uint8_t *field;
	uintptr_t s;
	int64_t value;
	char b[32];
	int rc;

	if (xs_arch_reloc_width(a.type) == 0)
		return 0; /* R_X86_64_NONE: no field, no symbol needed */
	rc = xs_place_symbol(p, sym, &s);
	if (rc)
		return rc;
	field = xs_place_sec_stage(p, ti) + r.r_offset;
	a.S = s;
	a.P = xs_place_sec_addr(p, ti) + r.r_offset;
	if (info & XS_RELOC_NEEDS_GOT)
		a.G = p->rg[XS_AREA_R].addr + e->got_off + 8ull * (uint64_t)y->got;
	rc = xs_arch_reloc_apply(&a, field, &value);
	if (rc == -ERANGE && y->stub >= 0 &&
	    xs_arch_reloc_is_branch(a.type, t->data, t->h.sh_size, r.r_offset)) {
		/* a call to a far function (libc): through the payload's stub */
		a.S = p->rg[XS_AREA_RX].addr + e->stub_off + (uint64_t)y->stub * XS_ARCH_STUB_SIZE;
		rc = xs_arch_reloc_apply(&a, field, &value);
	}
	if (rc == -ERANGE)
		return xs_err_set(
		    p->err, -ERANGE,
		    "relocation %s against '%s' at " SEC_FMT "+0x%lx overflows: value "
		    "0x%lx does not fit its %zu-byte field",
		    xs_arch_reloc_name(a.type), xs_sym_label(e, sym, b), SEC_ARG(e, ti),
		    (unsigned long)r.r_offset, (unsigned long)value, xs_arch_reloc_width(a.type));
	if (rc)
		return xs_err_set(
		    p->err, rc, "relocation %s (%u) at " SEC_FMT "+0x%lx is not supported",
		    xs_arch_reloc_name(a.type), a.type, SEC_ARG(e, ti), (unsigned long)r.r_offset);
	return 0;
}

static int relocate_all(struct xs_place *p)
{
	for (unsigned n = 0; n < p->e->nrelas; n++) {
		unsigned ri = p->e->relas[n];

		for (uint64_t k = 0; k < xs_rela_count(p->e, ri); k++) {
			int rc = relocate_one(p, ri, k);

			if (rc)
				return rc;
		}
	}
	return 0;
}

int xs_link_place(const struct xs_elf *e, const struct xs_region regions[XS_AREA_COUNT],
                  const struct xs_host *host, struct xs_linked *out, struct xs_err *err)
{
	struct xs_place p = {.e = e, .rg = regions, .host = host, .err = err};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = check_regions(e, regions, err);
	if (rc)
		return rc;
	p.val = calloc(e->nsyms, sizeof(*p.val));
	p.done = calloc(e->nsyms, 1);
	if (!p.val || !p.done) {
		rc = xs_err_set(err, -ENOMEM, "out of memory for %u symbol values", e->nsyms);
		goto out;
	}
	copy_sections(e, regions);
	rc = fill_got_and_stubs(&p);
	if (!rc)
		rc = relocate_all(&p);
	if (!rc)
		rc = xs_linked_build(&p, out);
out:
	free(p.val);
	free(p.done);
	return rc;
}
