/*
 * Layout changes, read from the DWARF debug information of both builds
 * (elfutils libdwfl, which applies the relocations of .debug_info in a
 * relocatable object).
 *
 * A struct, union or class whose members moved, appeared, disappeared or
 * changed size is a layout change.  Data made before the load keeps the old
 * layout; new code reading it with the new one reads the wrong bytes.  So:
 *
 *  - a changed type that a changed or new function uses (by its return
 *    type, a parameter, a local, an inlined call's parameter, through
 *    pointers and typedefs, or through a global variable it refers to), or
 *    that an existing global variable holds, is refused, with the type, its
 *    members that moved or appeared, and the functions that use it;
 *  - a changed type no changed function uses is an attention item:
 *    sizeof/offsetof in code we cannot see by type may still use it.
 *
 * An object without debug information cannot be checked: that is an
 * attention item too (xsplice-cc adds -g under xsplice-build).
 */
#include "build/diff/diff.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct lay_member {
	char *name;
	uint64_t off, bitoff, size;
};

struct lay_type {
	char *key; /* "struct ctx", "union u", or the typedef name of an anonymous one */
	uint64_t size;
	struct lay_member *m;
	size_t nm;
	Dwarf_Off die; /* its DIE in that build */
};

struct lay_var {
	char *name;
	Dwarf_Off type; /* the DIE of its type */
	int extern_rw;  /* declared here, defined elsewhere, not const */
};

struct lay_fn {
	char *name;
	Dwarf_Off die;
};

struct lay_build {
	Dwfl *dwfl;
	Dwarf *dw;
	struct lay_type *t;
	size_t nt;
	struct lay_var *v;
	size_t nv;
	struct lay_fn *f;
	size_t nf;
	/* anonymous aggregates named by a typedef: DIE -> typedef name */
	struct lay_anon {
		Dwarf_Off off;
		char *name;
	} * anon;
	size_t nanon;
};

#define GROW(arr, n)                                                                               \
	((n) % 32 == 0 ? (((arr) = realloc((arr), ((n) + 32) * sizeof(*(arr)))) != NULL) : 1)

static int no_debuginfo(Dwfl_Module *m, void **u, const char *mod, Dwarf_Addr base,
                        const char *file, const char *link, GElf_Word crc, char **name)
{
	(void)m, (void)u, (void)mod, (void)base, (void)file, (void)link, (void)crc, (void)name;
	return -1;
}

static const Dwfl_Callbacks offline_cb = {
    .find_debuginfo = no_debuginfo,
    .section_address = dwfl_offline_section_address,
};

static int is_aggregate(int tag)
{
	return tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_class_type;
}

static int type_of(Dwarf_Die *d, Dwarf_Die *out)
{
	Dwarf_Attribute a;
	return dwarf_attr_integrate(d, DW_AT_type, &a) && dwarf_formref_die(&a, out) ? 0 : -1;
}

static const char *anon_name(const struct lay_build *b, Dwarf_Off off)
{
	for (size_t i = 0; i < b->nanon; i++)
		if (b->anon[i].off == off)
			return b->anon[i].name;
	return NULL;
}

/* The key of an aggregate DIE, NULL when it has no name at all. */
static const char *agg_key(const struct lay_build *b, Dwarf_Die *d, char *buf, size_t len)
{
	const char *n = dwarf_diename(d);
	if (!n)
		return anon_name(b, dwarf_dieoffset(d));
	int tag = dwarf_tag(d);
	snprintf(buf, len, "%s %s",
	         tag == DW_TAG_union_type   ? "union"
	         : tag == DW_TAG_class_type ? "class"
	                                    : "struct",
	         n);
	return buf;
}

static uint64_t die_size(Dwarf_Die *d)
{
	Dwarf_Word w;
	Dwarf_Die t;
	if (dwarf_aggregate_size(d, &w) == 0)
		return w;
	if (type_of(d, &t) == 0 && dwarf_aggregate_size(&t, &w) == 0)
		return w;
	return 0;
}

static int add_members(struct lay_type *t, Dwarf_Die *agg, uint64_t base)
{
	Dwarf_Die c;
	if (dwarf_child(agg, &c) != 0)
		return 0;
	do {
		if (dwarf_tag(&c) != DW_TAG_member)
			continue;
		Dwarf_Attribute a;
		Dwarf_Word off = 0, bit = 0;
		if (dwarf_attr(&c, DW_AT_data_member_location, &a))
			dwarf_formudata(&a, &off);
		if (dwarf_attr(&c, DW_AT_data_bit_offset, &a))
			dwarf_formudata(&a, &bit);
		else if (dwarf_attr(&c, DW_AT_bit_offset, &a))
			dwarf_formudata(&a, &bit);
		const char *n = dwarf_diename(&c);
		Dwarf_Die mt;
		if (!n) {
			/* an anonymous struct/union member: its members are ours */
			if (type_of(&c, &mt) == 0 && is_aggregate(dwarf_tag(&mt)) &&
			    add_members(t, &mt, base + off))
				return -1;
			continue;
		}
		Dwarf_Word bs = 0;
		if (dwarf_attr(&c, DW_AT_bit_size, &a))
			dwarf_formudata(&a, &bs);
		if (!GROW(t->m, t->nm))
			return -1;
		struct lay_member *m = &t->m[t->nm++];
		m->name = strdup(n);
		m->off = base + off;
		m->bitoff = bit;
		m->size = bs ? bs : die_size(&c) * 8; /* bits */
		if (!m->name)
			return -1;
	} while (dwarf_siblingof(&c, &c) == 0);
	return 0;
}

static int add_type(struct lay_build *b, Dwarf_Die *d, const char *key)
{
	for (size_t i = 0; i < b->nt; i++)
		if (strcmp(b->t[i].key, key) == 0)
			return 0; /* the first definition of a name wins */
	if (!GROW(b->t, b->nt))
		return -1;
	struct lay_type *t = &b->t[b->nt];
	memset(t, 0, sizeof(*t));
	t->key = strdup(key);
	t->size = die_size(d);
	t->die = dwarf_dieoffset(d);
	if (!t->key)
		return -1;
	b->nt++;
	return add_members(t, d, 0);
}

static int is_decl(Dwarf_Die *d)
{
	Dwarf_Attribute a;
	bool flag = false;
	return dwarf_attr(d, DW_AT_declaration, &a) && dwarf_formflag(&a, &flag) == 0 && flag;
}

static const char *fn_name(Dwarf_Die *d)
{
	Dwarf_Attribute a;
	const char *n = NULL;
	if (dwarf_attr_integrate(d, DW_AT_linkage_name, &a))
		n = dwarf_formstring(&a);
	if (!n && dwarf_attr_integrate(d, DW_AT_name, &a))
		n = dwarf_formstring(&a);
	return n;
}

/* First pass over a CU: typedef names of anonymous aggregates. */
static int scan_typedefs(struct lay_build *b, Dwarf_Die *d)
{
	Dwarf_Die c;
	if (dwarf_child(d, &c) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&c);
		Dwarf_Die t;
		if (tag == DW_TAG_typedef && dwarf_diename(&c) && type_of(&c, &t) == 0 &&
		    is_aggregate(dwarf_tag(&t)) && !dwarf_diename(&t) &&
		    !anon_name(b, dwarf_dieoffset(&t))) {
			if (!GROW(b->anon, b->nanon))
				return -1;
			b->anon[b->nanon].off = dwarf_dieoffset(&t);
			b->anon[b->nanon].name = strdup(dwarf_diename(&c));
			if (!b->anon[b->nanon++].name)
				return -1;
		}
		if (tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block ||
		    tag == DW_TAG_namespace)
			if (scan_typedefs(b, &c))
				return -1;
	} while (dwarf_siblingof(&c, &c) == 0);
	return 0;
}

/* Second pass: aggregates, functions, variables. */
static int scan(struct lay_build *b, Dwarf_Die *d, int top)
{
	Dwarf_Die c;
	if (dwarf_child(d, &c) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&c);
		char buf[300];
		Dwarf_Die t;
		if (is_aggregate(tag) && !is_decl(&c)) {
			const char *key = agg_key(b, &c, buf, sizeof(buf));
			if (key && add_type(b, &c, key))
				return -1;
			if (scan(b, &c, 0)) /* nested definitions (C++) */
				return -1;
		} else if (tag == DW_TAG_subprogram && !is_decl(&c)) {
			const char *n = fn_name(&c);
			if (n) {
				if (!GROW(b->f, b->nf))
					return -1;
				b->f[b->nf].name = strdup(n);
				b->f[b->nf].die = dwarf_dieoffset(&c);
				if (!b->f[b->nf++].name)
					return -1;
			}
			if (scan(b, &c, 0))
				return -1;
		} else if (tag == DW_TAG_variable && top && dwarf_diename(&c) &&
		           type_of(&c, &t) == 0) {
			if (!GROW(b->v, b->nv))
				return -1;
			b->v[b->nv].name = strdup(dwarf_diename(&c));
			b->v[b->nv].type = dwarf_dieoffset(&t);
			b->v[b->nv].extern_rw = is_decl(&c) && dwarf_tag(&t) != DW_TAG_const_type;
			if (!b->v[b->nv++].name)
				return -1;
		} else if (tag == DW_TAG_lexical_block || tag == DW_TAG_namespace) {
			if (scan(b, &c, tag == DW_TAG_namespace))
				return -1;
		}
	} while (dwarf_siblingof(&c, &c) == 0);
	return 0;
}

/* 0 loaded, 1 no debug information, <0 error. */
static int load(struct lay_build *b, const char *path, struct xs_err *err)
{
	memset(b, 0, sizeof(*b));
	b->dwfl = dwfl_begin(&offline_cb);
	if (!b->dwfl)
		return xs_err_set(err, -ENOMEM, "libdwfl: %s", dwfl_errmsg(-1));
	Dwfl_Module *m = dwfl_report_offline(b->dwfl, path, path, -1);
	if (!m)
		return xs_err_set(err, -EINVAL, "%s: libdwfl: %s", path, dwfl_errmsg(-1));
	dwfl_report_end(b->dwfl, NULL, NULL);
	Dwarf_Addr bias;
	b->dw = dwfl_module_getdwarf(m, &bias);
	if (!b->dw)
		return 1;
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	int any = 0;
	while (dwarf_get_units(b->dw, cu, &cu, NULL, NULL, &cudie, NULL) == 0) {
		any = 1;
		if (scan_typedefs(b, &cudie) || scan(b, &cudie, 1))
			return xs_err_set(err, -ENOMEM, "out of memory");
	}
	return any ? 0 : 1;
}

static void unload(struct lay_build *b)
{
	for (size_t i = 0; i < b->nt; i++) {
		for (size_t k = 0; k < b->t[i].nm; k++)
			free(b->t[i].m[k].name);
		free(b->t[i].m);
		free(b->t[i].key);
	}
	for (size_t i = 0; i < b->nv; i++)
		free(b->v[i].name);
	for (size_t i = 0; i < b->nf; i++)
		free(b->f[i].name);
	for (size_t i = 0; i < b->nanon; i++)
		free(b->anon[i].name);
	free(b->t);
	free(b->v);
	free(b->f);
	free(b->anon);
	if (b->dwfl)
		dwfl_end(b->dwfl);
	memset(b, 0, sizeof(*b));
}

/* ---- comparing two layouts ------------------------------------------------------ */

static const struct lay_member *member(const struct lay_type *t, const char *name)
{
	for (size_t i = 0; i < t->nm; i++)
		if (strcmp(t->m[i].name, name) == 0)
			return &t->m[i];
	return NULL;
}

static void cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	if (n + 1 >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

static void fmt_off(char *buf, size_t len, const struct lay_member *m)
{
	if (m->bitoff)
		snprintf(buf, len, "+%llu:%llu", (unsigned long long)m->off,
		         (unsigned long long)m->bitoff);
	else
		snprintf(buf, len, "+%llu", (unsigned long long)m->off);
}

/* What differs between the two layouts, "" when nothing does. */
static void layout_diff(const struct lay_type *o, const struct lay_type *p, char *buf, size_t len)
{
	char a[64], b[64];
	buf[0] = '\0';
	for (size_t i = 0; i < p->nm; i++) {
		const struct lay_member *pm = &p->m[i], *om = member(o, pm->name);
		fmt_off(b, sizeof(b), pm);
		if (!om) {
			cat(buf, len, "%s'%s' appeared at %s", *buf ? ", " : "", pm->name, b);
			continue;
		}
		fmt_off(a, sizeof(a), om);
		if (om->off != pm->off || om->bitoff != pm->bitoff)
			cat(buf, len, "%s'%s' moved %s -> %s", *buf ? ", " : "", pm->name, a, b);
		if (om->size != pm->size)
			cat(buf, len, "%s'%s' changed size (%llu -> %llu bits)", *buf ? ", " : "",
			    pm->name, (unsigned long long)om->size, (unsigned long long)pm->size);
	}
	for (size_t i = 0; i < o->nm; i++)
		if (!member(p, o->m[i].name)) {
			fmt_off(a, sizeof(a), &o->m[i]);
			cat(buf, len, "%s'%s' (at %s) disappeared", *buf ? ", " : "", o->m[i].name,
			    a);
		}
	if (o->size != p->size)
		cat(buf, len, "%ssize %llu -> %llu bytes", *buf ? "; " : "",
		    (unsigned long long)o->size, (unsigned long long)p->size);
}

/* ---- who uses a type ------------------------------------------------------------- */

enum { REACH_VALUE = 1, REACH_POINTER = 2 };

struct reach {
	const struct lay_build *b;
	const char *key;
	Dwarf_Off *seen;
	size_t nseen;
};

/* How type DIE `d` contains the aggregate `r->key`: by value, through a
 * pointer, or not at all. */
static int reaches(struct reach *r, Dwarf_Die *d, int depth)
{
	if (depth > 64)
		return 0;
	Dwarf_Off off = dwarf_dieoffset(d);
	for (size_t i = 0; i < r->nseen; i++)
		if (r->seen[i] == off)
			return 0;
	if (GROW(r->seen, r->nseen))
		r->seen[r->nseen++] = off;
	int tag = dwarf_tag(d);
	Dwarf_Die t;
	char buf[300];
	if (is_aggregate(tag)) {
		const char *k = agg_key(r->b, d, buf, sizeof(buf));
		if (k && strcmp(k, r->key) == 0)
			return REACH_VALUE;
		int how = 0;
		Dwarf_Die c;
		if (dwarf_child(d, &c) == 0)
			do {
				if (dwarf_tag(&c) == DW_TAG_member && type_of(&c, &t) == 0)
					how |= reaches(r, &t, depth + 1);
			} while (dwarf_siblingof(&c, &c) == 0);
		return how;
	}
	switch (tag) {
	case DW_TAG_pointer_type:
	case DW_TAG_reference_type:
	case DW_TAG_rvalue_reference_type:
		return type_of(d, &t) == 0 && reaches(r, &t, depth + 1) ? REACH_POINTER : 0;
	case DW_TAG_typedef:
	case DW_TAG_const_type:
	case DW_TAG_volatile_type:
	case DW_TAG_restrict_type:
	case DW_TAG_atomic_type:
	case DW_TAG_array_type:
		return type_of(d, &t) == 0 ? reaches(r, &t, depth + 1) : 0;
	case DW_TAG_subroutine_type:
	default:
		return 0;
	}
}

static int reaches_from(const struct lay_build *b, const char *key, Dwarf_Die *type)
{
	struct reach r = {.b = b, .key = key};
	int how = reaches(&r, type, 0);
	free(r.seen);
	return how;
}

/* 1 when a function DIE (its type, parameters, locals, inlined calls) uses
 * the aggregate `key`. */
static int fn_uses(const struct lay_build *b, const char *key, Dwarf_Die *d, int depth)
{
	Dwarf_Die t, c;
	if (depth > 64)
		return 0;
	if (type_of(d, &t) == 0 && reaches_from(b, key, &t))
		return 1;
	if (dwarf_child(d, &c) != 0)
		return 0;
	do {
		switch (dwarf_tag(&c)) {
		case DW_TAG_formal_parameter:
		case DW_TAG_variable:
			if (type_of(&c, &t) == 0 && reaches_from(b, key, &t))
				return 1;
			break;
		case DW_TAG_lexical_block:
		case DW_TAG_inlined_subroutine:
			if (fn_uses(b, key, &c, depth + 1))
				return 1;
			break;
		default:
			break;
		}
	} while (dwarf_siblingof(&c, &c) == 0);
	return 0;
}

/* The symbol of `o` named `name` (compiler suffixes aside) that is a changed
 * or new function, NULL if none. */
static int changed_fn(const struct df_sym *y)
{
	return (y->type == STT_FUNC || y->type == STT_GNU_IFUNC) && y->sec && y->stat != DS_SAME &&
	       !(y->flags & DF_LINEONLY);
}

static int base_is(const char *sym, const char *name)
{
	size_t n = df_base_len(sym);
	return strlen(name) == n && strncmp(sym, name, n) == 0;
}

/* 1 when function section `s` refers to a symbol of base name `var`. */
static int refers_to(const struct df_obj *o, const struct df_sec *s, const char *var)
{
	for (size_t k = 0; k < s->nrels; k++) {
		int64_t a;
		size_t t = df_rel_target(o, &s->rels[k], &a);
		const struct df_sym *y = &o->syms[t ? t : s->rels[k].sym];
		if (y->type != STT_SECTION && base_is(y->name, var))
			return 1;
	}
	return 0;
}

/* One changed type: who uses it, and the verdict. */
static void judge(struct df_ctx *c, const struct lay_build *pb, const struct lay_type *pt,
                  const char *what)
{
	struct df_obj *po = &c->patched;
	char users[700] = "", globals[400] = "";
	Dwarf_Die d, t;
	/* functions by type */
	for (size_t i = 0; i < pb->nf; i++) {
		if (!dwarf_offdie(pb->dw, pb->f[i].die, &d) || !fn_uses(pb, pt->key, &d, 0))
			continue;
		for (size_t k = 1; k < po->nsyms; k++)
			if (changed_fn(&po->syms[k]) && base_is(po->syms[k].name, pb->f[i].name))
				df_list_add(users, sizeof(users), pb->f[i].name);
	}
	/* functions through the variables they refer to */
	for (size_t i = 0; i < pb->nv; i++) {
		if (!dwarf_offdie(pb->dw, pb->v[i].type, &t))
			continue;
		int how = reaches_from(pb, pt->key, &t);
		if (!how)
			continue;
		int existing = 0;
		for (size_t k = 1; k < c->orig.nsyms; k++)
			if (c->orig.syms[k].type != STT_FUNC &&
			    base_is(c->orig.syms[k].name, pb->v[i].name))
				existing = 1;
		/* an extern declaration: the variable lives in the target already */
		if (!existing) {
			int defined_here = 0;
			for (size_t k = 1; k < po->nsyms; k++)
				if (po->syms[k].sec && base_is(po->syms[k].name, pb->v[i].name))
					defined_here = 1;
			existing = !defined_here;
		}
		if ((how & REACH_VALUE) && existing)
			df_list_add(globals, sizeof(globals), pb->v[i].name);
		for (size_t k = 1; k < po->nsyms; k++) {
			const struct df_sym *y = &po->syms[k];
			if (changed_fn(y) && refers_to(po, &po->secs[y->sec], pb->v[i].name)) {
				char base[256];
				snprintf(base, sizeof(base), "%.*s", (int)df_base_len(y->name),
				         y->name);
				df_list_add(users, sizeof(users), base);
			}
		}
	}
	if (*users || *globals) {
		char who[1200] = "";
		if (*users)
			cat(who, sizeof(who), "; used by the changed function(s) %s", users);
		if (*globals)
			cat(who, sizeof(who), "; held by the existing variable(s) %s", globals);
		df_note(&c->rep, DN_REFUSED, pt->key,
		        "layout changed: %s%s: data made before the load keeps the old layout and "
		        "the new code would read it with the new one. Keep the old layout and put "
		        "new members in a shadow variable (xsplice_shadow_*, see \"Patched code "
		        "meets old data\" in docs/building-patches.md)",
		        what, who);
	} else {
		df_note(&c->rep, DN_ATTENTION, pt->key,
		        "sizeof/offsetof: layout changed (%s) but no changed function uses it by "
		        "type or through a variable; check that no changed code allocates, copies "
		        "or indexes it by size or offset",
		        what);
	}
}

int df_layout(struct df_ctx *c, struct xs_err *err)
{
	if (!c->orig.elf)
		return 0; /* a new file: nothing existed before */
	struct lay_build ob, pb;
	int rc = load(&ob, c->orig.path, err);
	int rp = rc < 0 ? 0 : load(&pb, c->patched.path, err);
	if (rc < 0 || rp < 0) {
		unload(&ob);
		if (rc >= 0)
			unload(&pb);
		return rc < 0 ? rc : rp;
	}
	if (rc == 1 || rp == 1) {
		df_note(&c->rep, DN_ATTENTION, rc == 1 ? c->orig.path : c->patched.path,
		        "layout: no debug information (compile with -g; xsplice-cc adds it under "
		        "xsplice-build): struct layout changes could not be checked");
	} else {
		/* the data the patched code may refer to by name only (for df_attention) */
		for (size_t i = 0; i < pb.nv; i++)
			if (pb.v[i].extern_rw && GROW(c->ext_vars, c->next_vars) &&
			    (c->ext_vars[c->next_vars] = strdup(pb.v[i].name)))
				c->next_vars++;
		for (size_t i = 0; i < pb.nt; i++) {
			const struct lay_type *pt = &pb.t[i], *ot = NULL;
			for (size_t k = 0; k < ob.nt && !ot; k++)
				if (strcmp(ob.t[k].key, pt->key) == 0)
					ot = &ob.t[k];
			if (!ot)
				continue; /* a new type: no data of it exists yet */
			char what[600];
			layout_diff(ot, pt, what, sizeof(what));
			if (*what)
				judge(c, &pb, pt, what);
		}
	}
	unload(&ob);
	unload(&pb);
	return 0;
}
