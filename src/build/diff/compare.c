/*
 * Change detection.  Two sections are the same when their bytes are equal
 * and their relocations, entry by entry, have the same offset, type and
 * *meaning*: the same correlated symbol plus the same addend, the same
 * string or constant for mergeable data, the same content for anonymous
 * read-only data (jump tables, __func__).  The meaning is reduced to a
 * 64-bit key so that both objects can be compared without a common
 * numbering.
 */
#include "build/diff/diff.h"

#include <errno.h>
#include <string.h>

#define FNV_INIT 0xcbf29ce484222325ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s, strlen(s) + 1);
}

static uint64_t fnv_i64(uint64_t h, int64_t v)
{
	return fnv(h, &v, sizeof(v));
}

/* The name a symbol is known by in the original object. */
static uint64_t ident(uint64_t h, const struct df_obj *o, const struct df_sym *y)
{
	if (o->is_orig)
		return fnv_str(fnv_str(h, "sym"), y->name);
	if (y->twin)
		return fnv_str(fnv_str(h, "sym"), y->twin->name);
	return fnv_str(fnv_str(h, "new"), y->name);
}

/* Key of the string or constant at `pos` of a mergeable section. */
static uint64_t merge_key(uint64_t h, const struct df_sec *s, int64_t pos)
{
	size_t es = s->sh.sh_entsize ? s->sh.sh_entsize : 1;
	if (!s->data || pos < 0 || (uint64_t)pos >= s->size)
		return fnv_i64(fnv_str(h, "merge-out"), pos);
	size_t p = (size_t)pos;
	if (s->sh.sh_flags & SHF_STRINGS) {
		/* the string around pos: back to the previous terminator */
		size_t start = p - p % es, end = start;
		static const uint8_t zero[16];
		while (start >= es && memcmp(s->data + start - es, zero, es < 16 ? es : 16) != 0)
			start -= es;
		while (end + es <= s->size && memcmp(s->data + end, zero, es < 16 ? es : 16) != 0)
			end += es;
		h = fnv(fnv_str(h, "str"), s->data + start, end - start);
		return fnv_i64(h, (int64_t)(p - start));
	}
	size_t elem = p - p % es;
	h = fnv(fnv_str(h, "const"), s->data + elem, elem + es <= s->size ? es : s->size - elem);
	return fnv_i64(h, (int64_t)(p - elem));
}

static uint64_t anon_hash(struct df_obj *o, struct df_sec *s);

uint64_t df_ref_key(struct df_obj *o, const struct df_rel *r)
{
	const struct df_sym *y = &o->syms[r->sym];
	uint64_t h = fnv(FNV_INIT, &r->type, sizeof(r->type));
	if (y->s.st_shndx == SHN_UNDEF)
		return fnv_i64(fnv_str(fnv_str(h, "undef"), y->name), r->addend);
	if (y->s.st_shndx == SHN_ABS)
		return fnv_i64(fnv_str(h, "abs"), (int64_t)y->s.st_value + r->addend);
	if (!y->sec)
		return fnv_i64(fnv_str(fnv_str(h, "common"), y->name), r->addend);
	struct df_sec *s = &o->secs[y->sec];
	int64_t pos = (int64_t)y->s.st_value + r->addend;
	switch (s->kind) {
	case DK_MERGE:
		return merge_key(h, s, df_is_pcrel(r->type) ? pos + 4 : pos);
	case DK_ANON:
		return fnv_i64(fnv_i64(fnv_str(h, "anon"), (int64_t)anon_hash(o, s)), pos);
	case DK_TEXT:
	case DK_DATA: {
		int64_t a;
		size_t t = df_rel_target(o, r, &a);
		if (t)
			return fnv_i64(ident(h, o, &o->syms[t]), a);
		break;
	}
	default:
		break;
	}
	return fnv_i64(fnv_str(fnv_str(h, "section"), s->name), pos);
}

static uint64_t anon_hash(struct df_obj *o, struct df_sec *s)
{
	if (s->hash_state == 2)
		return s->hash;
	if (s->hash_state == 1) /* a cycle: stop at the name */
		return fnv_str(FNV_INIT, s->name);
	s->hash_state = 1;
	uint64_t h = fnv_i64(FNV_INIT, (int64_t)s->size);
	if (s->data)
		h = fnv(h, s->data, s->size);
	for (size_t i = 0; i < s->nrels; i++) {
		h = fnv_i64(h, (int64_t)s->rels[i].off);
		h = fnv_i64(h, (int64_t)df_ref_key(o, &s->rels[i]));
	}
	s->hash = h;
	s->hash_state = 2;
	return h;
}

static int bytes_equal(const struct df_sec *a, const struct df_sec *b, size_t *at)
{
	for (size_t i = 0; i < a->size; i++) {
		uint8_t x = a->data ? a->data[i] : 0, y = b->data ? b->data[i] : 0;
		if (x != y) {
			*at = i;
			return 0;
		}
	}
	return 1;
}

/* What a relocation refers to, for messages. */
static const char *rel_name(const struct df_obj *o, const struct df_rel *r)
{
	const struct df_sym *y = &o->syms[r->sym];
	if (y->type == STT_SECTION && y->sec)
		return o->secs[y->sec].name;
	return y->name;
}

int df_sec_equal(struct df_obj *a, const struct df_sec *sa, struct df_obj *b,
                 const struct df_sec *sb, char *why, size_t whylen)
{
	size_t at;
	if (sa->size != sb->size) {
		snprintf(why, whylen, "size %zu -> %zu bytes", sa->size, sb->size);
		return 0;
	}
	if ((sa->sh.sh_flags ^ sb->sh.sh_flags) & (SHF_WRITE | SHF_EXECINSTR | SHF_TLS)) {
		snprintf(why, whylen, "section flags changed (%s -> %s)", sa->name, sb->name);
		return 0;
	}
	if (!bytes_equal(sa, sb, &at)) {
		snprintf(why, whylen, "bytes differ at +0x%zx", at);
		return 0;
	}
	if (sa->nrels != sb->nrels) {
		snprintf(why, whylen, "%zu -> %zu relocations", sa->nrels, sb->nrels);
		return 0;
	}
	for (size_t i = 0; i < sa->nrels; i++) {
		const struct df_rel *x = &sa->rels[i], *y = &sb->rels[i];
		if (x->off != y->off || x->type != y->type ||
		    df_ref_key(a, x) != df_ref_key(b, y)) {
			snprintf(why, whylen, "reference at +0x%llx changed (%s -> %s)",
			         (unsigned long long)y->off, rel_name(a, x), rel_name(b, y));
			return 0;
		}
	}
	return 1;
}

static void set_all(struct df_obj *o, struct df_sec *s, enum df_stat st, const char *why)
{
	for (size_t i = 0; i < s->nsyms; i++) {
		o->syms[s->syms[i]].stat = st;
		o->syms[s->syms[i]].why = why;
	}
}

/* Reasons live as long as the run: a fixed pool instead of a free list for
 * a short-lived tool; a full pool degrades to a generic reason. */
static char *dupwhy(const char *s)
{
	static char pool[1 << 16];
	static size_t used;
	size_t n = strlen(s) + 1;
	if (used + n > sizeof(pool))
		return "changed";
	char *p = memcpy(pool + used, s, n);
	used += n;
	return p;
}

/*
 * Status of one patched section of code or data with its twin.  A section
 * holding several symbols at different offsets is compared as a whole and
 * only counts as the same when every symbol lives in the twin section.
 */
static void compare_sec(struct df_obj *orig, struct df_obj *patched, struct df_sec *ps)
{
	char why[256];
	const struct df_sym *p = &patched->syms[ps->primary ? ps->primary : ps->syms[0]];
	const struct df_sym *t = p->twin;
	if (!t) {
		set_all(patched, ps, DS_NEW, "new");
		return;
	}
	struct df_sec *ts = &orig->secs[t->sec];
	for (size_t i = 0; i < ps->nsyms; i++) {
		const struct df_sym *q = &patched->syms[ps->syms[i]];
		if (!q->twin || q->twin->sec != t->sec || q->twin->s.st_value != q->s.st_value) {
			set_all(patched, ps, DS_CHANGED, "its symbols moved between sections");
			return;
		}
	}
	if (ts->kind != ps->kind) {
		snprintf(why, sizeof(why), "was %s, now %s", df_kind_name(ts->kind),
		         df_kind_name(ps->kind));
		set_all(patched, ps, DS_CHANGED, dupwhy(why));
	} else if (!df_sec_equal(orig, ts, patched, ps, why, sizeof(why))) {
		set_all(patched, ps, DS_CHANGED, dupwhy(why));
	} else {
		set_all(patched, ps, DS_SAME, NULL);
	}
}

int df_compare(struct df_obj *orig, struct df_obj *patched, struct xs_err *err)
{
	(void)err;
	for (size_t i = 1; i < orig->nsecs; i++)
		orig->secs[i].hash_state = 0;
	for (size_t i = 1; i < patched->nsecs; i++)
		patched->secs[i].hash_state = 0;
	for (size_t i = 1; i < patched->nsyms; i++)
		patched->syms[i].stat = patched->syms[i].twin ? DS_SAME : DS_NEW;
	for (size_t i = 1; i < patched->nsecs; i++) {
		struct df_sec *ps = &patched->secs[i];
		if ((ps->kind == DK_TEXT || ps->kind == DK_DATA) && ps->nsyms)
			compare_sec(orig, patched, ps);
	}
	return 0;
}
