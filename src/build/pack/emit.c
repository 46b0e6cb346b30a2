/*
 * Turn the linked object into the payload's section list: drop what the
 * payload must not carry (.xsplice.symhints, stale notes), add the notes,
 * .xsplice.symrefs and --meta strings, and renumber sections and symbols.
 * write.c then writes it out.
 */
#include "build/pack/pack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DROPPED UINT32_MAX

/* Sections the payload gets from xsplice-pack only; stale copies from the
 * inputs (e.g. re-packing a payload) are dropped. */
static const char *const regenerated[] = {
    XSPLICE_SEC_SYMHINTS, XSPLICE_SEC_TARGET,   XSPLICE_SEC_DEPENDS,
    XSPLICE_SEC_SYMREFS,  XSPLICE_SEC_BUILD_ID, NULL,
};

static void mark_drops(struct pk_obj *o)
{
	for (size_t i = 1; i < o->nsecs; i++)
		for (size_t k = 0; regenerated[k]; k++)
			if (strcmp(o->secs[i].name, regenerated[k]) == 0)
				o->secs[i].drop = 1;
	/* relocations of a dropped section go with it */
	for (size_t i = 1; i < o->nsecs; i++) {
		const Elf64_Shdr *sh = &o->secs[i].sh;
		if (sh->sh_type == SHT_RELA && sh->sh_info < o->nsecs && o->secs[sh->sh_info].drop)
			o->secs[i].drop = 1;
	}
}

/* Old -> new symbol index: symbols defined in dropped sections go away. */
static int map_symbols(const struct pk_obj *o, uint32_t *map, size_t *nlocal, struct xs_err *err)
{
	size_t n = 0;
	*nlocal = 0;
	for (size_t i = 0; i < o->nsyms; i++) {
		uint16_t shndx = o->syms[i].st_shndx;
		if (i && shndx != SHN_UNDEF && shndx < SHN_LORESERVE &&
		    (shndx >= o->nsecs || o->secs[shndx].drop)) {
			map[i] = DROPPED;
			continue;
		}
		if (ELF64_ST_BIND(o->syms[i].st_info) == STB_LOCAL && n != *nlocal)
			return xs_err_set(err, -EINVAL, "local symbol '%s' after the globals",
			                  pk_sym_name(o, i));
		map[i] = (uint32_t)n++;
		if (ELF64_ST_BIND(o->syms[i].st_info) == STB_LOCAL)
			*nlocal = n;
	}
	return 0;
}

static size_t add_note(struct pk_obj *o, const char *name, const uint8_t *id, size_t len)
{
	uint8_t buf[16 + XSPLICE_BUILD_ID_MAX];
	uint32_t hdr[3] = {4, (uint32_t)len, XSPLICE_NOTE_TYPE};
	size_t size = 16 + ((len + 3) & ~(size_t)3);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + 12, "GNU", 4);
	if (id)
		memcpy(buf + 16, id, len);
	return pk_obj_add(o, name, SHT_NOTE, 0, 4, 0, buf, size);
}

static int add_symrefs(struct pk_ctx *c, const uint32_t *map, struct xs_err *err)
{
	size_t n = 0;
	struct xsplice_symref *refs = calloc(c->nresolved ? c->nresolved : 1, sizeof(*refs));
	if (!refs)
		return xs_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < c->nresolved; i++)
		if (c->resolved[i] && map[i] != DROPPED)
			refs[n++] = (struct xsplice_symref){
			    .symidx = map[i],
			    .offset = c->resolved[i]->value,
			    .flags = c->resolved[i]->type == STT_TLS ? XSPLICE_SYMREF_TLS : 0};
	size_t idx = n ? pk_obj_add(&c->obj, XSPLICE_SEC_SYMREFS, SHT_PROGBITS, 0, 8, sizeof(*refs),
	                            refs, n * sizeof(*refs))
	               : 1;
	free(refs);
	return idx ? 0 : xs_err_set(err, -ENOMEM, "out of memory");
}

/* --meta key=value strings are appended to .modinfo (created if needed). */
static int add_meta(struct pk_ctx *c, struct xs_err *err)
{
	if (!c->opt.nmeta)
		return 0;
	size_t idx = pk_obj_find(&c->obj, XSPLICE_SEC_MODINFO);
	if (!idx && !(idx = pk_obj_add(&c->obj, XSPLICE_SEC_MODINFO, SHT_PROGBITS, SHF_ALLOC, 1, 0,
	                               NULL, 0)))
		return xs_err_set(err, -ENOMEM, "out of memory");
	struct pk_sec *s = &c->obj.secs[idx];
	if (s->sh.sh_type == SHT_NOBITS)
		return xs_err_set(err, -EINVAL, "%s is not a string section", XSPLICE_SEC_MODINFO);
	for (size_t i = 0; i < c->opt.nmeta; i++) {
		size_t len = strlen(c->opt.meta[i]) + 1;
		uint8_t *d = realloc(s->data, s->sh.sh_size + len);
		if (!d)
			return xs_err_set(err, -ENOMEM, "out of memory");
		memcpy(d + s->sh.sh_size, c->opt.meta[i], len);
		s->data = d;
		s->sh.sh_size += len;
	}
	return 0;
}

static int add_sections(struct pk_ctx *c, const uint32_t *map, struct xs_err *err)
{
	int rc = add_symrefs(c, map, err);
	if (rc == 0 && !add_note(&c->obj, XSPLICE_SEC_TARGET, c->tgt.build_id, c->tgt.build_id_len))
		rc = xs_err_set(err, -ENOMEM, "out of memory");
	if (rc == 0 && c->depends_len &&
	    !add_note(&c->obj, XSPLICE_SEC_DEPENDS, c->depends, c->depends_len))
		rc = xs_err_set(err, -ENOMEM, "out of memory");
	if (rc == 0)
		rc = add_meta(c, err);
	/* the payload's own id, filled in by write.c once the bytes are final */
	if (rc == 0 && !add_note(&c->obj, XSPLICE_SEC_BUILD_ID, NULL, PK_BUILD_ID_LEN))
		rc = xs_err_set(err, -ENOMEM, "out of memory");
	return rc;
}

static int renumber_symbols(struct pk_obj *o, const uint32_t *map, size_t nlocal,
                            struct xs_err *err)
{
	Elf64_Sym *out = o->syms; /* compacted in place: map[i] <= i */
	size_t n = 0;
	for (size_t i = 0; i < o->nsyms; i++) {
		if (map[i] == DROPPED)
			continue;
		Elf64_Sym s = o->syms[i];
		if (s.st_shndx != SHN_UNDEF && s.st_shndx < SHN_LORESERVE)
			s.st_shndx = (uint16_t)o->secs[s.st_shndx].newidx;
		out[n++] = s;
	}
	struct pk_sec *st = &o->secs[o->symtab];
	st->sh.sh_size = n * sizeof(Elf64_Sym);
	st->sh.sh_info = (uint32_t)nlocal;
	o->nsyms = n;
	if (n > SHN_LORESERVE * 256u)
		return xs_err_set(err, -E2BIG, "too many symbols");
	return 0;
}

/* Relocations and groups name symbols and sections by index. */
static int renumber_refs(struct pk_obj *o, const uint32_t *map, struct xs_err *err)
{
	for (size_t i = 1; i < o->nsecs; i++) {
		struct pk_sec *s = &o->secs[i];
		if (s->drop)
			continue;
		if (s->sh.sh_type == SHT_RELA) {
			Elf64_Rela *r = (Elf64_Rela *)s->data;
			/* debug info may describe the dropped hints: those relocations
			 * are never applied (non-allocated target), so they point at
			 * nothing; in loaded sections it would be a real reference */
			int loaded = s->sh.sh_info < o->nsecs &&
			             (o->secs[s->sh.sh_info].sh.sh_flags & SHF_ALLOC);
			for (size_t k = 0; k < s->sh.sh_size / sizeof(*r); k++) {
				size_t sym = ELF64_R_SYM(r[k].r_info);
				uint32_t to = sym < o->nsyms ? map[sym] : DROPPED;
				if (to == DROPPED && loaded)
					return xs_err_set(err, -EINVAL,
					                  "%s refers to '%s', which is "
					                  "dropped from the payload",
					                  s->name, pk_sym_name(o, sym));
				r[k].r_info =
				    ELF64_R_INFO(to == DROPPED ? 0 : to, ELF64_R_TYPE(r[k].r_info));
			}
		}
		if (s->sh.sh_type == SHT_GROUP && s->data) {
			uint32_t *w = (uint32_t *)s->data;
			for (size_t k = 1; k < s->sh.sh_size / 4; k++)
				w[k] = w[k] < o->nsecs ? (uint32_t)o->secs[w[k]].newidx : 0;
			if (s->sh.sh_info >= o->nsyms || map[s->sh.sh_info] == DROPPED)
				return xs_err_set(err, -EINVAL,
				                  "group %s has a bad signature symbol", s->name);
			s->sh.sh_info = map[s->sh.sh_info];
		}
		if (s->sh.sh_link && s->sh.sh_link < o->nsecs)
			s->sh.sh_link = (uint32_t)o->secs[s->sh.sh_link].newidx;
		if ((s->sh.sh_type == SHT_RELA || (s->sh.sh_flags & SHF_INFO_LINK)) &&
		    s->sh.sh_info < o->nsecs)
			s->sh.sh_info = (uint32_t)o->secs[s->sh.sh_info].newidx;
	}
	return 0;
}

int pk_emit_prepare(struct pk_ctx *c, struct xs_err *err)
{
	struct pk_obj *o = &c->obj;
	uint32_t *map = calloc(o->nsyms ? o->nsyms : 1, sizeof(*map));
	size_t nlocal;
	if (!map)
		return xs_err_set(err, -ENOMEM, "out of memory");
	mark_drops(o);
	int rc = map_symbols(o, map, &nlocal, err);
	if (rc == 0)
		rc = add_sections(c, map, err);
	if (rc == 0) {
		size_t n = 1;
		for (size_t i = 1; i < o->nsecs; i++)
			o->secs[i].newidx = o->secs[i].drop ? 0 : n++;
		rc = renumber_refs(o, map, err);
	}
	if (rc == 0)
		rc = renumber_symbols(o, map, nlocal, err);
	free(map);
	return rc;
}
