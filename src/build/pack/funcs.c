/*
 * Fill the .xsplice.funcs table: old_size from the target's symbol, new_size
 * from the payload's, and prove that the 5-byte jump fits at each patch
 * site (9 bytes when the function starts with endbr64, which stays).
 *
 * A function shorter than that is refused, unless the alignment padding
 * after it is provably dead: only int3 / NOP instructions from its end up
 * to the next symbol or 16-byte boundary.  Then old_size grows over the
 * padding the jump needs and the entry gets XSPLICE_FUNC_PADDED.
 */
#include "build/pack/pack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUNC_SIZE sizeof(struct xsplice_func)
#define JUMP_SIZE 5
#define ENDBR_SIZE 4
#define PAD_ALIGN 16

static const uint8_t endbr64[ENDBR_SIZE] = {0xf3, 0x0f, 0x1e, 0xfa};

/* The three relocated pointer slots of one entry (symbol index 0: none). */
struct slots {
	const Elf64_Rela *name, *new_addr, *old_addr;
};

struct table {
	struct xsplice_func *f; /* points into the section data */
	size_t n;
	struct slots *slots;
};

size_t pk_nop_len(const uint8_t *p, size_t n)
{
	size_t i = 0;
	if (n && (p[0] == 0xcc || p[0] == 0x90))
		return 1;
	while (i < n && i < 14 && (p[i] == 0x66 || p[i] == 0x2e)) /* data16 / cs prefixes */
		i++;
	if (i < n && p[i] == 0x90 && i > 0) /* 66 90: xchg %ax,%ax */
		return i + 1;
	if (i + 2 >= n || p[i] != 0x0f || p[i + 1] != 0x1f || ((p[i + 2] >> 3) & 7) != 0)
		return 0;
	/* 0f 1f /0: nopw/nopl with a memory operand that is never accessed */
	unsigned modrm = p[i + 2], mod = modrm >> 6, rm = modrm & 7;
	size_t len = i + 3;
	if (mod != 3 && rm == 4) { /* SIB */
		if (len >= n)
			return 0;
		if (mod == 0 && (p[len] & 7) == 5)
			len += 4;
		len++;
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		len += 4;
	return len <= n && len <= 15 ? len : 0;
}

/* Map each R_X86_64_64 of .rela.xsplice.funcs to its entry and slot. */
static int collect_slots(struct pk_ctx *c, size_t funcs, struct table *t, struct xs_err *err)
{
	size_t ri = pk_obj_rela_for(&c->obj, funcs);
	if (!ri)
		return xs_err_set(err, -EINVAL, "%s has no relocations: no entry names a function",
		                  XSPLICE_SEC_FUNCS);
	const struct pk_sec *rs = &c->obj.secs[ri];
	const Elf64_Rela *r = (const Elf64_Rela *)rs->data;
	size_t nr = rs->sh.sh_size / sizeof(*r);
	for (size_t i = 0; i < nr; i++) {
		size_t e = r[i].r_offset / FUNC_SIZE, field = r[i].r_offset % FUNC_SIZE;
		const Elf64_Rela **slot = NULL;
		if (e < t->n && field == 0)
			slot = &t->slots[e].name;
		else if (e < t->n && field == 8)
			slot = &t->slots[e].new_addr;
		else if (e < t->n && field == 16)
			slot = &t->slots[e].old_addr;
		if (!slot || ELF64_R_TYPE(r[i].r_info) != R_X86_64_64 ||
		    ELF64_R_SYM(r[i].r_info) >= c->obj.nsyms)
			return xs_err_set(
			    err, -EINVAL,
			    "%s: unexpected relocation at offset %llu "
			    "(type %u): only the name, new_addr and old_addr slots are "
			    "relocated, by R_X86_64_64",
			    XSPLICE_SEC_FUNCS, (unsigned long long)r[i].r_offset,
			    (unsigned)ELF64_R_TYPE(r[i].r_info));
		*slot = &r[i];
	}
	return 0;
}

/* The entry's name string, for messages ("entry N" when unreadable). */
static const char *entry_name(const struct pk_ctx *c, const struct table *t, size_t e)
{
	static char buf[XSPLICE_NAME_MAX + 16];
	const Elf64_Rela *r = t->slots[e].name;
	snprintf(buf, sizeof(buf), "entry %zu", e);
	if (!r)
		return buf;
	const Elf64_Sym *s = &c->obj.syms[ELF64_R_SYM(r->r_info)];
	if (s->st_shndx == SHN_UNDEF || s->st_shndx >= c->obj.nsecs)
		return buf;
	const struct pk_sec *sec = &c->obj.secs[s->st_shndx];
	uint64_t off = s->st_value + (uint64_t)r->r_addend;
	if (!sec->data || off >= sec->sh.sh_size)
		return buf;
	const char *str = (const char *)sec->data + off;
	size_t max = sec->sh.sh_size - off;
	if (!memchr(str, '\0', max < XSPLICE_NAME_MAX ? max : XSPLICE_NAME_MAX))
		return buf;
	return str;
}

/* new_size: the payload function new_addr points into (symbol or section + addend). */
static int new_size(const struct pk_ctx *c, const char *fname, const Elf64_Rela *r, uint32_t *out,
                    struct xs_err *err)
{
	const struct pk_obj *o = &c->obj;
	size_t si = ELF64_R_SYM(r->r_info);
	const Elf64_Sym *s = &o->syms[si];
	if (s->st_shndx == SHN_UNDEF) {
		const struct xt_sym *ts = c->resolved[si];
		if (!ts || ts->size == 0 || r->r_addend != 0)
			return xs_err_set(err, -ENOENT,
			                  "'%s': the new code '%s' is not defined in "
			                  "the payload nor sized in %s",
			                  fname, pk_sym_name(o, si), c->tgt.path);
		*out = (uint32_t)ts->size;
		return 0;
	}
	uint64_t addr = s->st_value + (uint64_t)r->r_addend;
	for (size_t i = 1; i < o->nsyms; i++) {
		const Elf64_Sym *f = &o->syms[i];
		if (f->st_shndx != s->st_shndx || f->st_size == 0 ||
		    (ELF64_ST_TYPE(f->st_info) != STT_FUNC &&
		     ELF64_ST_TYPE(f->st_info) != STT_NOTYPE))
			continue;
		if (addr >= f->st_value && addr - f->st_value < f->st_size) {
			uint64_t n = f->st_size - (addr - f->st_value);
			*out = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
			return 0;
		}
	}
	return xs_err_set(err, -EINVAL,
	                  "'%s': new_addr points to %s+%lld, which is inside no "
	                  "sized function of the payload",
	                  fname, pk_sym_name(o, si), (long long)r->r_addend);
}

/*
 * Can the jump of `need` bytes at `site` spill over the end of `ts` into
 * its padding?  Returns the bytes of padding used (>0) or 0 with a reason.
 */
static size_t padding_room(const struct pk_ctx *c, const struct xt_sym *ts, uint64_t site,
                           size_t need, char *why, size_t whylen)
{
	uint64_t end = ts->value + ts->size, want = site + need;
	uint64_t limit = (end + PAD_ALIGN - 1) & ~(uint64_t)(PAD_ALIGN - 1);
	const struct xt_sym *next = xt_sym_after(&c->tgt, ts->value);
	if (next && next->value < limit)
		limit = next->value;
	if (want > limit) {
		snprintf(why, whylen,
		         "the padding after it (%llu bytes, up to %s%s%s) is too small",
		         (unsigned long long)(limit > end ? limit - end : 0),
		         next && next->value == limit ? "'" : "",
		         next && next->value == limit ? next->name : "the 16-byte boundary",
		         next && next->value == limit ? "'" : "");
		return 0;
	}
	uint8_t pad[PAD_ALIGN];
	size_t n = xt_read(&c->tgt, end, pad, (size_t)(limit - end));
	for (size_t i = 0; i < want - end;) {
		size_t len = pk_nop_len(pad + i, n - i);
		if (len == 0) {
			snprintf(why, whylen,
			         "the padding after it holds code or data (byte 0x%02x "
			         "at +%zu), not int3/NOP",
			         i < n ? pad[i] : 0, (size_t)ts->size + i);
			return 0;
		}
		i += len;
	}
	return (size_t)(want - end);
}

static int fill_entry(struct pk_ctx *c, struct table *t, size_t e, struct xs_err *err)
{
	struct xsplice_func *f = &t->f[e];
	const struct slots *sl = &t->slots[e];
	const char *fname = entry_name(c, t, e);
	if (!sl->old_addr)
		return xs_err_set(err, -EINVAL, "'%s': old_addr is not set", fname);
	size_t oi = ELF64_R_SYM(sl->old_addr->r_info);
	const struct xt_sym *ts = c->resolved[oi];
	if (c->obj.syms[oi].st_shndx != SHN_UNDEF)
		return xs_err_set(err, -EINVAL,
		                  "'%s': the function to replace, %s, is defined by "
		                  "the payload itself, not by %s",
		                  fname, pk_sym_name(&c->obj, oi), c->tgt.path);
	if (!ts)
		return xs_err_set(err, -ENOENT,
		                  "'%s': the function to replace, '%s', is not "
		                  "defined in %s (symbols from %s)",
		                  fname, pk_sym_name(&c->obj, oi), c->tgt.path,
		                  xt_syms_from_name(&c->tgt));
	if (ts->type != STT_FUNC && ts->type != STT_NOTYPE)
		return xs_err_set(err, -EINVAL, "'%s': '%s' is not a function in %s", fname,
		                  ts->name, c->tgt.path);
	uint64_t off = (uint64_t)sl->old_addr->r_addend;
	if (off >= ts->size)
		return xs_err_set(err, -EINVAL, "'%s': offset %llu is outside '%s' (%llu bytes)",
		                  fname, (unsigned long long)off, ts->name,
		                  (unsigned long long)ts->size);
	f->old_size = (uint32_t)(ts->size - off);
	if (off)
		f->flags |= XSPLICE_FUNC_INLINE;
	else
		pk_warn_inlined(c, ts->name);
	if (sl->new_addr)
		return new_size(c, fname, sl->new_addr, &f->new_size, err);
	if (f->new_size == 0 || f->new_size > f->old_size)
		return xs_err_set(err, -EINVAL,
		                  "'%s': NOP patch of %u bytes at +%llu, but only %u "
		                  "bytes of '%s' are there",
		                  fname, f->new_size, (unsigned long long)off, f->old_size,
		                  ts->name);
	return 0;
}

/*
 * The expected bytes should be what the target file has at the site.  Only
 * a warning: the agent checks the live code at apply time, which may
 * legitimately differ from the file (a payload stacked on another one that
 * changed these bytes); it is the authority.
 */
static int check_expect(const struct pk_ctx *c, const struct xsplice_func *f, const char *fname,
                        uint64_t site, struct xs_err *err)
{
	uint8_t have[XSPLICE_EXPECT_MAX];
	if (!f->expect.enabled)
		return 0;
	if (f->expect.len == 0 || f->expect.len > XSPLICE_EXPECT_MAX)
		return xs_err_set(err, -EINVAL, "'%s': expectation length %u is not 1..%u", fname,
		                  f->expect.len, XSPLICE_EXPECT_MAX);
	size_t n = xt_read(&c->tgt, site, have, f->expect.len);
	if (n == f->expect.len && memcmp(have, f->expect.data, n) == 0)
		return 0;
	char hx[2 * XSPLICE_EXPECT_MAX + 1], hy[2 * XSPLICE_EXPECT_MAX + 1];
	fprintf(stderr,
	        "xsplice-pack: warning: '%s': %s has %s at 0x%llx, the payload expects %s: "
	        "the agent will refuse to apply it unless the code there has changed to that\n",
	        fname, c->tgt.path, xt_hex(have, n, hx), (unsigned long long)site,
	        xt_hex(f->expect.data, f->expect.len, hy));
	return 0;
}

/* The jump (or NOPs) must fit at the site; use padding when provably free. */
static int check_room(struct pk_ctx *c, struct table *t, size_t e, struct xs_err *err)
{
	struct xsplice_func *f = &t->f[e];
	const char *fname = entry_name(c, t, e);
	const struct xt_sym *ts = c->resolved[ELF64_R_SYM(t->slots[e].old_addr->r_info)];
	uint64_t site = ts->value + (uint64_t)t->slots[e].old_addr->r_addend;
	uint8_t head[ENDBR_SIZE] = {0};
	int rc = check_expect(c, f, fname, site, err);
	if (rc || !t->slots[e].new_addr)
		return rc;
	int endbr = site == ts->value && xt_read(&c->tgt, site, head, ENDBR_SIZE) == ENDBR_SIZE &&
	            memcmp(head, endbr64, ENDBR_SIZE) == 0;
	size_t need = JUMP_SIZE + (endbr ? ENDBR_SIZE : 0);
	if (f->old_size >= need)
		return 0;
	char why[160];
	size_t pad = padding_room(c, ts, site, need, why, sizeof(why));
	if (!pad)
		return xs_err_set(err, -ENOSPC,
		                  "cannot patch '%s' in %s: %u bytes there, too short "
		                  "for %s (%zu bytes), and %s",
		                  fname, c->tgt.path, f->old_size,
		                  endbr ? "its endbr64 and the 5-byte jump" : "the 5-byte jump",
		                  need, why);
	pk_verbose(c, "%s: %u bytes + %zu bytes of alignment padding for the jump\n", fname,
	           f->old_size, pad);
	f->old_size += (uint32_t)pad;
	f->flags |= XSPLICE_FUNC_PADDED;
	return 0;
}

/* Two entries must not patch overlapping bytes. */
static int check_overlap(struct pk_ctx *c, struct table *t, struct xs_err *err)
{
	for (size_t a = 0; a < t->n; a++) {
		const struct xt_sym *sa = c->resolved[ELF64_R_SYM(t->slots[a].old_addr->r_info)];
		uint64_t lo = sa->value + (uint64_t)t->slots[a].old_addr->r_addend;
		for (size_t b = a + 1; b < t->n; b++) {
			const struct xt_sym *sb =
			    c->resolved[ELF64_R_SYM(t->slots[b].old_addr->r_info)];
			uint64_t lb = sb->value + (uint64_t)t->slots[b].old_addr->r_addend;
			if (lb < lo + t->f[a].old_size && lo < lb + t->f[b].old_size) {
				char na[XSPLICE_NAME_MAX + 16];
				snprintf(na, sizeof(na), "%s", entry_name(c, t, a));
				return xs_err_set(err, -EEXIST,
				                  "'%s' and '%s' patch the same bytes "
				                  "of %s",
				                  na, entry_name(c, t, b), c->tgt.path);
			}
		}
	}
	return 0;
}

int pk_funcs(struct pk_ctx *c, struct xs_err *err)
{
	size_t idx = pk_obj_find(&c->obj, XSPLICE_SEC_FUNCS);
	if (!idx) {
		pk_verbose(c, "no %s: the payload replaces no function\n", XSPLICE_SEC_FUNCS);
		return 0;
	}
	struct pk_sec *s = &c->obj.secs[idx];
	if (s->sh.sh_size % FUNC_SIZE || !s->data)
		return xs_err_set(err, -EINVAL, "%s is %llu bytes, not a multiple of %zu",
		                  XSPLICE_SEC_FUNCS, (unsigned long long)s->sh.sh_size, FUNC_SIZE);
	struct table t = {(struct xsplice_func *)s->data, s->sh.sh_size / FUNC_SIZE, NULL};
	t.slots = calloc(t.n ? t.n : 1, sizeof(*t.slots));
	if (!t.slots)
		return xs_err_set(err, -ENOMEM, "out of memory");
	int rc = collect_slots(c, idx, &t, err);
	for (size_t e = 0; rc == 0 && e < t.n; e++)
		rc = fill_entry(c, &t, e, err);
	for (size_t e = 0; rc == 0 && e < t.n; e++)
		rc = check_room(c, &t, e, err);
	if (rc == 0)
		rc = check_overlap(c, &t, err);
	for (size_t e = 0; rc == 0 && e < t.n; e++)
		pk_verbose(c, "replace %s: old %u bytes%s, new %u bytes\n", entry_name(c, &t, e),
		           t.f[e].old_size, t.f[e].flags & XSPLICE_FUNC_PADDED ? " (padded)" : "",
		           t.f[e].new_size);
	free(t.slots);
	return rc;
}
