/*
 * What every section of an object is, as far as live patching cares: a
 * function, a datum with an identity (the process's state lives there), a
 * piece of read-only data that only exists for the code using it (jump
 * tables, __func__, switch tables), mergeable constants, unwind tables,
 * constructors, or something we cannot classify.
 */
#include "build/diff/diff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *df_kind_name(enum df_kind k)
{
	static const char *names[] = {
	    [DK_IGNORE] = "ignored",
	    [DK_TEXT] = "code",
	    [DK_DATA] = "data",
	    [DK_ANON] = "read-only data",
	    [DK_MERGE] = "constants",
	    [DK_EHFRAME] = "unwind table",
	    [DK_INIT] = "constructor table",
	    [DK_XSPLICE] = "xsplice metadata",
	    [DK_OTHER] = "unclassified",
	};
	return k <= DK_OTHER ? names[k] : "?";
}

static int prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Read-only objects the compiler names itself: their address is never
 * observable, so a copy in the payload is as good as the original. */
int df_anon_name(const char *name)
{
	static const char *const anon[] = {
	    "__func__.", "__PRETTY_FUNCTION__.", "__FUNCTION__.", "CSWTCH.", "C.", ".L"};
	for (size_t i = 0; i < sizeof(anon) / sizeof(anon[0]); i++)
		if (prefix(name, anon[i]))
			return 1;
	return 0;
}

int df_is_clone(const char *name)
{
	return df_name_has_suffix(name, "constprop") || df_name_has_suffix(name, "isra") ||
	       df_name_has_suffix(name, "part") || df_name_has_suffix(name, "lto_priv") ||
	       df_name_has_suffix(name, "localalias");
}

int df_sec_readonly(const struct df_sec *s)
{
	return !(s->sh.sh_flags & SHF_WRITE) || prefix(s->name, ".data.rel.ro");
}

static int identity_sym(const struct df_sym *y)
{
	switch (y->type) {
	case STT_FUNC:
	case STT_OBJECT:
	case STT_TLS:
	case STT_GNU_IFUNC:
		return 1;
	case STT_NOTYPE:
		return y->bind != STB_LOCAL;
	default:
		return 0;
	}
}

static const struct df_obj *cmp_obj;
static int by_value(const void *a, const void *b)
{
	const struct df_sym *x = &cmp_obj->syms[*(const size_t *)a];
	const struct df_sym *y = &cmp_obj->syms[*(const size_t *)b];
	if (x->s.st_value != y->s.st_value)
		return x->s.st_value < y->s.st_value ? -1 : 1;
	/* at one address: globals first, so that the primary is the exported name */
	return (x->bind == STB_LOCAL) - (y->bind == STB_LOCAL);
}

static int index_symbols(struct df_obj *o, struct xs_err *err)
{
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (!y->sec || y->sec >= o->nsecs)
			continue;
		struct df_sec *s = &o->secs[y->sec];
		if (y->type == STT_SECTION) {
			if (!s->secsym)
				s->secsym = i;
			continue;
		}
		if (!identity_sym(y))
			continue;
		size_t *n = realloc(s->syms, (s->nsyms + 1) * sizeof(*n));
		if (!n)
			return xs_err_set(err, -ENOMEM, "out of memory");
		s->syms = n;
		s->syms[s->nsyms++] = i;
	}
	cmp_obj = o;
	for (size_t i = 1; i < o->nsecs; i++) {
		struct df_sec *s = &o->secs[i];
		if (s->nsyms > 1)
			qsort(s->syms, s->nsyms, sizeof(size_t), by_value);
		if (s->nsyms && o->syms[s->syms[0]].s.st_value == 0)
			s->primary = s->syms[0];
	}
	return 0;
}

/* "f.cold" -> the symbol "f" of the same object, for the cold half of a
 * function split by hot/cold partitioning. */
static void link_cold(struct df_obj *o)
{
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (y->type != STT_FUNC || !df_name_has_suffix(y->name, "cold"))
			continue;
		const char *c = strstr(y->name, ".cold");
		size_t len = (size_t)(c - y->name);
		for (size_t j = 1; j < o->nsyms; j++) {
			const struct df_sym *p = &o->syms[j];
			if (j != i && p->type == STT_FUNC && p->sec && strlen(p->name) == len &&
			    strncmp(p->name, y->name, len) == 0) {
				y->parent = j;
				break;
			}
		}
	}
}

static enum df_kind kind_of(const struct df_obj *o, const struct df_sec *s)
{
	const GElf_Shdr *sh = &s->sh;
	switch (sh->sh_type) {
	case SHT_NULL:
	case SHT_SYMTAB:
	case SHT_STRTAB:
	case SHT_RELA:
	case SHT_REL:
	case SHT_GROUP:
	case SHT_SYMTAB_SHNDX:
	case SHT_NOTE:
		return DK_IGNORE;
	case SHT_INIT_ARRAY:
	case SHT_FINI_ARRAY:
	case SHT_PREINIT_ARRAY:
		return DK_INIT;
	default:
		break;
	}
	if (prefix(s->name, ".xsplice.") || strcmp(s->name, ".modinfo") == 0)
		return DK_XSPLICE;
	if (!(sh->sh_flags & SHF_ALLOC))
		return DK_IGNORE;
	if (strcmp(s->name, ".eh_frame") == 0)
		return DK_EHFRAME;
	if (prefix(s->name, ".ctors") || prefix(s->name, ".dtors") ||
	    prefix(s->name, ".init_array") || prefix(s->name, ".fini_array"))
		return DK_INIT;
	if (s->size == 0)
		return DK_IGNORE;
	if (sh->sh_flags & SHF_MERGE)
		return DK_MERGE;
	if (sh->sh_flags & SHF_EXECINSTR) {
		for (size_t i = 0; i < s->nsyms; i++)
			if (o->syms[s->syms[i]].type == STT_FUNC ||
			    o->syms[s->syms[i]].type == STT_GNU_IFUNC ||
			    o->syms[s->syms[i]].bind != STB_LOCAL)
				return DK_TEXT;
		return DK_OTHER;
	}
	if (sh->sh_flags & SHF_TLS)
		return DK_DATA;
	for (size_t i = 0; i < s->nsyms; i++)
		if (!df_anon_name(o->syms[s->syms[i]].name))
			return DK_DATA;
	return df_sec_readonly(s) ? DK_ANON : DK_OTHER;
}

int df_classify(struct df_obj *o, struct xs_err *err)
{
	int rc = index_symbols(o, err);
	if (rc)
		return rc;
	link_cold(o);
	for (size_t i = 1; i < o->nsecs; i++)
		o->secs[i].kind = kind_of(o, &o->secs[i]);
	return 0;
}
