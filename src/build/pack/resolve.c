/*
 * Undefined payload symbols -> target symbols.
 *
 * Order: the SDK's hints in .xsplice.symhints ("alias\0spec\0" records,
 * spec = "sym" or "file#sym"), then a unique global/weak definition in the
 * target, then a unique file-local one.  Several same-named statics are an
 * error that lists their files.  A symbol the target does not define stays
 * undefined: the agent resolves it in the process's shared libraries (libc,
 * the agent API) at run time.
 */
#include "build/pack/pack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hint {
	const char *alias, *spec;
};

struct hints {
	struct hint *v;
	size_t n;
};

/* Parse .xsplice.symhints (NUL padding between records is skipped). */
static int parse_hints(const struct pk_obj *o, struct hints *h, struct xs_err *err)
{
	size_t idx = pk_obj_find(o, XSPLICE_SEC_SYMHINTS);
	h->v = NULL;
	h->n = 0;
	if (!idx || !o->secs[idx].data)
		return 0;
	const char *p = (const char *)o->secs[idx].data;
	size_t size = o->secs[idx].sh.sh_size, off = 0;
	h->v = calloc(size / 2 + 1, sizeof(*h->v));
	if (!h->v)
		return xs_err_set(err, -ENOMEM, "out of memory");
	while (off < size) {
		if (p[off] == '\0') {
			off++;
			continue;
		}
		const char *alias = p + off;
		const char *end = memchr(alias, '\0', size - off);
		const char *spec = end ? end + 1 : NULL;
		const char *spec_end =
		    spec && spec < p + size ? memchr(spec, '\0', (size_t)(p + size - spec)) : NULL;
		if (!spec_end || spec == spec_end)
			return xs_err_set(err, -EINVAL,
			                  "%s: the hint for '%.64s' has no target "
			                  "symbol spec",
			                  XSPLICE_SEC_SYMHINTS, alias);
		h->v[h->n++] = (struct hint){alias, spec};
		off = (size_t)(spec_end + 1 - p);
	}
	return 0;
}

/* The hint for `name`; two hints that disagree are an error. */
static int find_hint(const struct hints *h, const char *name, const char **spec, struct xs_err *err)
{
	*spec = NULL;
	for (size_t i = 0; i < h->n; i++) {
		if (strcmp(h->v[i].alias, name) != 0)
			continue;
		if (*spec && strcmp(*spec, h->v[i].spec) != 0)
			return xs_err_set(err, -EINVAL,
			                  "two hints for '%s' disagree: \"%s\" and \"%s\"", name,
			                  *spec, h->v[i].spec);
		*spec = h->v[i].spec;
	}
	return 0;
}

/* Hints must name undefined symbols: a defined alias means a typo or a clash. */
static int check_hint_aliases(struct pk_ctx *c, const struct hints *h, struct xs_err *err)
{
	const struct pk_obj *o = &c->obj;
	for (size_t i = 0; i < h->n; i++) {
		int seen = 0;
		for (size_t s = 1; s < o->nsyms; s++) {
			if (strcmp(o->strtab + o->syms[s].st_name, h->v[i].alias) != 0)
				continue;
			if (o->syms[s].st_shndx != SHN_UNDEF &&
			    ELF64_ST_TYPE(o->syms[s].st_info) != STT_FILE)
				return xs_err_set(
				    err, -EINVAL,
				    "hint \"%s\" names '%s', which the payload defines itself; "
				    "a hint renames an undefined symbol",
				    h->v[i].spec, h->v[i].alias);
			seen = 1;
		}
		if (!seen)
			pk_verbose(c,
			           "hint '%s' -> \"%s\" unused: the payload does not refer to it\n",
			           h->v[i].alias, h->v[i].spec);
	}
	return 0;
}

/* Target symbols the runtime cannot reach by load bias + offset. */
static int usable(const struct pk_ctx *c, const char *name, const struct xt_sym *ts,
                  struct xs_err *err)
{
	if (ts->type == STT_TLS)
		return xs_err_set(err, -EINVAL,
		                  "'%s' is a thread-local variable of %s; payloads "
		                  "cannot refer to the target's TLS",
		                  name, c->tgt.path);
	if (ts->type == STT_GNU_IFUNC)
		return xs_err_set(err, -EINVAL,
		                  "'%s' is an IFUNC in %s (its address is the "
		                  "resolver); refer to the implementation it selects instead",
		                  name, c->tgt.path);
	return 0;
}

static int resolve_one(struct pk_ctx *c, const struct hints *h, size_t i, struct xs_err *err)
{
	const char *name = c->obj.strtab + c->obj.syms[i].st_name;
	const char *spec;
	const struct xt_sym *ts = NULL;
	struct xs_err e2;
	int rc = find_hint(h, name, &spec, err);
	if (rc)
		return rc;
	if (spec) {
		rc = xt_lookup(&c->tgt, spec, &ts, &e2);
		if (rc)
			return xs_err_set(err, rc, "payload symbol '%s' (hint \"%s\"): %s", name,
			                  spec, e2.msg);
	} else {
		rc = xt_lookup(&c->tgt, name, &ts, &e2);
		if (rc == -ENOENT) {
			pk_verbose(
			    c, "%-24s not in the target: left for the agent (shared libraries)\n",
			    name);
			pk_warn_unresolvable(c, name);
			return 0;
		}
		if (rc)
			return xs_err_set(err, rc, "payload symbol '%s': %s", name, e2.msg);
	}
	if ((rc = usable(c, name, ts, err)) != 0)
		return rc;
	c->resolved[i] = ts;
	pk_verbose(c, "%-24s -> %s%s%s 0x%llx (%s, %llu bytes)\n", name,
	           ts->file ? (*ts->file ? ts->file : "(no file)") : "", ts->file ? "#" : "",
	           ts->name, (unsigned long long)ts->value,
	           ts->bind == STB_LOCAL ? "static" : "global", (unsigned long long)ts->size);
	return 0;
}

int pk_resolve(struct pk_ctx *c, struct xs_err *err)
{
	struct hints h;
	int rc = parse_hints(&c->obj, &h, err);
	if (rc)
		return rc;
	c->nresolved = c->obj.nsyms;
	c->resolved = calloc(c->nresolved ? c->nresolved : 1, sizeof(*c->resolved));
	if (!c->resolved)
		rc = xs_err_set(err, -ENOMEM, "out of memory");
	if (rc == 0)
		rc = check_hint_aliases(c, &h, err);
	for (size_t i = 1; rc == 0 && i < c->obj.nsyms; i++) {
		const Elf64_Sym *s = &c->obj.syms[i];
		/* the payload's own GOT (the assembler names it), never the target's */
		if (strcmp(c->obj.strtab + s->st_name, "_GLOBAL_OFFSET_TABLE_") == 0)
			continue;
		if (s->st_shndx == SHN_UNDEF && s->st_name != 0)
			rc = resolve_one(c, &h, i, err);
		else if (s->st_shndx == SHN_COMMON)
			rc = xs_err_set(err, -EINVAL, "'%s' is a common symbol",
			                pk_sym_name(&c->obj, i));
	}
	free(h.v);
	return rc;
}
