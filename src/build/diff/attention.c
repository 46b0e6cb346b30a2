/*
 * The attention items of the report: what a human must review because code
 * that runs after the load will meet data made before it.  None of them is
 * a refusal (xsplice-build --strict makes them one); they point at the
 * classes of silently wrong patches a byte comparison cannot see:
 *
 *  - state: a changed function reads or writes an existing writable
 *    variable (a seed, a cache, a once-flag, a table built by the old code),
 *    or calls pthread_once / call_once; a new writable variable starts at
 *    its initial value while older data never went through the code that
 *    sets it;
 *  - lifetime: a changed function calls a free/destroy-like routine, or its
 *    set of allocation routines changed: objects made before the load are
 *    released by rules they were not made under;
 *  - sizeof/offsetof: see layout.c.
 */
#include "build/diff/diff.h"

#include <ctype.h>
#include <string.h>

static const char *const free_like[] = {"free",   "destroy", "release", "unref",
                                        "delete", "dispose", "dealloc", NULL};
static const char *const alloc_like[] = {"alloc", "strdup", "strndup", "memdup",
                                         "_new",  "create", NULL};

static int matches(const char *name, const char *const *words)
{
	char low[256];
	if (strncmp(name, "xsplice_", 8) == 0)
		return 0; /* the SDK's shadow variables are the cure, not the hazard */
	size_t n = df_base_len(name);
	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	for (size_t i = 0; words[i]; i++)
		if (strstr(low, words[i]))
			return 1;
	return 0;
}

static int is_func(const struct df_sym *y)
{
	return y->type == STT_FUNC || y->type == STT_GNU_IFUNC;
}

/* The functions section `s` refers to whose names match `words`. */
static void calls(const struct df_obj *o, const struct df_sec *s, const char *const *words,
                  char *out, size_t len)
{
	out[0] = '\0';
	for (size_t k = 0; k < s->nrels; k++) {
		int64_t a;
		size_t t = df_rel_target(o, &s->rels[k], &a);
		const struct df_sym *y = &o->syms[t ? t : s->rels[k].sym];
		if (y->type == STT_SECTION || y->type == STT_OBJECT || !*y->name)
			continue;
		if (is_func(y) || !y->sec)
			if (matches(y->name, words))
				df_list_add(out, len, y->name);
	}
}

/* Names in `a` that are not in `b`. */
static void minus(const char *a, const char *b, char *out, size_t len)
{
	char tmp[512];
	out[0] = '\0';
	snprintf(tmp, sizeof(tmp), "%s", a);
	for (char *save = NULL, *w = strtok_r(tmp, ", ", &save); w; w = strtok_r(NULL, ", ", &save))
		if (!df_list_has(b, w))
			df_list_add(out, len, w);
}

static void lifetime(struct df_ctx *c, const struct df_sym *y, const char *label)
{
	const struct df_sec *ps = &c->patched.secs[y->sec];
	const struct df_sec *os = y->twin && y->twin->sec ? &c->orig.secs[y->twin->sec] : NULL;
	char pf[512], of[512] = "", pa[512], oa[512] = "", gone[512], added[512], more[1100] = "";
	calls(&c->patched, ps, free_like, pf, sizeof(pf));
	calls(&c->patched, ps, alloc_like, pa, sizeof(pa));
	if (os) {
		calls(&c->orig, os, free_like, of, sizeof(of));
		calls(&c->orig, os, alloc_like, oa, sizeof(oa));
	}
	char np[1100], no[1100];
	snprintf(np, sizeof(np), "%s%s%s", pf, *pf && *pa ? ", " : "", pa);
	snprintf(no, sizeof(no), "%s%s%s", of, *of && *oa ? ", " : "", oa);
	minus(np, no, added, sizeof(added));
	minus(no, np, gone, sizeof(gone));
	if (!*pf && !*added && !*gone)
		return;
	if (*added)
		snprintf(more, sizeof(more), "; newly calls %s", added);
	if (*gone)
		snprintf(more + strlen(more), sizeof(more) - strlen(more), "; no longer calls %s",
		         gone);
	df_note(&c->rep, DN_ATTENTION, label,
	        "lifetime: changed, and allocates or frees (%s%s)%s: objects made before the load "
	        "will be released or reallocated by the new code; check who owns each pointer "
	        "they hold",
	        *np ? "calls " : "", *np ? np : "no such call left", more);
}

static int extern_var(const struct df_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->next_vars; i++)
		if (strcmp(c->ext_vars[i], name) == 0)
			return 1;
	return 0;
}

static void state(struct df_ctx *c, const struct df_sym *y, const char *label)
{
	const struct df_obj *o = &c->patched;
	const struct df_sec *s = &o->secs[y->sec];
	char vars[600] = "", once[200] = "", lbl[300];
	for (size_t k = 0; k < s->nrels; k++) {
		int64_t a;
		size_t t = df_rel_target(o, &s->rels[k], &a);
		const struct df_sym *v = &o->syms[t ? t : s->rels[k].sym];
		if (!v->sec &&
		    (strcmp(v->name, "pthread_once") == 0 || strcmp(v->name, "call_once") == 0))
			df_list_add(once, sizeof(once), v->name);
		if (!v->sec && v->type != STT_SECTION && extern_var(c, v->name)) {
			df_list_add(vars, sizeof(vars), v->name);
			continue;
		}
		if (!t || v->type != STT_OBJECT || !v->twin || !v->sec ||
		    o->secs[v->sec].kind != DK_DATA || df_sec_readonly(&o->secs[v->sec]))
			continue;
		df_list_add(vars, sizeof(vars), df_sym_label(&c->orig, v->twin, lbl, sizeof(lbl)));
	}
	if (*vars)
		df_note(&c->rep, DN_ATTENTION, label,
		        "state: changed, and uses the existing variable(s) %s: their values were "
		        "made by the old code before the load (seeds, caches, tables, flags); "
		        "check that the new code reads them the same way",
		        vars);
	if (*once)
		df_note(&c->rep, DN_ATTENTION, label,
		        "state: changed, and calls %s: an initialiser that already ran before the "
		        "load does not run again",
		        once);
}

void df_attention(struct df_ctx *c)
{
	struct df_obj *o = &c->patched;
	char lbl[300];
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (!y->sec || !(y->flags & DF_INCLUDE))
			continue;
		const char *label =
		    df_sym_label(y->twin ? &c->orig : o, y->twin ? y->twin : y, lbl, sizeof(lbl));
		if (is_func(y) && y->stat == DS_CHANGED) {
			char copy[300];
			snprintf(copy, sizeof(copy), "%s", label);
			state(c, y, copy);
			lifetime(c, y, copy);
		} else if (y->type == STT_OBJECT && y->stat == DS_NEW && !df_anon_name(y->name) &&
		           o->secs[y->sec].kind == DK_DATA && !df_sec_readonly(&o->secs[y->sec])) {
			df_note(&c->rep, DN_ATTENTION, label,
			        "state: new variable, starts at its initial value when the payload "
			        "loads: data made before the load never went through the code that "
			        "sets it");
		}
	}
}
