/*
 * xs_payload_verify: untrusted bytes -> struct xs_elf, a checked view.
 *
 * Our own small ELF64 reader (no libelf: the agent runs inside other
 * people's processes and links libc only).  This file checks the ELF
 * header, the section header table, section names, every section's
 * bounds / flags / alignment, and that no two sections overlap; the symbol
 * table, relocations and the xsplice sections are checked in
 * verify_sym.c, verify_rel.c and verify_xs.c.  Every rule has its own
 * message; arithmetic on untrusted values is done so that it cannot wrap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "core/elf_int.h"

static int check_ehdr(const Elf64_Ehdr *eh, size_t len, struct xs_err *err)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return xs_err_set(err, -ENOEXEC, "not an ELF file (bad magic bytes)");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return xs_err_set(err, -ENOEXEC, "ELF class %u is not ELFCLASS64",
		                  eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return xs_err_set(err, -ENOEXEC, "ELF data encoding %u is not little endian",
		                  eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return xs_err_set(err, -ENOEXEC, "ELF version %u is not EV_CURRENT (1)",
		                  eh->e_ident[EI_VERSION] != EV_CURRENT ? eh->e_ident[EI_VERSION]
		                                                        : eh->e_version);
	if (eh->e_type != ET_REL)
		return xs_err_set(err, -ENOEXEC,
		                  "ELF type %u is not ET_REL: a payload is a relocatable object",
		                  eh->e_type);
	if (eh->e_machine != XS_ARCH_ELF_MACHINE)
		return xs_err_set(err, -ENOEXEC,
		                  "ELF machine %u is not %s (%u): wrong architecture",
		                  eh->e_machine, XS_ARCH_NAME, XS_ARCH_ELF_MACHINE);
	if (eh->e_ehsize != sizeof(Elf64_Ehdr))
		return xs_err_set(err, -ENOEXEC, "ELF header size %u is not %zu", eh->e_ehsize,
		                  sizeof(Elf64_Ehdr));
	if (eh->e_phnum != 0 || eh->e_phoff != 0)
		return xs_err_set(err, -ENOEXEC,
		                  "payload has program headers (e_phnum %u, e_phoff 0x%lx); "
		                  "a relocatable object has none",
		                  eh->e_phnum, (unsigned long)eh->e_phoff);
	if (eh->e_shoff == 0 || eh->e_shnum == 0)
		return xs_err_set(err, -ENOEXEC,
		                  "payload has no section header table (e_shoff 0x%lx, e_shnum %u)",
		                  (unsigned long)eh->e_shoff, eh->e_shnum);
	if (eh->e_shentsize != sizeof(Elf64_Shdr))
		return xs_err_set(err, -ENOEXEC, "section header size %u is not %zu",
		                  eh->e_shentsize, sizeof(Elf64_Shdr));
	if (eh->e_shnum > XSPLICE_MAX_SECTIONS)
		return xs_err_set(err, -E2BIG, "payload has %u sections, more than the limit of %u",
		                  eh->e_shnum, XSPLICE_MAX_SECTIONS);
	if (eh->e_shoff > len || (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > len - eh->e_shoff)
		return xs_err_set(err, -ENOEXEC,
		                  "section header table at offset 0x%lx (%u entries of %zu bytes) "
		                  "exceeds file size 0x%zx",
		                  (unsigned long)eh->e_shoff, eh->e_shnum, sizeof(Elf64_Shdr), len);
	if (eh->e_shstrndx == SHN_UNDEF || eh->e_shstrndx >= eh->e_shnum)
		return xs_err_set(err, -ENOEXEC,
		                  "section name table index %u is not a section (payload has %u)",
		                  eh->e_shstrndx, eh->e_shnum);
	return 0;
}

/* Names first: every later message names its section. */
static int check_names(struct xs_elf *e, unsigned shstrndx, struct xs_err *err)
{
	const struct xs_sec *st = &e->sec[shstrndx];
	const char *tab;

	if (st->h.sh_type != SHT_STRTAB)
		return xs_err_set(err, -ENOEXEC,
		                  "section name table (section %u) has type %u, not SHT_STRTAB",
		                  shstrndx, st->h.sh_type);
	if (st->h.sh_offset > e->len || st->h.sh_size > e->len - st->h.sh_offset)
		return xs_err_set(err, -ENOEXEC,
		                  "section name table (section %u): offset 0x%lx + size 0x%lx "
		                  "exceeds file size 0x%zx",
		                  shstrndx, (unsigned long)st->h.sh_offset,
		                  (unsigned long)st->h.sh_size, e->len);
	tab = (const char *)e->data + st->h.sh_offset;
	for (unsigned i = 0; i < e->nsec; i++) {
		uint64_t off = e->sec[i].h.sh_name;

		if (off >= st->h.sh_size)
			return xs_err_set(err, -ENOEXEC,
			                  "section %u: name offset 0x%lx is outside the section "
			                  "name table (size 0x%lx)",
			                  i, (unsigned long)off, (unsigned long)st->h.sh_size);
		if (!memchr(tab + off, 0, st->h.sh_size - off))
			return xs_err_set(err, -ENOEXEC,
			                  "section %u: name at offset 0x%lx is not NUL-terminated "
			                  "inside the section name table",
			                  i, (unsigned long)off);
		e->sec[i].name = tab + off;
	}
	return 0;
}

/* The section types an allocated section may have; anything else that is
 * allocated would be silently mishandled, so it is refused. */
static int alloc_type_ok(uint32_t type)
{
	return type == SHT_PROGBITS || type == SHT_NOBITS || type == SHT_NOTE ||
	       type == SHT_X86_64_UNWIND;
}

static int check_alloc_section(struct xs_elf *e, unsigned i, struct xs_err *err)
{
	const Elf64_Shdr *h = &e->sec[i].h;

	if (h->sh_type == SHT_INIT_ARRAY || h->sh_type == SHT_FINI_ARRAY ||
	    h->sh_type == SHT_PREINIT_ARRAY)
		return xs_err_set(err, -ENOTSUP,
		                  SEC_FMT ": constructors and destructors are not run in a "
		                          "payload; use XSPLICE_LOAD_HOOK / XSPLICE_UNLOAD_HOOK",
		                  SEC_ARG(e, i));
	if (!alloc_type_ok(h->sh_type))
		return xs_err_set(err, -ENOTSUP,
		                  SEC_FMT ": section type 0x%x is not supported in an allocated "
		                          "section",
		                  SEC_ARG(e, i), h->sh_type);
	if ((h->sh_flags & SHF_WRITE) && (h->sh_flags & SHF_EXECINSTR))
		return xs_err_set(err, -EPERM,
		                  SEC_FMT ": section is both writable and executable (W^X)",
		                  SEC_ARG(e, i));
	if (h->sh_flags & SHF_TLS)
		return xs_err_set(err, -ENOTSUP,
		                  SEC_FMT ": a payload cannot define thread-local storage (only "
		                          "the target's own TLS variables are reachable)",
		                  SEC_ARG(e, i));
	if (h->sh_flags & SHF_COMPRESSED)
		return xs_err_set(err, -ENOTSUP,
		                  SEC_FMT ": compressed allocated sections are not supported",
		                  SEC_ARG(e, i));
	if (h->sh_type == SHT_NOBITS && (h->sh_flags & SHF_EXECINSTR))
		return xs_err_set(err, -ENOTSUP, SEC_FMT ": executable SHT_NOBITS section",
		                  SEC_ARG(e, i));
	if (h->sh_size > XSPLICE_MAX_ALLOC_SIZE)
		return xs_err_set(err, -E2BIG,
		                  SEC_FMT ": size 0x%lx exceeds the allocation limit of 0x%x bytes",
		                  SEC_ARG(e, i), (unsigned long)h->sh_size, XSPLICE_MAX_ALLOC_SIZE);
	return 0;
}

static int check_section(struct xs_elf *e, unsigned i, uint64_t *alloc_total, struct xs_err *err)
{
	struct xs_sec *s = &e->sec[i];
	const Elf64_Shdr *h = &s->h;
	int rc;

	if (h->sh_type == SHT_REL)
		return xs_err_set(err, -ENOTSUP,
		                  SEC_FMT ": SHT_REL relocations are not supported (x86-64 "
		                          "objects use SHT_RELA)",
		                  SEC_ARG(e, i));
	if (h->sh_addralign & (h->sh_addralign - 1))
		return xs_err_set(err, -ENOEXEC, SEC_FMT ": alignment 0x%lx is not a power of two",
		                  SEC_ARG(e, i), (unsigned long)h->sh_addralign);
	if (h->sh_type != SHT_NOBITS &&
	    (h->sh_offset > e->len || h->sh_size > e->len - h->sh_offset))
		return xs_err_set(
		    err, -ENOEXEC, SEC_FMT ": offset 0x%lx + size 0x%lx exceeds file size 0x%zx",
		    SEC_ARG(e, i), (unsigned long)h->sh_offset, (unsigned long)h->sh_size, e->len);
	if (h->sh_type != SHT_NOBITS)
		s->data = e->data + h->sh_offset;
	s->alloc = (h->sh_flags & SHF_ALLOC) != 0;
	if (!s->alloc)
		return 0;
	rc = check_alloc_section(e, i, err);
	if (rc)
		return rc;
	if (h->sh_addralign > XS_MAX_SECTION_ALIGN)
		return xs_err_set(
		    err, -ENOTSUP, SEC_FMT ": alignment 0x%lx is larger than the maximum 0x%x",
		    SEC_ARG(e, i), (unsigned long)h->sh_addralign, XS_MAX_SECTION_ALIGN);
	*alloc_total += h->sh_size; /* each <= 256 MiB, at most 16384: no wrap */
	if (*alloc_total > XSPLICE_MAX_ALLOC_SIZE)
		return xs_err_set(err, -E2BIG,
		                  "allocated sections total 0x%lx bytes (at " SEC_FMT
		                  "), more than the limit of 0x%x",
		                  (unsigned long)*alloc_total, SEC_ARG(e, i),
		                  XSPLICE_MAX_ALLOC_SIZE);
	return 0;
}

/* ---- overlap ---------------------------------------------------------------- */

struct span {
	uint64_t lo, hi;
	unsigned idx; /* section index, or UINT32_MAX for the headers */
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

static const char *span_name(const struct xs_elf *e, const struct span *s, char buf[48])
{
	if (s->idx == UINT32_MAX)
		return s->lo == 0 ? "the ELF header" : "the section header table";
	snprintf(buf, 48, "section %u", s->idx);
	return buf;
	(void)e;
}

/* No two non-empty file ranges (sections with bytes, the ELF header, the
 * section header table) may share a byte. */
static int check_overlap(struct xs_elf *e, const Elf64_Ehdr *eh, struct xs_err *err)
{
	struct span *v = calloc(e->nsec + 2u, sizeof(*v));
	unsigned n = 0;
	int rc = 0;

	if (!v)
		return xs_err_set(err, -ENOMEM, "out of memory checking section overlap");
	v[n++] = (struct span){0, sizeof(Elf64_Ehdr), UINT32_MAX};
	v[n++] = (struct span){eh->e_shoff, eh->e_shoff + (uint64_t)e->nsec * sizeof(Elf64_Shdr),
	                       UINT32_MAX};
	for (unsigned i = 1; i < e->nsec; i++)
		if (e->sec[i].data && e->sec[i].h.sh_size)
			v[n++] = (struct span){e->sec[i].h.sh_offset,
			                       e->sec[i].h.sh_offset + e->sec[i].h.sh_size, i};
	qsort(v, n, sizeof(*v), span_cmp);
	for (unsigned i = 1; i < n && !rc; i++) {
		char a[48], b[48];

		if (v[i].lo >= v[i - 1].hi)
			continue;
		rc = xs_err_set(err, -ENOEXEC,
		                "%s%s%s (bytes 0x%lx..0x%lx) overlaps %s%s%s (bytes 0x%lx..0x%lx)",
		                span_name(e, &v[i], a), v[i].idx == UINT32_MAX ? "" : " ",
		                v[i].idx == UINT32_MAX ? "" : e->sec[v[i].idx].name,
		                (unsigned long)v[i].lo, (unsigned long)v[i].hi,
		                span_name(e, &v[i - 1], b), v[i - 1].idx == UINT32_MAX ? "" : " ",
		                v[i - 1].idx == UINT32_MAX ? "" : e->sec[v[i - 1].idx].name,
		                (unsigned long)v[i - 1].lo, (unsigned long)v[i - 1].hi);
	}
	free(v);
	return rc;
}

/* ---- entry point ------------------------------------------------------------ */

static int verify_sections(struct xs_elf *e, const Elf64_Ehdr *eh, struct xs_err *err)
{
	uint64_t alloc_total = 0;
	int rc;

	e->nsec = eh->e_shnum;
	e->sec = calloc(e->nsec, sizeof(*e->sec));
	if (!e->sec)
		return xs_err_set(err, -ENOMEM, "out of memory for %u section headers", e->nsec);
	for (unsigned i = 0; i < e->nsec; i++)
		memcpy(&e->sec[i].h, e->data + eh->e_shoff + (uint64_t)i * sizeof(Elf64_Shdr),
		       sizeof(Elf64_Shdr));
	if (e->sec[0].h.sh_type != SHT_NULL)
		return xs_err_set(err, -ENOEXEC,
		                  "section 0 has type %u, not SHT_NULL (extended numbering is "
		                  "not supported)",
		                  e->sec[0].h.sh_type);
	rc = check_names(e, eh->e_shstrndx, err);
	for (unsigned i = 1; i < e->nsec && !rc; i++)
		rc = check_section(e, i, &alloc_total, err);
	return rc ? rc : check_overlap(e, eh, err);
}

int xs_payload_verify(const void *data, size_t len, struct xs_elf **out, struct xs_err *err)
{
	Elf64_Ehdr eh;
	struct xs_elf *e;
	int rc;

	*out = NULL;
	if (len < sizeof(eh))
		return xs_err_set(err, -ENOEXEC,
		                  "payload is %zu bytes, too short for an ELF header (%zu bytes)",
		                  len, sizeof(eh));
	if (len > XSPLICE_MAX_PAYLOAD_SIZE)
		return xs_err_set(err, -E2BIG, "payload is %zu bytes, more than the limit of %u",
		                  len, XSPLICE_MAX_PAYLOAD_SIZE);
	memcpy(&eh, data, sizeof(eh));
	rc = check_ehdr(&eh, len, err);
	if (rc)
		return rc;
	e = calloc(1, sizeof(*e));
	if (!e)
		return xs_err_set(err, -ENOMEM, "out of memory");
	e->data = data;
	e->len = len;
	rc = verify_sections(e, &eh, err);
	if (!rc)
		rc = xs_verify_special(e, err);
	if (!rc)
		rc = xs_verify_symbols(e, err);
	if (!rc)
		rc = xs_verify_relocs(e, err);
	if (!rc)
		rc = xs_verify_tables(e, err);
	if (!rc)
		rc = xs_layout_compute(e, err);
	if (rc) {
		xs_elf_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void xs_elf_free(struct xs_elf *e)
{
	if (!e)
		return;
	for (unsigned i = 0; e->sec && i < e->nsec; i++)
		free(e->sec[i].slots);
	free(e->sec);
	free(e->syms);
	free(e->relas);
	free(e->fname);
	free(e->got_sym);
	free(e->stub_sym);
	free(e);
}

struct xs_note xs_elf_target_id(const struct xs_elf *e)
{
	return e->target;
}

struct xs_note xs_elf_depends_id(const struct xs_elf *e)
{
	return e->depends;
}

struct xs_note xs_elf_build_id(const struct xs_elf *e)
{
	return e->build_id;
}

const char *xs_elf_modinfo(const struct xs_elf *e, size_t *len)
{
	unsigned i = e->special[XS_SP_MODINFO];

	*len = i ? e->sec[i].h.sh_size : 0;
	return i && *len ? (const char *)e->sec[i].data : NULL;
}

unsigned xs_elf_nfuncs(const struct xs_elf *e)
{
	return e->nfuncs;
}

const char *xs_sym_label(const struct xs_elf *e, unsigned i, char buf[32])
{
	if (i < e->nsyms && e->syms[i].name && e->syms[i].name[0])
		return e->syms[i].name;
	snprintf(buf, 32, "#%u", i);
	return buf;
}
