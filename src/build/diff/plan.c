/*
 * From "what differs" to "what the payload holds":
 *
 *  - functions whose only difference is a __LINE__ value are ignored (they
 *    compare equal in the line-aligned build, see xsplice-build(1));
 *  - a changed cold half makes its function changed; a function and its
 *    cold half always travel together;
 *  - a changed read-only local datum gets a new copy, and every function
 *    using it is re-patched to use the copy;
 *  - a changed clone (.isra/.constprop/.part) whose callers also changed,
 *    or a changed local function too short for the jump, is included as a
 *    new copy and its callers are re-patched instead (a clone's calling
 *    convention may have changed with its callers);
 *  - changes to existing writable data, constructors, or sections we cannot
 *    classify are refused: a live process already holds that state;
 *  - finally everything the included code refers to is either included too
 *    (new functions and data, jump tables, strings, constants) or left to be
 *    resolved against the target.
 */
#include "build/diff/diff.h"

#include <errno.h>
#include <string.h>

#define JUMP_SIZE 5
#define ENDBR_SIZE 4

static int is_func(const struct df_sym *y)
{
	return y->type == STT_FUNC || y->type == STT_GNU_IFUNC;
}

static struct df_sym *sec_primary(struct df_obj *o, struct df_sec *s)
{
	if (!s->nsyms)
		return NULL;
	return &o->syms[s->primary ? s->primary : s->syms[0]];
}

/* 1 when section `s` refers to symbol `t` (directly or through its section). */
static int refers(const struct df_obj *o, const struct df_sec *s, size_t t)
{
	for (size_t k = 0; k < s->nrels; k++) {
		int64_t a;
		if (df_rel_target(o, &s->rels[k], &a) == t)
			return 1;
	}
	return 0;
}

static void mark_changed(struct df_sym *y, const char *why)
{
	if (y->stat == DS_SAME) {
		y->stat = DS_CHANGED;
		y->why = why;
		y->flags &= ~DF_LINEONLY;
	}
}

/* Every function of `o` that refers to symbol `t` becomes changed.  Returns
 * how many did. */
static int callers_changed(struct df_obj *o, size_t t, const char *why)
{
	int n = 0;
	for (size_t i = 1; i < o->nsecs; i++) {
		struct df_sec *s = &o->secs[i];
		struct df_sym *p = s->kind == DK_TEXT ? sec_primary(o, s) : NULL;
		if (!p || p == &o->syms[t] || !refers(o, s, t))
			continue;
		if (p->stat == DS_SAME) {
			mark_changed(p, why);
			n++;
		}
	}
	return n;
}

static int any_caller_changed(struct df_obj *o, size_t t)
{
	for (size_t i = 1; i < o->nsecs; i++) {
		struct df_sec *s = &o->secs[i];
		struct df_sym *p = s->kind == DK_TEXT ? sec_primary(o, s) : NULL;
		if (p && p != &o->syms[t] && p->stat != DS_SAME && refers(o, s, t))
			return 1;
	}
	return 0;
}

/* 1 when data (not code, not unwind tables) holds the address of `t`. */
static int address_taken(const struct df_obj *o, size_t t)
{
	for (size_t i = 1; i < o->nsecs; i++) {
		const struct df_sec *s = &o->secs[i];
		if ((s->kind == DK_DATA || s->kind == DK_ANON || s->kind == DK_INIT) &&
		    refers(o, s, t))
			return 1;
	}
	return 0;
}

/* ---- __LINE__-only changes -------------------------------------------------- */

static struct df_sym *by_name(struct df_obj *o, const char *name, uint8_t bind)
{
	for (size_t i = 1; i < o->nsyms; i++)
		if ((o->syms[i].bind == STB_LOCAL) == (bind == STB_LOCAL) && o->syms[i].sec &&
		    strcmp(o->syms[i].name, name) == 0)
			return &o->syms[i];
	return NULL;
}

/* A symbol that changed in the patched build but not in the line-aligned
 * build differs only by line numbers. */
static void line_only(struct df_ctx *c)
{
	for (size_t i = 1; i < c->patched.nsyms; i++) {
		struct df_sym *p = &c->patched.syms[i];
		if (p->stat != DS_CHANGED || (!is_func(p) && p->type != STT_OBJECT))
			continue;
		struct df_sym *a = by_name(&c->aligned, p->name, p->bind);
		if (a && a->stat == DS_SAME) {
			p->stat = DS_SAME;
			p->flags |= DF_LINEONLY;
		}
	}
}

/* ---- propagation -------------------------------------------------------------- */

static int fragment_of_changed(struct df_obj *o)
{
	int n = 0;
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (!y->parent || y->stat == DS_SAME)
			continue;
		struct df_sym *p = &o->syms[y->parent];
		if (p->stat == DS_SAME) {
			mark_changed(p, "its cold part changed");
			n++;
		}
	}
	return n;
}

static int old_size_ok(const struct df_sym *y)
{
	const struct df_sym *t = y->twin;
	return t && t->s.st_size >= JUMP_SIZE + ENDBR_SIZE;
}

/* Minimum bytes the target function needs for the jump. */
static size_t jump_need(const struct df_obj *orig, const struct df_sym *t)
{
	const struct df_sec *s = &orig->secs[t->sec];
	static const uint8_t endbr[4] = {0xf3, 0x0f, 0x1e, 0xfa};
	if (s->data && s->size >= t->s.st_value + 4 &&
	    memcmp(s->data + t->s.st_value, endbr, 4) == 0)
		return JUMP_SIZE + ENDBR_SIZE;
	return JUMP_SIZE;
}

static int copies(struct df_ctx *c)
{
	struct df_obj *o = &c->patched;
	int n = 0;
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (!is_func(y) || y->stat != DS_CHANGED || y->parent || (y->flags & DF_COPY) ||
		    y->bind != STB_LOCAL)
			continue;
		int shorty = !old_size_ok(y) && y->twin->s.st_size < jump_need(&c->orig, y->twin);
		int clone = df_is_clone(y->name) && any_caller_changed(o, i);
		if ((!shorty && !clone) || address_taken(o, i))
			continue;
		y->flags |= DF_COPY;
		y->why =
		    shorty ? "too short for the jump: its callers are re-patched to call the copy"
		           : "clone whose callers changed: included as a copy, callers re-patched";
		n += callers_changed(
		    o, i, "calls a changed local function that is replaced through its callers");
	}
	return n;
}

static int rodata_copies(struct df_ctx *c)
{
	struct df_obj *o = &c->patched;
	int n = 0;
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (y->type != STT_OBJECT || y->stat != DS_CHANGED || y->bind != STB_LOCAL ||
		    (y->flags & DF_ROCOPY) || !df_sec_readonly(&o->secs[y->sec]))
			continue;
		y->flags |= DF_ROCOPY;
		n += callers_changed(o, i, "uses changed read-only data");
	}
	return n;
}

/* ---- refusals ------------------------------------------------------------------ */

static void refuse_data(struct df_ctx *c)
{
	struct df_obj *o = &c->patched;
	char lbl[300];
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (y->stat != DS_CHANGED || is_func(y) || (y->flags & DF_ROCOPY) || !y->twin)
			continue;
		df_sym_label(&c->orig, y->twin, lbl, sizeof(lbl));
		if (y->s.st_size != y->twin->s.st_size)
			df_note(&c->rep, DN_REFUSED, lbl,
			        "variable changed size (%llu -> %llu bytes): the layout of "
			        "existing data "
			        "cannot change in a running process; keep the old layout and put "
			        "new fields "
			        "in a shadow variable (xsplice_shadow_*)",
			        (unsigned long long)y->twin->s.st_size,
			        (unsigned long long)y->s.st_size);
		else
			df_note(&c->rep, DN_REFUSED, lbl,
			        "initial value of an existing variable changed (%s): the running "
			        "process "
			        "already holds its current value; set it from a load hook "
			        "(XSPLICE_LOAD_HOOK) "
			        "or keep new state in a shadow variable",
			        y->why ? y->why : "changed");
	}
}

/* Several names at one address are one function (gcc's f.localalias for
 * the self-calls of an exported function in -fPIC code, or any alias): the
 * jump at the shared entry covers every name.  Only when the patched build
 * separates them -- a name the patch leaves unchanged now has its own code --
 * was it identical code folding of two functions, and a jump at the shared
 * body would change both. */
static void refuse_shared_code(struct df_ctx *c, struct df_sym *p)
{
	const struct df_sym *t = p->twin;
	const struct df_sec *ts = &c->orig.secs[t->sec];
	char a[300], b[300];
	for (size_t k = 0; k < ts->nsyms; k++) {
		const struct df_sym *q = &c->orig.syms[ts->syms[k]];
		if (q == t || q->s.st_value != t->s.st_value)
			continue;
		if (q->twin && q->twin->sec != p->sec)
			df_note(&c->rep, DN_REFUSED, df_sym_label(&c->orig, t, a, sizeof(a)),
			        "shares its code with '%s' in the target (identical code folding), "
			        "and the "
			        "patch changes only one of them; build with -fno-ipa-icf",
			        df_sym_label(&c->orig, q, b, sizeof(b)));
	}
}

static int distinct_symbols(const struct df_obj *o, const struct df_sec *s)
{
	for (size_t k = 1; k < s->nsyms; k++)
		if (o->syms[s->syms[k]].s.st_value != o->syms[s->syms[0]].s.st_value)
			return 1;
	return 0;
}

static struct df_sec *same_name(struct df_obj *o, const char *name)
{
	for (size_t i = 1; i < o->nsecs; i++)
		if (strcmp(o->secs[i].name, name) == 0)
			return &o->secs[i];
	return NULL;
}

static void refuse_sections(struct df_ctx *c)
{
	char why[256];
	for (size_t i = 1; i < c->patched.nsecs; i++) {
		struct df_sec *s = &c->patched.secs[i];
		if (s->kind != DK_INIT && s->kind != DK_OTHER)
			continue;
		struct df_sec *t = same_name(&c->orig, s->name);
		if (t && t->kind == s->kind &&
		    df_sec_equal(&c->orig, t, &c->patched, s, why, sizeof(why)))
			continue;
		if (s->kind == DK_INIT)
			df_note(
			    &c->rep, DN_REFUSED, s->name,
			    "constructor/destructor table %s: constructors do not run again in a "
			    "running process; do the work in a load hook (XSPLICE_LOAD_HOOK)",
			    t ? "changed" : "added");
		else
			df_note(&c->rep, DN_REFUSED, s->name,
			        "section %s (flags 0x%llx) %s and cannot be classified as code, "
			        "data or "
			        "constants; a patch may not change it",
			        s->name, (unsigned long long)s->sh.sh_flags,
			        t ? "changed" : "is new");
	}
}

/* ---- what to include ----------------------------------------------------------- */

static void choose(struct df_ctx *c)
{
	struct df_obj *o = &c->patched;
	char lbl[300];
	for (size_t i = 1; i < o->nsecs; i++) {
		struct df_sec *s = &o->secs[i];
		if (s->kind == DK_XSPLICE) {
			struct df_sec *t = same_name(&c->orig, s->name);
			char why[64];
			if (!t || !df_sec_equal(&c->orig, t, o, s, why, sizeof(why)))
				s->include = 1;
			continue;
		}
		struct df_sym *p =
		    s->kind == DK_TEXT || s->kind == DK_DATA ? sec_primary(o, s) : NULL;
		if (!p)
			continue;
		if (p->stat == DS_CHANGED && distinct_symbols(o, s)) {
			df_note(&c->rep, DN_REFUSED, s->name,
			        "section holds several %s (%s, ...) and changed; compile with "
			        "-ffunction-sections -fdata-sections (xsplice-cc does)",
			        s->kind == DK_TEXT ? "functions" : "variables", p->name);
			continue;
		}
		if (s->kind == DK_TEXT && p->stat == DS_CHANGED && !p->parent) {
			if (p->flags & DF_COPY) {
				p->flags |= DF_INCLUDE;
				continue;
			}
			refuse_shared_code(c, p);
			if (!old_size_ok(p) && p->twin->s.st_size < jump_need(&c->orig, p->twin) &&
			    o->secs[p->twin->sec].sh.sh_addralign < 16)
				df_note(&c->rep, DN_REFUSED,
				        df_sym_label(&c->orig, p->twin, lbl, sizeof(lbl)),
				        "function is %llu bytes, too short for the %zu-byte jump, "
				        "is not "
				        "aligned (no padding can follow it) and is called from "
				        "other files",
				        (unsigned long long)p->twin->s.st_size,
				        jump_need(&c->orig, p->twin));
			p->flags |= DF_INCLUDE | DF_REPLACE;
		} else if (p->stat == DS_NEW && p->bind != STB_LOCAL) {
			p->flags |= DF_INCLUDE;
		}
		if (p->flags & DF_INCLUDE)
			s->include = 1;
	}
}

static void include_sec(struct df_obj *o, struct df_sec *s, int *more)
{
	if (!s->include) {
		s->include = 1;
		*more = 1;
	}
	struct df_sym *p = sec_primary(o, s);
	if (p && (s->kind == DK_TEXT || s->kind == DK_DATA))
		p->flags |= DF_INCLUDE;
}

/* Decide for one relocation of an included section whether its target is
 * included too; refuse what cannot be expressed. */
static int tls_reloc(uint32_t type)
{
	switch (type) {
	case R_X86_64_TPOFF32:
	case R_X86_64_TPOFF64:
	case R_X86_64_GOTTPOFF:
	case R_X86_64_TLSGD:
	case R_X86_64_TLSLD:
	case R_X86_64_DTPOFF32:
	case R_X86_64_DTPOFF64:
	case R_X86_64_GOTPC32_TLSDESC:
	case R_X86_64_TLSDESC_CALL:
	case R_X86_64_TLSDESC:
		return 1;
	default:
		return 0;
	}
}

static void walk_rel(struct df_ctx *c, struct df_sec *from, const struct df_rel *r, int *more)
{
	struct df_obj *o = &c->patched;
	const struct df_sym *y = &o->syms[r->sym];
	if (tls_reloc(r->type)) {
		struct df_sym *f = sec_primary(o, from);
		df_note(
		    &c->rep, DN_REFUSED, f ? f->name : from->name,
		    "uses the thread-local variable '%s': payload code cannot reach thread-local "
		    "storage yet; move the per-thread state behind a function the patch does not "
		    "change",
		    y->type == STT_SECTION && y->sec ? o->secs[y->sec].name : y->name);
		return;
	}
	if (!y->sec)
		return; /* undefined: the target or a library provides it */
	struct df_sec *s = &o->secs[y->sec];
	int64_t a;
	size_t ti;
	struct df_sym *t;
	switch (s->kind) {
	case DK_MERGE:
	case DK_ANON:
	case DK_XSPLICE:
		include_sec(o, s, more);
		return;
	case DK_TEXT:
	case DK_DATA:
		ti = df_rel_target(o, r, &a);
		if (!ti) {
			if (!s->include)
				df_note(&c->rep, DN_REFUSED, from->name,
				        "refers to %s+0x%llx, which is not the start of any symbol "
				        "there",
				        s->name,
				        (unsigned long long)(y->s.st_value + (uint64_t)r->addend));
			return;
		}
		t = &o->syms[ti];
		if (t->stat == DS_NEW || (t->flags & (DF_COPY | DF_ROCOPY | DF_INCLUDE)) ||
		    t->parent) {
			if (t->type == STT_TLS && t->stat == DS_NEW) {
				df_note(&c->rep, DN_REFUSED, t->name,
				        "new thread-local variable: TLS cannot be allocated for "
				        "threads "
				        "that already run; use a shadow variable keyed by thread");
				return;
			}
			include_sec(o, s, more);
		} else if (!t->twin) {
			df_note(&c->rep, DN_REFUSED, t->name,
			        "referenced but exists in neither build?");
		}
		return;
	default:
		if (from->kind == DK_EHFRAME)
			return;
		df_note(&c->rep, DN_REFUSED, from->name,
		        "refers to section %s (%s), which a payload cannot use", s->name,
		        df_kind_name(s->kind));
	}
}

static void walk(struct df_ctx *c)
{
	struct df_obj *o = &c->patched;
	int more = 1;
	/* a cold half goes with its function */
	while (more) {
		more = 0;
		for (size_t i = 1; i < o->nsyms; i++) {
			struct df_sym *y = &o->syms[i];
			if (y->parent && (o->syms[y->parent].flags & DF_INCLUDE) &&
			    !(y->flags & DF_INCLUDE))
				include_sec(o, &o->secs[y->sec], &more);
		}
		for (size_t i = 1; i < o->nsecs; i++) {
			struct df_sec *s = &o->secs[i];
			if (!s->include || s->walked)
				continue;
			s->walked = 1;
			for (size_t k = 0; k < s->nrels; k++)
				walk_rel(c, s, &s->rels[k], &more);
			more = 1;
		}
	}
}

/* ---- the report ------------------------------------------------------------------ */

static void report(struct df_ctx *c)
{
	struct df_obj *o = &c->patched;
	char lbl[300];
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (!y->sec || (!is_func(y) && y->type != STT_OBJECT && y->type != STT_TLS))
			continue;
		const char *name =
		    df_sym_label(y->twin ? &c->orig : o, y->twin ? y->twin : y, lbl, sizeof(lbl));
		if (y->flags & DF_LINEONLY)
			df_note(&c->rep, DN_IGNORED, name,
			        "only __LINE__ values differ: not patched");
		else if (y->flags & DF_REPLACE)
			df_note(&c->rep, DN_REPLACED, name, "%s", y->why ? y->why : "changed");
		else if (is_func(y) && (y->flags & DF_COPY))
			df_note(&c->rep, DN_COPIED, name, "%s", y->why);
		else if (is_func(y) && y->stat == DS_NEW && (y->flags & DF_INCLUDE) && !y->parent)
			df_note(&c->rep, DN_ADDED, name, "new function");
		else if (y->flags & DF_ROCOPY)
			df_note(&c->rep, DN_RODATA, name, "read-only data changed: new copy (%s)",
			        y->why);
		else if (!is_func(y) && y->stat == DS_NEW && (y->flags & DF_INCLUDE) &&
		         !df_anon_name(y->name))
			df_note(&c->rep, DN_DATA, name,
			        "new variable, %llu bytes, allocated in the payload",
			        (unsigned long long)y->s.st_size);
	}
	for (size_t i = 1; i < c->orig.nsyms; i++) {
		struct df_sym *y = &c->orig.syms[i];
		if (is_func(y) && y->sec && !y->twin && !y->parent && !df_is_clone(y->name))
			df_note(&c->rep, DN_IGNORED, df_sym_label(&c->orig, y, lbl, sizeof(lbl)),
			        "function no longer in the patched build: left in place, unused by "
			        "new code");
	}
}

int df_plan(struct df_ctx *c, struct xs_err *err)
{
	int rc;
	if (c->have_aligned)
		line_only(c);
	/* propagate until nothing moves: each rule can make more functions change */
	for (int round = 0; round < 1000; round++)
		if (!fragment_of_changed(&c->patched) + !rodata_copies(c) + !copies(c) == 3)
			break;
	if ((rc = df_layout(c, err)))
		return rc;
	refuse_data(c);
	refuse_sections(c);
	choose(c);
	walk(c);
	report(c);
	df_attention(c);
	return 0;
}
