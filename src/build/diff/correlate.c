/*
 * Correlation: which symbol of the original object each patched symbol is.
 *
 *  1. Functions, variables and file-scope statics by name (binding and
 *     kind must agree).
 *  2. Static local variables ("count.3") through the functions that use
 *     them: the compiler renumbers them whenever another one is added, so
 *     the number means nothing across builds.
 *  3. Clones and fragments (".constprop.N", ".isra.N", ".part.N", ".cold")
 *     whose number changed, by their name without numbers, when that is
 *     unique on both sides.
 *
 * Anything left without a twin is new.  Compiler-named read-only data
 * (__func__, CSWTCH) is compared by content and needs no twin.
 */
#include "build/diff/diff.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int correlatable(const struct df_sym *y)
{
	if (!y->sec || !y->name[0] || y->name[0] == '.')
		return 0;
	switch (y->type) {
	case STT_FUNC:
	case STT_OBJECT:
	case STT_TLS:
	case STT_GNU_IFUNC:
		return !df_anon_name(y->name);
	case STT_NOTYPE:
		return y->bind != STB_LOCAL;
	default:
		return 0;
	}
}

/* "count.3": a local datum with a compiler-added number. */
static int static_local(const struct df_sym *y)
{
	if (y->bind != STB_LOCAL || (y->type != STT_OBJECT && y->type != STT_TLS))
		return 0;
	const char *dot = strrchr(y->name, '.');
	if (!dot || dot == y->name || !dot[1])
		return 0;
	for (const char *p = dot + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

static int kinds_agree(const struct df_sym *a, const struct df_sym *b)
{
	int fa = a->type == STT_FUNC || a->type == STT_GNU_IFUNC;
	int fb = b->type == STT_FUNC || b->type == STT_GNU_IFUNC;
	return fa == fb && (a->type == STT_TLS) == (b->type == STT_TLS) &&
	       (a->bind == STB_LOCAL) == (b->bind == STB_LOCAL);
}

static void pair(struct df_sym *o, struct df_sym *p)
{
	o->twin = p;
	p->twin = o;
}

/* ---- 1: by name ------------------------------------------------------------- */

static const struct df_obj *sort_obj;
static int by_name(const void *a, const void *b)
{
	return strcmp(sort_obj->syms[*(const size_t *)a].name,
	              sort_obj->syms[*(const size_t *)b].name);
}

static void by_exact_name(struct df_obj *orig, struct df_obj *patched, size_t *idx, size_t n)
{
	for (size_t i = 1; i < patched->nsyms; i++) {
		struct df_sym *p = &patched->syms[i];
		if (!correlatable(p) || static_local(p))
			continue;
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (strcmp(orig->syms[idx[mid]].name, p->name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < n && strcmp(orig->syms[idx[lo]].name, p->name) == 0; lo++) {
			struct df_sym *o = &orig->syms[idx[lo]];
			if (!o->twin && kinds_agree(o, p)) {
				pair(o, p);
				break;
			}
		}
	}
}

/* ---- 2: static locals through their users ---------------------------------- */

/* Does function section `fs` refer to symbol `target`? */
static int refers(const struct df_obj *o, const struct df_sec *fs, size_t target)
{
	for (size_t k = 0; k < fs->nrels; k++) {
		int64_t a;
		if (df_rel_target(o, &fs->rels[k], &a) == target)
			return 1;
	}
	return 0;
}

/* How many functions using patched `p` have a twin that uses original `o`. */
static int shared_users(const struct df_obj *orig, size_t oi, const struct df_obj *patched,
                        size_t pi)
{
	int score = 0;
	for (size_t i = 1; i < patched->nsecs; i++) {
		const struct df_sec *fs = &patched->secs[i];
		if (fs->kind != DK_TEXT || !fs->primary || !refers(patched, fs, pi))
			continue;
		const struct df_sym *tw = patched->syms[fs->primary].twin;
		if (tw && tw->sec && refers(orig, &orig->secs[tw->sec], oi))
			score++;
	}
	return score;
}

/* Every function using symbol `i` of `o` exists in the other build too. */
static int all_users_twinned(const struct df_obj *o, size_t i)
{
	int any = 0;
	for (size_t k = 1; k < o->nsecs; k++) {
		const struct df_sec *fs = &o->secs[k];
		if (fs->kind != DK_TEXT || !fs->primary || !refers(o, fs, i))
			continue;
		if (!o->syms[fs->primary].twin)
			return 0;
		any = 1;
	}
	return any;
}

static int same_base(const char *a, const char *b)
{
	const char *da = strrchr(a, '.'), *db = strrchr(b, '.');
	return da && db && da - a == db - b && strncmp(a, b, (size_t)(da - a)) == 0;
}

/* Rank of a static local among those with its base name, by number. */
static size_t rank(const struct df_obj *o, size_t i)
{
	const struct df_sym *y = &o->syms[i];
	unsigned long n = strtoul(strrchr(y->name, '.') + 1, NULL, 10);
	size_t r = 0;
	for (size_t j = 1; j < o->nsyms; j++) {
		const struct df_sym *z = &o->syms[j];
		if (j != i && static_local(z) && same_base(z->name, y->name) &&
		    strtoul(strrchr(z->name, '.') + 1, NULL, 10) < n)
			r++;
	}
	return r;
}

static size_t count_base(const struct df_obj *o, const char *name)
{
	size_t n = 0;
	for (size_t j = 1; j < o->nsyms; j++)
		if (static_local(&o->syms[j]) && same_base(o->syms[j].name, name))
			n++;
	return n;
}

static int static_locals(struct df_obj *orig, struct df_obj *patched, struct xs_err *err)
{
	for (size_t pi = 1; pi < patched->nsyms; pi++) {
		struct df_sym *p = &patched->syms[pi];
		if (!static_local(p) || !correlatable(p))
			continue;
		size_t best = 0, nbest = 0, ncand = 0;
		int top = 0;
		for (size_t oi = 1; oi < orig->nsyms; oi++) {
			struct df_sym *o = &orig->syms[oi];
			if (o->twin || !static_local(o) || !same_base(o->name, p->name) ||
			    !kinds_agree(o, p))
				continue;
			ncand++;
			int s = shared_users(orig, oi, patched, pi);
			if (s > top) {
				top = s;
				best = oi;
				nbest = 1;
			} else if (s == top && s > 0) {
				nbest++;
			}
			if (!top && ncand == 1)
				best = oi;
		}
		if (!ncand)
			continue; /* a new static local */
		if (top && nbest == 1) {
			pair(&orig->syms[best], p);
			continue;
		}
		/* No function uses both, and all of them exist in both builds: the
		 * variable moved to other functions (or one was removed and another
		 * added): a new variable, not the old one under a new number. */
		if (!top && ncand == 1 && all_users_twinned(patched, pi) &&
		    all_users_twinned(orig, best))
			continue;
		size_t no = count_base(orig, p->name), np = count_base(patched, p->name);
		if (no == 1 && np == 1) {
			pair(&orig->syms[best], p);
			continue;
		}
		/* Several same-named statics used the same way: the compiler numbers
		 * them in source order, which a patch rarely reorders. */
		if (no == np) {
			size_t want = rank(patched, pi);
			for (size_t oi = 1; oi < orig->nsyms; oi++) {
				struct df_sym *o = &orig->syms[oi];
				if (!o->twin && static_local(o) && same_base(o->name, p->name) &&
				    rank(orig, oi) == want) {
					pair(o, p);
					break;
				}
			}
			if (p->twin)
				continue;
		}
		return xs_err_set(
		    err, -ENOTUNIQ,
		    "cannot tell which static variable of %s the patched '%s' is: %zu "
		    "candidates are used by the same functions; rename one of them in the patch",
		    orig->path, p->name, ncand);
	}
	return 0;
}

/* ---- 3: renumbered clones and fragments ------------------------------------ */

/* "f.constprop.0.isra.1" -> "f.constprop.isra" into buf */
static const char *strip_numbers(const char *name, char *buf, size_t len)
{
	size_t k = 0;
	for (const char *p = name; *p && k + 1 < len;) {
		if (*p == '.' && isdigit((unsigned char)p[1])) {
			p++;
			while (isdigit((unsigned char)*p))
				p++;
			continue;
		}
		buf[k++] = *p++;
	}
	buf[k] = '\0';
	return buf;
}

static size_t unique_unmatched(struct df_obj *o, const char *norm, const struct df_sym *like)
{
	size_t found = 0, n = 0;
	char buf[512];
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (y->twin || !correlatable(y) || !kinds_agree(y, like) || static_local(y))
			continue;
		if (strcmp(strip_numbers(y->name, buf, sizeof(buf)), norm) == 0) {
			found = i;
			n++;
		}
	}
	return n == 1 ? found : 0;
}

static void renumbered(struct df_obj *orig, struct df_obj *patched)
{
	char norm[512];
	for (size_t pi = 1; pi < patched->nsyms; pi++) {
		struct df_sym *p = &patched->syms[pi];
		if (p->twin || !correlatable(p) || static_local(p) || !strchr(p->name, '.'))
			continue;
		strip_numbers(p->name, norm, sizeof(norm));
		size_t oi = unique_unmatched(orig, norm, p);
		if (oi && unique_unmatched(patched, norm, p) == pi)
			pair(&orig->syms[oi], p);
	}
}

int df_correlate(struct df_obj *orig, struct df_obj *patched, struct xs_err *err)
{
	for (size_t i = 0; i < orig->nsyms; i++)
		orig->syms[i].twin = NULL;
	for (size_t i = 0; i < patched->nsyms; i++)
		patched->syms[i].twin = NULL;
	size_t n = 0, *idx = malloc((orig->nsyms + 1) * sizeof(*idx));
	if (!idx)
		return xs_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 1; i < orig->nsyms; i++)
		if (correlatable(&orig->syms[i]) && !static_local(&orig->syms[i]))
			idx[n++] = i;
	sort_obj = orig;
	qsort(idx, n, sizeof(*idx), by_name);
	by_exact_name(orig, patched, idx, n);
	free(idx);
	renumbered(orig, patched);
	return static_locals(orig, patched, err);
}
