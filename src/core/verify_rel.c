/*
 * Relocation sections: header links, and for every relocation of an
 * allocated section its symbol, type and field bounds.  Relocations of
 * non-allocated sections (debug info) are never applied, so they are not
 * read at all.  While walking the relocations this also decides which
 * symbols need a GOT slot or a call stub, and records the pointer fields of
 * .xsplice.funcs and the hook arrays that are relocated.
 */
#include <errno.h>
#include <stdlib.h>

#include "arch/arch.h"
#include "core/elf_int.h"

static int check_rela_header(struct xs_elf *e, unsigned i, struct xs_err *err)
{
	const Elf64_Shdr *h = &e->sec[i].h;
	const struct xs_sec *t;

	if (h->sh_entsize != sizeof(Elf64_Rela) || h->sh_size % sizeof(Elf64_Rela))
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": entry size %lu / size %lu do not match %zu-byte "
		                          "relocations",
		                  SEC_ARG(e, i), (unsigned long)h->sh_entsize,
		                  (unsigned long)h->sh_size, sizeof(Elf64_Rela));
	if (h->sh_link != e->symtab)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": symbol table index (sh_link) %u is not the symbol "
		                          "table (section %u)",
		                  SEC_ARG(e, i), h->sh_link, e->symtab);
	if (h->sh_info == 0 || h->sh_info >= e->nsec || h->sh_info == i)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": relocated section index (sh_info) %u is not a section",
		                  SEC_ARG(e, i), h->sh_info);
	t = &e->sec[h->sh_info];
	if (t->alloc && t->h.sh_type == SHT_NOBITS)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": relocates " SEC_FMT
		                          ", which has no bytes (SHT_NOBITS)",
		                  SEC_ARG(e, i), SEC_ARG(e, h->sh_info));
	return 0;
}

/* A pointer field of .xsplice.funcs or of a hook array: exactly one 64-bit
 * absolute relocation per field, none elsewhere. */
static int mark_slot(struct xs_elf *e, unsigned ri, uint64_t k, const Elf64_Rela *r,
                     struct xs_err *err)
{
	unsigned ti = e->sec[ri].h.sh_info;
	struct xs_sec *t = &e->sec[ti];
	int funcs = ti == e->special[XS_SP_FUNCS];
	uint64_t entsize = funcs ? sizeof(struct xsplice_func) : 8;
	uint64_t field = r->r_offset % entsize, ent = r->r_offset / entsize;
	unsigned bit = funcs ? (field == 0    ? XS_FREL_NAME
	                        : field == 8  ? XS_FREL_NEW
	                        : field == 16 ? XS_FREL_OLD
	                                      : 0)
	                     : (field == 0);

	if (ELF64_R_TYPE(r->r_info) != XS_ARCH_RELOC_ABS64 || !bit)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": relocation %lu (%s at offset 0x%lx) is not a %s of a "
		                          "pointer field of " SEC_FMT,
		                  SEC_ARG(e, ri), (unsigned long)k,
		                  xs_arch_reloc_name(ELF64_R_TYPE(r->r_info)),
		                  (unsigned long)r->r_offset,
		                  xs_arch_reloc_name(XS_ARCH_RELOC_ABS64), SEC_ARG(e, ti));
	if (t->slots[ent] & bit)
		return xs_err_set(
		    err, -ENOEXEC,
		    SEC_FMT ": relocation %lu: offset 0x%lx of " SEC_FMT " is relocated twice",
		    SEC_ARG(e, ri), (unsigned long)k, (unsigned long)r->r_offset, SEC_ARG(e, ti));
	t->slots[ent] |= bit;
	if (funcs && bit == XS_FREL_NAME)
		e->fname[ent] = (struct xs_fname){(uint32_t)ELF64_R_SYM(r->r_info), r->r_addend};
	return 0;
}

/* GOT slots and call stubs are per symbol, allocated on first use. */
static void note_needs(struct xs_elf *e, unsigned ti, const Elf64_Rela *r, unsigned info)
{
	struct xs_sym *y = &e->syms[ELF64_R_SYM(r->r_info)];
	uint32_t type = ELF64_R_TYPE(r->r_info);

	if ((info & XS_RELOC_NEEDS_GOT) && y->got < 0)
		y->got = (int32_t)e->ngot++;
	/* only calls to symbols the host resolves can be far: the payload's
	 * own symbols and the target's (symrefs) are placed within reach */
	if ((info & XS_RELOC_MAY_STUB) && y->stub < 0 && y->s.st_shndx == SHN_UNDEF &&
	    !y->has_ref &&
	    xs_arch_reloc_is_branch(type, e->sec[ti].data, e->sec[ti].h.sh_size, r->r_offset))
		y->stub = (int32_t)e->nstubs++;
}

static int check_rela(struct xs_elf *e, unsigned ri, uint64_t k, struct xs_err *err)
{
	unsigned ti = e->sec[ri].h.sh_info;
	const struct xs_sec *t = &e->sec[ti];
	Elf64_Rela r = xs_rela_get(e, ri, k);
	uint64_t sym = ELF64_R_SYM(r.r_info);
	uint32_t type = ELF64_R_TYPE(r.r_info);
	unsigned info = xs_arch_reloc_info(type);
	size_t width = xs_arch_reloc_width(type);
	const struct xs_sym *y;
	char b[32];

	if (sym == 0)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": relocation %lu (offset 0x%lx) uses symbol 0 "
		                          "(STN_UNDEF)",
		                  SEC_ARG(e, ri), (unsigned long)k, (unsigned long)r.r_offset);
	if (sym >= e->nsyms)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": relocation %lu (offset 0x%lx): symbol index %lu is "
		                          "out of range (%u symbols)",
		                  SEC_ARG(e, ri), (unsigned long)k, (unsigned long)r.r_offset,
		                  (unsigned long)sym, e->nsyms);
	if (!info)
		return xs_err_set(err, -ENOTSUP,
		                  SEC_FMT ": relocation %lu (offset 0x%lx, symbol '%s') has "
		                          "unsupported type %s (%u)",
		                  SEC_ARG(e, ri), (unsigned long)k, (unsigned long)r.r_offset,
		                  xs_sym_label(e, (unsigned)sym, b), xs_arch_reloc_name(type),
		                  type);
	if (r.r_offset > t->h.sh_size || width > t->h.sh_size - r.r_offset)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": relocation %lu (%s) at offset 0x%lx + %zu bytes is "
		                          "outside " SEC_FMT " (size 0x%lx)",
		                  SEC_ARG(e, ri), (unsigned long)k, xs_arch_reloc_name(type),
		                  (unsigned long)r.r_offset, width, SEC_ARG(e, ti),
		                  (unsigned long)t->h.sh_size);
	if (xs_rela_is_tls_call(e, ri, k))
		return 0; /* the call of a general-dynamic sequence: relaxed away */
	if ((info & XS_RELOC_TLS_GD) &&
	    (!t->data || !xs_arch_tls_gd_ok(t->data, t->h.sh_size, r.r_offset, r.r_addend) ||
	     k + 1 >= xs_rela_count(e, ri) || !xs_rela_is_tls_call(e, ri, k + 1)))
		return xs_err_set(err, -ENOTSUP,
		                  SEC_FMT ": relocation %lu (%s at offset 0x%lx) is not in the "
		                          "general-dynamic code sequence the psABI defines (followed "
		                          "by the call to __tls_get_addr), so it cannot be relaxed",
		                  SEC_ARG(e, ri), (unsigned long)k, xs_arch_reloc_name(type),
		                  (unsigned long)r.r_offset);
	y = &e->syms[sym];
	if (y->s.st_shndx != SHN_UNDEF && y->s.st_shndx < e->nsec && !e->sec[y->s.st_shndx].alloc)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": relocation %lu (offset 0x%lx) refers to '%s' in "
		                          "non-allocated " SEC_FMT,
		                  SEC_ARG(e, ri), (unsigned long)k, (unsigned long)r.r_offset,
		                  xs_sym_label(e, (unsigned)sym, b), SEC_ARG(e, y->s.st_shndx));
	if ((info & XS_RELOC_TLS) && !y->ref_tls)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT
		                  ": relocation %lu (%s at offset 0x%lx) needs a thread-local "
		                  "variable of the target, but '%s' is not one",
		                  SEC_ARG(e, ri), (unsigned long)k, xs_arch_reloc_name(type),
		                  (unsigned long)r.r_offset, xs_sym_label(e, (unsigned)sym, b));
	if (!(info & XS_RELOC_TLS) && ELF64_ST_TYPE(y->s.st_info) == STT_TLS)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": relocation %lu (%s at offset 0x%lx) uses the "
		                          "thread-local '%s' as if it were an address",
		                  SEC_ARG(e, ri), (unsigned long)k, xs_arch_reloc_name(type),
		                  (unsigned long)r.r_offset, xs_sym_label(e, (unsigned)sym, b));
	if (t->slots)
		return mark_slot(e, ri, k, &r, err);
	note_needs(e, ti, &r, info);
	return 0;
}

int xs_verify_relocs(struct xs_elf *e, struct xs_err *err)
{
	int rc;

	e->relas = calloc(e->nsec, sizeof(*e->relas));
	e->fname = calloc(e->nfuncs + 1u, sizeof(*e->fname));
	if (!e->relas || !e->fname)
		return xs_err_set(err, -ENOMEM, "out of memory for relocation sections");
	for (unsigned i = 1; i < e->nsec; i++) {
		if (e->sec[i].h.sh_type != SHT_RELA)
			continue;
		rc = check_rela_header(e, i, err);
		if (rc)
			return rc;
		if (!e->sec[e->sec[i].h.sh_info].alloc)
			continue; /* debug info: never applied */
		for (uint64_t k = 0; k < xs_rela_count(e, i); k++) {
			rc = check_rela(e, i, k, err);
			if (rc)
				return rc;
		}
		e->relas[e->nrelas++] = i;
	}
	return 0;
}
