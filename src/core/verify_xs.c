/*
 * The xsplice sections: which section plays which role (by name, each at
 * most once), the build-id notes, .modinfo, and the rules on
 * .xsplice.funcs entries and hook arrays (docs/payload-format.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "core/elf_int.h"

#define XS_SP_NONE XS_SP_COUNT /* a known name with no role for the linker */

static const struct {
	const char *name;
	unsigned role;
} specials[] = {
    {XSPLICE_SEC_FUNCS, XS_SP_FUNCS},
    {XSPLICE_SEC_TARGET, XS_SP_TARGET},
    {XSPLICE_SEC_DEPENDS, XS_SP_DEPENDS},
    {XSPLICE_SEC_BUILD_ID, XS_SP_BUILD_ID},
    {XSPLICE_SEC_SYMREFS, XS_SP_SYMREFS},
    {XSPLICE_SEC_MODINFO, XS_SP_MODINFO},
    {".eh_frame", XS_SP_EH_FRAME},
    {XSPLICE_SEC_SYMHINTS, XS_SP_NONE},
    {XSPLICE_SEC_HOOK_LOAD, XS_SP_HOOK0 + XS_HOOK_LOAD},
    {XSPLICE_SEC_HOOK_UNLOAD, XS_SP_HOOK0 + XS_HOOK_UNLOAD},
    {XSPLICE_SEC_HOOK_PREAPPLY, XS_SP_HOOK0 + XS_HOOK_PREAPPLY},
    {XSPLICE_SEC_HOOK_POSTAPPLY, XS_SP_HOOK0 + XS_HOOK_POSTAPPLY},
    {XSPLICE_SEC_HOOK_PREREVERT, XS_SP_HOOK0 + XS_HOOK_PREREVERT},
    {XSPLICE_SEC_HOOK_POSTREVERT, XS_SP_HOOK0 + XS_HOOK_POSTREVERT},
    {XSPLICE_SEC_HOOK_APPLY, XS_SP_HOOK0 + XS_HOOK_APPLY},
    {XSPLICE_SEC_HOOK_REVERT, XS_SP_HOOK0 + XS_HOOK_REVERT},
    {XSPLICE_SEC_PERTHREAD, XS_SP_HOOK0 + XS_HOOK_PERTHREAD},
};

/* the role of a section name; XS_SP_NONE for an ordinary or ignored one,
 * -1 for an unknown ".xsplice.*" name (most likely a typo in a hook) */
static int role_of(const char *name)
{
	for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++)
		if (!strcmp(name, specials[k].name))
			return (int)specials[k].role;
	if (!strncmp(name, ".xsplice.", 9))
		return -1;
	return XS_SP_NONE;
}

/* ---- notes --------------------------------------------------------------------- */

static int parse_note(struct xs_elf *e, unsigned i, struct xs_note *out, struct xs_err *err)
{
	const struct xs_sec *s = &e->sec[i];
	Elf64_Nhdr n;
	uint64_t want;

	/* SHT_PROGBITS too: that is what `objcopy --add-section` makes */
	if (s->h.sh_type != SHT_NOTE && s->h.sh_type != SHT_PROGBITS)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": type %u is neither SHT_NOTE nor SHT_PROGBITS",
		                  SEC_ARG(e, i), s->h.sh_type);
	if (s->h.sh_size < sizeof(n) + 4)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": %lu bytes, too short for a GNU note (at least 16)",
		                  SEC_ARG(e, i), (unsigned long)s->h.sh_size);
	memcpy(&n, s->data, sizeof(n));
	if (n.n_namesz != 4 || memcmp(s->data + sizeof(n), "GNU", 4) != 0)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": note owner is not \"GNU\" (name size %u)",
		                  SEC_ARG(e, i), n.n_namesz);
	if (n.n_type != XSPLICE_NOTE_TYPE)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": note type %u is not NT_GNU_BUILD_ID (%u)",
		                  SEC_ARG(e, i), n.n_type, XSPLICE_NOTE_TYPE);
	if (n.n_descsz == 0 || n.n_descsz > XSPLICE_BUILD_ID_MAX)
		return xs_err_set(err, -ENOEXEC, SEC_FMT ": build-id length %u is not 1..%u",
		                  SEC_ARG(e, i), n.n_descsz, XSPLICE_BUILD_ID_MAX);
	want = sizeof(n) + 4 + (((uint64_t)n.n_descsz + 3) & ~3ull);
	if (s->h.sh_size != want)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": section is %lu bytes but one note with a %u-byte "
		                          "build-id is %lu",
		                  SEC_ARG(e, i), (unsigned long)s->h.sh_size, n.n_descsz,
		                  (unsigned long)want);
	out->id = s->data + sizeof(n) + 4;
	out->len = n.n_descsz;
	return 0;
}

/* ---- per-role shape ------------------------------------------------------------- */

static int check_table_shape(struct xs_elf *e, unsigned i, uint64_t entsize, uint64_t max,
                             struct xs_err *err)
{
	const struct xs_sec *s = &e->sec[i];

	if (s->h.sh_type != SHT_PROGBITS || !s->alloc)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": must be an allocated SHT_PROGBITS section "
		                          "(type %u, flags 0x%lx)",
		                  SEC_ARG(e, i), s->h.sh_type, (unsigned long)s->h.sh_flags);
	if (s->h.sh_size % entsize)
		return xs_err_set(
		    err, -ENOEXEC, SEC_FMT ": size %lu is not a multiple of the %lu-byte entry",
		    SEC_ARG(e, i), (unsigned long)s->h.sh_size, (unsigned long)entsize);
	if (s->h.sh_size / entsize > max)
		return xs_err_set(err, -E2BIG, SEC_FMT ": %lu entries, more than the limit of %lu",
		                  SEC_ARG(e, i), (unsigned long)(s->h.sh_size / entsize),
		                  (unsigned long)max);
	return 0;
}

static int check_modinfo(struct xs_elf *e, unsigned i, struct xs_err *err)
{
	const struct xs_sec *s = &e->sec[i];

	if (s->h.sh_type != SHT_PROGBITS)
		return xs_err_set(err, -ENOEXEC, SEC_FMT ": type %u is not SHT_PROGBITS",
		                  SEC_ARG(e, i), s->h.sh_type);
	if (s->h.sh_size > XSPLICE_MAX_MODINFO)
		return xs_err_set(err, -E2BIG, SEC_FMT ": %lu bytes, more than the limit of %u",
		                  SEC_ARG(e, i), (unsigned long)s->h.sh_size, XSPLICE_MAX_MODINFO);
	if (s->h.sh_size && s->data[s->h.sh_size - 1] != 0)
		return xs_err_set(err, -ENOEXEC,
		                  SEC_FMT ": the last key=value string is not NUL-terminated",
		                  SEC_ARG(e, i));
	return 0;
}

static int check_role(struct xs_elf *e, unsigned i, unsigned role, struct xs_err *err)
{
	struct xs_sec *s = &e->sec[i];
	int rc = 0;

	switch (role) {
	case XS_SP_FUNCS:
		rc = check_table_shape(e, i, sizeof(struct xsplice_func), XSPLICE_MAX_FUNCS, err);
		e->nfuncs = (unsigned)(s->h.sh_size / sizeof(struct xsplice_func));
		break;
	case XS_SP_TARGET:
		return parse_note(e, i, &e->target, err);
	case XS_SP_DEPENDS:
		return parse_note(e, i, &e->depends, err);
	case XS_SP_BUILD_ID:
		return parse_note(e, i, &e->build_id, err);
	case XS_SP_SYMREFS:
		if (s->h.sh_type != SHT_PROGBITS || s->h.sh_size % sizeof(struct xsplice_symref))
			return xs_err_set(err, -ENOEXEC,
			                  SEC_FMT ": must be SHT_PROGBITS with a size multiple "
			                          "of %zu (type %u, size %lu)",
			                  SEC_ARG(e, i), sizeof(struct xsplice_symref),
			                  s->h.sh_type, (unsigned long)s->h.sh_size);
		return 0;
	case XS_SP_MODINFO:
		return check_modinfo(e, i, err);
	case XS_SP_EH_FRAME:
		return 0;
	default: /* a hook array */
		rc = check_table_shape(e, i, 8, XSPLICE_MAX_HOOKS, err);
		e->nhooks[role - XS_SP_HOOK0] = (unsigned)(s->h.sh_size / 8);
		break;
	}
	if (rc)
		return rc;
	/* funcs: 3 pointer fields per entry; hooks: 1 per slot */
	s->slots = calloc(s->h.sh_size / (role == XS_SP_FUNCS ? 80 : 8) + 1, 1);
	if (!s->slots)
		return xs_err_set(err, -ENOMEM, "out of memory for " SEC_FMT, SEC_ARG(e, i));
	return 0;
}

int xs_verify_special(struct xs_elf *e, struct xs_err *err)
{
	for (unsigned i = 1; i < e->nsec; i++) {
		int role = role_of(e->sec[i].name);
		int rc;

		if (role < 0)
			return xs_err_set(err, -ENOEXEC,
			                  SEC_FMT ": unknown xsplice section name (typo?)",
			                  SEC_ARG(e, i));
		if (role == XS_SP_NONE)
			continue;
		if (role == XS_SP_EH_FRAME && !e->sec[i].alloc)
			continue; /* a non-allocated .eh_frame is never registered */
		if (e->special[role])
			return xs_err_set(err, -ENOEXEC,
			                  SEC_FMT ": duplicate section, already section %u",
			                  SEC_ARG(e, i), e->special[role]);
		e->special[role] = i;
		rc = check_role(e, i, (unsigned)role, err);
		if (rc)
			return rc;
	}
	if (!e->special[XS_SP_TARGET])
		return xs_err_set(err, -ENOEXEC,
		                  "payload has no " XSPLICE_SEC_TARGET " note: pack it for its "
		                  "target with xsplice-pack -t TARGET");
	return 0;
}

/* ---- funcs entries and hook arrays (after relocations are known) ---------------- */

const char *xs_func_label(const struct xs_elf *e, unsigned k)
{
	const struct xs_sym *y;
	const struct xs_sec *s;
	uint64_t off;

	if (!e->fname || !(e->sec[e->special[XS_SP_FUNCS]].slots[k] & XS_FREL_NAME))
		return "?";
	y = &e->syms[e->fname[k].sym];
	if (y->s.st_shndx == SHN_UNDEF || y->s.st_shndx >= e->nsec)
		return "?";
	s = &e->sec[y->s.st_shndx];
	off = y->s.st_value + (uint64_t)e->fname[k].addend;
	if (!s->data || off >= s->h.sh_size ||
	    !memchr(s->data + off, 0, s->h.sh_size - off < 128 ? s->h.sh_size - off : 128))
		return "?";
	return (const char *)s->data + off;
}

static int check_expect(const struct xsplice_func *f, unsigned k, const char *nm,
                        struct xs_err *err)
{
	const struct xsplice_expect *x = &f->expect;

	if (x->enabled > 1)
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u (%s): expect.enabled is %u, must be 0 or 1", k,
		                  nm, x->enabled);
	if (x->enabled && (x->len == 0 || x->len > XSPLICE_EXPECT_MAX))
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u (%s): expectation length %u is not 1..%u", k, nm,
		                  x->len, XSPLICE_EXPECT_MAX);
	if (!x->enabled && x->len)
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u (%s): expectation length %u but the expectation "
		                  "is not enabled",
		                  k, nm, x->len);
	if ((f->flags & XSPLICE_FUNC_INLINE) && !x->enabled)
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u (%s): an inline patch (XSPLICE_FUNC_INLINE) "
		                  "requires an expectation",
		                  k, nm);
	return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int check_func(struct xs_elf *e, unsigned k, struct xs_err *err)
{
	unsigned fi = e->special[XS_SP_FUNCS];
	uint8_t rel = e->sec[fi].slots[k];
	const char *nm = xs_func_label(e, k);
	struct xsplice_func f;

	memcpy(&f, e->sec[fi].data + (uint64_t)k * sizeof(f), sizeof(f));
	if (f.version != XSPLICE_FUNC_VERSION)
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u (%s): version %u is not supported (expected %u)",
		                  k, nm, f.version, XSPLICE_FUNC_VERSION);
	if (f.flags & ~XSPLICE_FUNC_FLAGS_KNOWN)
		return xs_err_set(err, -ENOEXEC, "funcs entry %u (%s): unknown flags 0x%x", k, nm,
		                  f.flags & ~XSPLICE_FUNC_FLAGS_KNOWN);
	if (!all_zero(f.reserved0, sizeof(f.reserved0)) || f.expect.reserved ||
	    !all_zero(f.reserved1, sizeof(f.reserved1)))
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u (%s): reserved bytes (offsets 34-35, 69, 70-79) "
		                  "are not zero",
		                  k, nm);
	if (!(rel & XS_FREL_NAME))
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u: no R_X86_64_64 relocation for the name "
		                  "(offset 0)",
		                  k);
	if (!(rel & XS_FREL_OLD))
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u (%s): no R_X86_64_64 relocation for old_addr "
		                  "(offset 16)",
		                  k, nm);
	if (!(rel & XS_FREL_NEW) && f.new_addr)
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u (%s): new_addr 0x%lx without a relocation "
		                  "(a NOP patch has new_addr 0)",
		                  k, nm, (unsigned long)f.new_addr);
	if (!(rel & XS_FREL_NEW) && (f.new_size == 0 || f.new_size > XSPLICE_EXPECT_MAX))
		return xs_err_set(err, -ENOEXEC,
		                  "funcs entry %u (%s): a NOP patch needs new_size 1..%u (bytes to "
		                  "NOP), got %u",
		                  k, nm, XSPLICE_EXPECT_MAX, f.new_size);
	return check_expect(&f, k, nm, err);
}

int xs_verify_tables(struct xs_elf *e, struct xs_err *err)
{
	unsigned nhooks = 0;
	int rc;

	for (unsigned k = 0; k < e->nfuncs; k++) {
		rc = check_func(e, k, err);
		if (rc)
			return rc;
	}
	for (unsigned h = 0; h < XS_HOOK_COUNT; h++) {
		unsigned i = e->special[XS_SP_HOOK0 + h];

		for (unsigned k = 0; k < e->nhooks[h]; k++)
			if (!e->sec[i].slots[k])
				return xs_err_set(err, -ENOEXEC,
				                  SEC_FMT ": slot %u (offset 0x%x) has no "
				                          "R_X86_64_64 relocation",
				                  SEC_ARG(e, i), k, k * 8);
		nhooks += e->nhooks[h];
	}
	if (e->nfuncs == 0 && nhooks == 0)
		return xs_err_set(err, -ENOEXEC,
		                  "payload has no " XSPLICE_SEC_FUNCS " entry and no hook: "
		                  "nothing to do");
	return 0;
}
