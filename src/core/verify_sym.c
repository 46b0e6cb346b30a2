/*
 * The symbol table: exactly one SHT_SYMTAB, its string table, every symbol
 * (name, binding, type, section index, value within its section), and the
 * .xsplice.symrefs entries that give undefined symbols a target address.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/elf_int.h"

static int find_symtab(struct xs_elf *e, struct xs_err *err)
{
	for (unsigned i = 1; i < e->nsec; i++) {
		if (e->sec[i].h.sh_type != SHT_SYMTAB)
			continue;
		if (e->symtab)
			return xs_err_set(err, -ENOEXEC,
			                  "payload has more than one symbol table (sections %u "
			                  "and %u)",
			                  e->symtab, i);
		e->symtab = i;
	}
	if (!e->symtab)
		return xs_err_set(err, -ENOEXEC, "payload has no symbol table (SHT_SYMTAB)");
	return 0;
}

static int check_symtab_header(struct xs_elf *e, struct xs_err *err)
{
	unsigned i = e->symtab;
	const Elf64_Shdr *h = &e->sec[i].h;
	const struct xs_sec *st;

	if (h->sh_entsize != sizeof(Elf64_Sym) || h->sh_size % sizeof(Elf64_Sym))
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": entry size %lu / size %lu do not match %zu-byte "
		                          "symbols",
		                  SEC_ARG(e, i), (unsigned long)h->sh_entsize,
		                  (unsigned long)h->sh_size, sizeof(Elf64_Sym));
	if (h->sh_size == 0)
		return xs_err_set(err, -ENOEXEC, SEC_FMT ": empty symbol table", SEC_ARG(e, i));
	if (h->sh_link == 0 || h->sh_link >= e->nsec || h->sh_link == i)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": string table index (sh_link) %u is not a section",
		                  SEC_ARG(e, i), h->sh_link);
	st = &e->sec[h->sh_link];
	if (st->h.sh_type != SHT_STRTAB)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": string table (sh_link) is " SEC_FMT
		                          ", of type %u, not SHT_STRTAB",
		                  SEC_ARG(e, i), SEC_ARG(e, h->sh_link), st->h.sh_type);
	e->nsyms = (unsigned)(h->sh_size / sizeof(Elf64_Sym));
	if (h->sh_info > e->nsyms)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": first global symbol (sh_info) %u is past the %u "
		                          "symbols",
		                  SEC_ARG(e, i), h->sh_info, e->nsyms);
	e->strtab = (const char *)st->data;
	e->strtab_size = st->h.sh_size;
	return 0;
}

static int check_sym_name(struct xs_elf *e, unsigned k, struct xs_sym *y, struct xs_err *err)
{
	uint64_t off = y->s.st_name;

	if (off >= e->strtab_size)
		return xs_err_set(err, -ENOEXEC,
		                  "symbol %u: name offset 0x%lx is outside the string table "
		                  "(size 0x%zx)",
		                  k, (unsigned long)off, e->strtab_size);
	if (!memchr(e->strtab + off, 0, e->strtab_size - off))
		return xs_err_set(err, -ENOEXEC,
		                  "symbol %u: name at offset 0x%lx is not NUL-terminated inside "
		                  "the string table",
		                  k, (unsigned long)off);
	y->name = e->strtab + off;
	return 0;
}

static int check_sym_kind(struct xs_elf *e, unsigned k, const struct xs_sym *y, struct xs_err *err)
{
	unsigned bind = ELF64_ST_BIND(y->s.st_info), type = ELF64_ST_TYPE(y->s.st_info);
	char b[32];

	if (bind != STB_LOCAL && bind != STB_GLOBAL && bind != STB_WEAK)
		return xs_err_set(err, -ENOTSUP,
		                  "symbol %u ('%s'): binding %u is not supported (local, global "
		                  "or weak only)",
		                  k, xs_sym_label(e, k, b), bind);
	if (type == STT_TLS && y->s.st_shndx != SHN_UNDEF)
		return xs_err_set(err, -ENOTSUP,
		                  "symbol %u ('%s'): a payload cannot define thread-local "
		                  "variables (TLS cannot be allocated for threads that already "
		                  "run); only the target's own are reachable",
		                  k, xs_sym_label(e, k, b));
	if (type == STT_GNU_IFUNC)
		return xs_err_set(err, -ENOTSUP,
		                  "symbol %u ('%s'): indirect functions (STT_GNU_IFUNC) are not "
		                  "supported",
		                  k, xs_sym_label(e, k, b));
	if (type > STT_FILE && type != STT_TLS)
		return xs_err_set(err, -ENOTSUP, "symbol %u ('%s'): type %u is not supported", k,
		                  xs_sym_label(e, k, b), type);
	return 0;
}

static int check_sym_section(struct xs_elf *e, unsigned k, const struct xs_sym *y,
                             struct xs_err *err)
{
	unsigned shndx = y->s.st_shndx;
	const struct xs_sec *s;
	char b[32];

	if (shndx == SHN_UNDEF) {
		if (k && (ELF64_ST_BIND(y->s.st_info) == STB_LOCAL ||
		          ELF64_ST_TYPE(y->s.st_info) == STT_SECTION))
			return xs_err_set(err, -ENOEXEC,
			                  "symbol %u ('%s'): local or section symbol is undefined",
			                  k, xs_sym_label(e, k, b));
		return 0;
	}
	if (shndx == SHN_ABS)
		return 0;
	if (shndx == SHN_COMMON)
		return xs_err_set(err, -ENOTSUP,
		                  "symbol %u ('%s') is a common symbol (SHN_COMMON): compile the "
		                  "payload with -fno-common",
		                  k, xs_sym_label(e, k, b));
	if (shndx >= SHN_LORESERVE)
		return xs_err_set(err, -ENOTSUP,
		                  "symbol %u ('%s'): special section index 0x%x is not supported",
		                  k, xs_sym_label(e, k, b), shndx);
	if (shndx >= e->nsec)
		return xs_err_set(
		    err, -ENOEXEC,
		    "symbol %u ('%s'): section index %u is out of range (%u sections)", k,
		    xs_sym_label(e, k, b), shndx, e->nsec);
	s = &e->sec[shndx];
	if (s->alloc &&
	    (y->s.st_value > s->h.sh_size || y->s.st_size > s->h.sh_size - y->s.st_value))
		return xs_err_set(err, -ENOEXEC,
		                  "symbol %u ('%s'): value 0x%lx + size 0x%lx is outside " SEC_FMT
		                  " (size 0x%lx)",
		                  k, xs_sym_label(e, k, b), (unsigned long)y->s.st_value,
		                  (unsigned long)y->s.st_size, SEC_ARG(e, shndx),
		                  (unsigned long)s->h.sh_size);
	return 0;
}

static int check_symrefs(struct xs_elf *e, struct xs_err *err)
{
	unsigned i = e->special[XS_SP_SYMREFS];
	uint64_t n = i ? e->sec[i].h.sh_size / sizeof(struct xsplice_symref) : 0;
	char b[32];

	for (uint64_t k = 0; k < n; k++) {
		struct xsplice_symref r;
		struct xs_sym *y;

		memcpy(&r, e->sec[i].data + k * sizeof(r), sizeof(r));
		if (r.symidx == 0 || r.symidx >= e->nsyms)
			return xs_err_set(err, -ENOEXEC,
			                  SEC_FMT ": entry %lu: symbol index %u is out of range "
			                          "(1..%u)",
			                  SEC_ARG(e, i), (unsigned long)k, r.symidx, e->nsyms - 1);
		y = &e->syms[r.symidx];
		if (r.flags & ~XSPLICE_SYMREF_FLAGS_KNOWN)
			return xs_err_set(
			    err, -ENOEXEC, SEC_FMT ": entry %lu ('%s'): unknown flags 0x%x",
			    SEC_ARG(e, i), (unsigned long)k, xs_sym_label(e, r.symidx, b), r.flags);
		if (!(r.flags & XSPLICE_SYMREF_TLS) != (ELF64_ST_TYPE(y->s.st_info) != STT_TLS))
			return xs_err_set(err, -ENOEXEC, SEC_FMT ": entry %lu ('%s'): %s",
			                  SEC_ARG(e, i), (unsigned long)k,
			                  xs_sym_label(e, r.symidx, b),
			                  (r.flags & XSPLICE_SYMREF_TLS)
			                      ? "marked thread-local but the symbol is not STT_TLS"
			                      : "the symbol is STT_TLS but the entry is not marked "
			                        "thread-local");
		if (y->s.st_shndx != SHN_UNDEF)
			return xs_err_set(err, -ENOEXEC,
			                  SEC_FMT ": entry %lu names symbol %u ('%s'), which is "
			                          "defined in the payload, not undefined",
			                  SEC_ARG(e, i), (unsigned long)k, r.symidx,
			                  xs_sym_label(e, r.symidx, b));
		if (y->has_ref)
			return xs_err_set(err, -ENOEXEC,
			                  SEC_FMT ": entry %lu: symbol %u ('%s') has two entries",
			                  SEC_ARG(e, i), (unsigned long)k, r.symidx,
			                  xs_sym_label(e, r.symidx, b));
		y->has_ref = 1;
		y->ref_off = r.offset;
		y->ref_tls = (r.flags & XSPLICE_SYMREF_TLS) != 0;
	}
	return 0;
}

int xs_verify_symbols(struct xs_elf *e, struct xs_err *err)
{
	const uint8_t *base;
	int rc = find_symtab(e, err);

	if (!rc)
		rc = check_symtab_header(e, err);
	if (rc)
		return rc;
	e->syms = calloc(e->nsyms, sizeof(*e->syms));
	if (!e->syms)
		return xs_err_set(err, -ENOMEM, "out of memory for %u symbols", e->nsyms);
	base = e->sec[e->symtab].data;
	for (unsigned k = 0; k < e->nsyms; k++) {
		struct xs_sym *y = &e->syms[k];

		memcpy(&y->s, base + (uint64_t)k * sizeof(Elf64_Sym), sizeof(Elf64_Sym));
		y->got = y->stub = -1;
		rc = check_sym_name(e, k, y, err);
		if (!rc && ELF64_ST_TYPE(y->s.st_info) == STT_SECTION && y->s.st_shndx &&
		    y->s.st_shndx < e->nsec)
			y->name = e->sec[y->s.st_shndx].name;
		if (!rc)
			rc = check_sym_kind(e, k, y, err);
		if (!rc)
			rc = check_sym_section(e, k, y, err);
		if (rc)
			return rc;
	}
	return check_symrefs(e, err);
}
