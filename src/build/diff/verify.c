/*
 * xsplice-diff --check-target: does TARGET contain the code of these
 * objects?  xsplice-build rebuilds the original source and must make sure
 * it is the source, compiler and flags the running binary was built from:
 * a payload computed against other code would patch the wrong bytes.
 *
 * For every object, each function is looked up in the target (file-local
 * ones by their STT_FILE scope) and its bytes compared, except the fields
 * the linker fills in (relocations, and the instructions it may relax: GOT
 * loads become lea, TLS sequences change models).  An object with none of
 * its functions in the target belongs to another binary of the project and
 * is reported as such on stdout ("absent\tOBJ"); members are "member\tOBJ".
 */
#include "build/diff/diff.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "build/target.h"

/* Bytes around a relocated field that the linker may rewrite. */
static void mask_range(uint32_t type, uint64_t off, int64_t *from, int64_t *to)
{
	int64_t o = (int64_t)off;
	switch (type) {
	case R_X86_64_64:
	case R_X86_64_PC64:
	case R_X86_64_DTPOFF64:
	case R_X86_64_TPOFF64:
	case R_X86_64_GOTOFF64:
		*from = o, *to = o + 8;
		return;
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX:
	case R_X86_64_GOTTPOFF:
	case R_X86_64_GOTPC32_TLSDESC:
		*from = o - 3, *to = o + 4; /* rex, opcode, modrm may change */
		return;
	case R_X86_64_TLSGD:
		*from = o - 4, *to = o + 12; /* the whole 16-byte sequence */
		return;
	case R_X86_64_TLSLD:
		*from = o - 3, *to = o + 9;
		return;
	case R_X86_64_TLSDESC_CALL:
		*from = o, *to = o + 2;
		return;
	default:
		*from = o, *to = o + 4;
		return;
	}
}

struct mismatch {
	char what[512];
};

struct tally {
	struct mismatch *m;
	size_t n, cap;
	size_t compared;
};

static void add_mismatch(struct tally *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_mismatch(struct tally *t, const char *fmt, ...)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		struct mismatch *m = realloc(t->m, cap * sizeof(*m));
		if (!m)
			return;
		t->m = m;
		t->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->m[t->n++].what, sizeof(t->m[0].what), fmt, ap);
	va_end(ap);
}

/* The target's copy of object symbol `y`, NULL if it has none. */
static const struct xt_sym *find(const struct xt_target *t, const struct df_obj *o,
                                 const struct df_sym *y)
{
	size_t n;
	const struct xt_sym *run = xt_by_name(t, y->name, &n);
	const struct xt_sym *hit = NULL;
	for (size_t i = 0; run && i < n; i++) {
		const struct xt_sym *s = &run[i];
		int in_file = s->file && *o->file && strcmp(s->file, o->file) == 0;
		/* a global is global in the target, or local after the empty
		 * STT_FILE when the linker localised it (hidden visibility) */
		if (df_sym_scoped(y) ? !in_file : s->file != NULL && *s->file)
			continue;
		if (hit && hit->value != s->value)
			return NULL; /* two same-named statics in same-named files: cannot tell */
		hit = s;
	}
	return hit;
}

static void compare_func(const struct xt_target *t, const struct df_obj *o, const struct df_sym *y,
                         const struct xt_sym *ts, struct tally *tl)
{
	char lbl[300];
	df_sym_label(o, y, lbl, sizeof(lbl));
	const struct df_sec *s = &o->secs[y->sec];
	size_t size = y->s.st_size;
	tl->compared++;
	if (ts->size != size) {
		add_mismatch(tl, "%s: %zu bytes here, %llu in the target", lbl, size,
		             (unsigned long long)ts->size);
		return;
	}
	uint8_t *buf = malloc(size ? size : 1), *mask = calloc(size ? size : 1, 1);
	if (!buf || !mask || xt_read(t, ts->value, buf, size) != size) {
		add_mismatch(tl, "%s: unreadable in the target (%zu bytes)", lbl, size);
		goto out;
	}
	for (size_t k = 0; k < s->nrels; k++) {
		int64_t from, to, base = (int64_t)y->s.st_value;
		mask_range(s->rels[k].type, s->rels[k].off, &from, &to);
		for (int64_t b = from; b < to; b++)
			if (b >= base && b < base + (int64_t)size)
				mask[b - base] = 1;
	}
	for (size_t i = 0; i < size; i++) {
		uint8_t want = s->data ? s->data[y->s.st_value + i] : 0;
		if (!mask[i] && buf[i] != want) {
			add_mismatch(tl, "%s: bytes differ at +0x%zx", lbl, i);
			break;
		}
	}
out:
	free(buf);
	free(mask);
}

/* Compare one object; *member says whether it is part of the target. */
static int check_obj(const struct xt_target *t, const char *path, int *member, struct tally *tl,
                     struct xs_err *err)
{
	struct df_obj o;
	int rc = df_load(&o, path, 1, err);
	if (!rc)
		rc = df_classify(&o, err);
	if (rc) {
		df_free(&o);
		return rc;
	}
	size_t nl = 0, nl_found = 0, ng = 0, ng_found = 0;
	const struct xt_sym **hits = calloc(o.nsyms + 1, sizeof(*hits));
	if (!hits) {
		df_free(&o);
		return xs_err_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 1; i < o.nsyms; i++) {
		const struct df_sym *y = &o.syms[i];
		if (y->type != STT_FUNC || !y->sec || !y->s.st_size ||
		    o.secs[y->sec].kind != DK_TEXT)
			continue;
		hits[i] = find(t, &o, y);
		if (df_sym_scoped(y))
			nl++, nl_found += hits[i] != NULL;
		else
			ng++, ng_found += hits[i] != NULL;
	}
	/* an object of data only: its variables decide */
	for (size_t i = 1; !nl && !ng && i < o.nsyms; i++) {
		const struct df_sym *y = &o.syms[i];
		if (y->type != STT_OBJECT || !y->sec || !y->s.st_size || df_anon_name(y->name))
			continue;
		int found = find(t, &o, y) != NULL;
		if (df_sym_scoped(y))
			nl_found += found;
		else
			ng_found += found;
	}
	/* statics carry their file name into the target: one found decides;
	 * an object of globals only is a member when all of them are there */
	*member = nl ? nl_found > 0 : ng ? ng_found == ng : nl_found + ng_found > 0;
	for (size_t i = 1; *member && i < o.nsyms; i++)
		if (hits[i])
			compare_func(t, &o, &o.syms[i], hits[i], tl);
	free(hits);
	df_free(&o);
	return 0;
}

int df_check_target(const char *target, const char *debug_file, char **objs, size_t nobjs,
                    int verbose, FILE *out, struct xs_err *err)
{
	struct xt_target t;
	struct xt_opts opts = {.debug_file = debug_file};
	int rc = xt_open(&t, target, &opts, err);
	if (rc)
		return rc;
	if (t.syms_from == XT_SYMS_DYNSYM) {
		/* only the exported names: static functions cannot be found, and
		 * an honest comparison cannot be made */
		rc = xs_err_set(err, -ENOENT,
		                "%s is stripped, give --debug-file (it has no .symtab, and no "
		                "separate debug file was found by build-id or .gnu_debuglink)",
		                target);
		xt_close(&t);
		return rc;
	}
	struct tally tl = {0};
	size_t members = 0;
	for (size_t i = 0; i < nobjs && !rc; i++) {
		int member = 0;
		rc = check_obj(&t, objs[i], &member, &tl, err);
		if (!rc) {
			fprintf(out, "%s\t%s\n", member ? "member" : "absent", objs[i]);
			members += member;
		}
	}
	if (!rc && verbose)
		fprintf(stderr,
		        "xsplice-diff: %zu of %zu objects are in %s; %zu functions compared, "
		        "%zu differ\n",
		        members, nobjs, target, tl.compared, tl.n);
	if (!rc && tl.n) {
		char list[400] = "";
		size_t used = 0;
		for (size_t i = 0; i < tl.n; i++)
			fprintf(stderr, "xsplice-diff: differs: %s\n", tl.m[i].what);
		for (size_t i = 0; i < tl.n && i < 3 && used < sizeof(list); i++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
			                         i ? "; " : "", tl.m[i].what);
		rc =
		    xs_err_set(err, -EBADMSG,
		               "%s was not built from this source with these flags: %zu of %zu "
		               "functions differ (%s%s); build it with the same compiler and flags "
		               "through xsplice-cc, or give the matching source tree",
		               target, tl.n, tl.compared, list, tl.n > 3 ? "; ..." : "");
	} else if (!rc && !members) {
		rc =
		    xs_err_set(err, -ENOENT, "none of the %zu objects is part of %s: wrong target?",
		               nobjs, target);
	}
	free(tl.m);
	xt_close(&t);
	return rc;
}
