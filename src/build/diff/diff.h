/*
 * xsplice-diff internals: compare an original and a patched relocatable
 * object (gcc/clang output with one section per function and per datum) and
 * write an object holding only what changed, every other reference pointing
 * back at the target's own symbols.
 *
 * The flow (main.c):
 *
 *   df_load        both objects (and the optional line-aligned object)
 *   df_classify    every section: function, datum, anonymous read-only data,
 *                  mergeable constants, .eh_frame, ... (classify.c)
 *   df_correlate   patched symbols -> their original twins (correlate.c)
 *   df_compare     SAME / CHANGED / NEW per function and datum (compare.c)
 *   df_plan        __LINE__-only filtering, propagation, refusals, what to
 *                  include and what to reference (plan.c)
 *   df_emit        the output object (emit.c)
 *
 * Each step returns 0 or a negative errno with one message in struct xs_err;
 * refusals are collected in the report and make the run exit 2.
 */
#ifndef XS_DIFF_H
#define XS_DIFF_H

#include <gelf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

/* Exit statuses of xsplice-diff (documented in xsplice-diff(1)). */
enum {
	DF_EXIT_CHANGED = 0,
	DF_EXIT_ERROR = 1,
	DF_EXIT_REFUSED = 2,
	DF_EXIT_NOCHANGE = 3,
};

enum df_kind {
	DK_IGNORE,  /* not loaded: debug info, notes, comments, empty sections */
	DK_TEXT,    /* code: one function (plus aliases), or several */
	DK_DATA,    /* data with an identity: variables, static locals, TLS */
	DK_ANON,    /* read-only data without identity: jump tables, __func__ */
	DK_MERGE,   /* SHF_MERGE constants and strings */
	DK_EHFRAME, /* .eh_frame, pruned to the included functions */
	DK_INIT,    /* constructors / destructors arrays */
	DK_XSPLICE, /* .xsplice.* and .modinfo written by the SDK in the patch */
	DK_OTHER,   /* anything else: unclassifiable */
};

enum df_stat { DS_SAME, DS_CHANGED, DS_NEW };

/* per-symbol analysis flags */
enum {
	DF_LINEONLY = 1u << 0, /* differs only by __LINE__ values: ignored */
	DF_COPY = 1u << 1,     /* changed, but included as a new copy used by
	                          its (re-patched) callers instead of a jump */
	DF_REPLACE = 1u << 2,  /* gets an .xsplice.funcs entry */
	DF_INCLUDE = 1u << 3,  /* defined in the output */
	DF_ROCOPY = 1u << 4,   /* changed read-only datum: new copy in the payload */
};

struct df_rel {
	uint64_t off;
	uint32_t type;
	int64_t addend;
	size_t sym; /* symbol index in the object */
};

struct df_sec {
	size_t idx;
	const char *name;
	GElf_Shdr sh;
	const uint8_t *data; /* NULL for SHT_NOBITS */
	size_t size;
	struct df_rel *rels; /* sorted by offset */
	size_t nrels;
	enum df_kind kind;
	size_t secsym; /* its STT_SECTION symbol, 0 if none */
	size_t *syms;  /* defined FUNC / OBJECT / TLS symbols in it, by value */
	size_t nsyms;
	size_t primary; /* the symbol at offset 0 that names it, 0 if none */
	/* analysis */
	uint64_t hash;  /* content key of DK_ANON sections */
	int hash_state; /* 0 not computed, 1 in progress, 2 done */
	int include;
	int walked; /* its relocations were followed (plan.c) */
	size_t outidx;
};

struct df_sym {
	const char *name;
	GElf_Sym s;
	uint8_t type, bind;
	size_t sec;          /* defining section (0: undefined, absolute, common) */
	struct df_sym *twin; /* the same symbol in the other object */
	size_t parent;       /* X.cold -> X; 0 otherwise */
	enum df_stat stat;
	unsigned flags;  /* DF_* */
	const char *why; /* for the report: why it changed / was copied */
	size_t outsym;   /* index in the output .symtab, 0 if none */
};

struct df_obj {
	const char *path;
	int fd;
	Elf *elf;
	GElf_Ehdr eh;
	struct df_sec *secs;
	size_t nsecs;
	struct df_sym *syms;
	size_t nsyms;
	const char *file; /* the STT_FILE name, "" if none */
	int is_orig;      /* keys name symbols by their own names */
};

/* ---- the report ------------------------------------------------------------ */

enum df_note {
	DN_REPLACED,  /* function replaced through its entry */
	DN_COPIED,    /* changed local function included as a copy, callers re-patched */
	DN_ADDED,     /* new function */
	DN_DATA,      /* new datum allocated in the payload */
	DN_RODATA,    /* changed read-only datum, new copy */
	DN_IGNORED,   /* a difference that needs no patch, and why */
	DN_REFUSED,   /* a difference that cannot be live-patched */
	DN_NOTE,      /* anything else worth saying */
	DN_ATTENTION, /* for a human to review: new code meets data made before the load */
};

struct df_entry {
	enum df_note kind;
	char *name;
	char *detail;
};

struct df_report {
	struct df_entry *e;
	size_t n, cap;
};

void df_note(struct df_report *r, enum df_note kind, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
size_t df_count(const struct df_report *r, enum df_note kind);
/* human-readable, one line per entry, prefixed with the object's name */
void df_report_print(const struct df_report *r, const char *obj, FILE *f);
/* machine-readable: "kind\tname\tdetail\n" (for xsplice-build) */
int df_report_write(const struct df_report *r, const char *obj, const char *path,
                    struct xs_err *err);
void df_report_free(struct df_report *r);

/* ---- the run --------------------------------------------------------------- */

struct df_ctx {
	struct df_obj orig, patched, aligned;
	int have_aligned;
	struct df_report rep;
	int verbose;
	/* writable variables the patched object declares extern (from DWARF) */
	char **ext_vars;
	size_t next_vars;
};

/* obj.c */
int df_load(struct df_obj *o, const char *path, int is_orig, struct xs_err *err);
void df_free(struct df_obj *o);
/* the relocation at `off` of section `s`, NULL if none */
const struct df_rel *df_rel_at(const struct df_sec *s, uint64_t off);
int df_is_pcrel(uint32_t type);
/* the symbol a relocation into a section really means: the section's
 * defined symbol containing the referenced offset, 0 when unsure */
size_t df_rel_target(const struct df_obj *o, const struct df_rel *r, int64_t *sym_addend);
/* 1 when the target knows `s` by file: statics and hidden globals */
int df_sym_scoped(const struct df_sym *s);
/* "a.c#f" / "f" for messages and hints */
const char *df_sym_label(const struct df_obj *o, const struct df_sym *s, char *buf, size_t len);
int df_name_has_suffix(const char *name, const char *suffix_kind);
/* base name of a compiler-generated name: "n.3" -> "n", "f.constprop.0" -> "f" */
size_t df_base_len(const char *name);
/* ", "-separated name lists for report details */
int df_list_has(const char *list, const char *name);
void df_list_add(char *list, size_t len, const char *name);

/* classify.c */
int df_classify(struct df_obj *o, struct xs_err *err);
const char *df_kind_name(enum df_kind k);
/* 1 for names the compiler makes up for read-only data without identity */
int df_anon_name(const char *name);
/* 1 for local functions the compiler derived from another (clones, parts) */
int df_is_clone(const char *name);
/* 1 for sections that are read-only once relocated */
int df_sec_readonly(const struct df_sec *s);

/* correlate.c */
int df_correlate(struct df_obj *orig, struct df_obj *patched, struct xs_err *err);

/* compare.c */
/* key of a relocation's target, comparable across the two objects */
uint64_t df_ref_key(struct df_obj *o, const struct df_rel *r);
/* 1 when the two sections have the same bytes and equivalent relocations */
int df_sec_equal(struct df_obj *a, const struct df_sec *sa, struct df_obj *b,
                 const struct df_sec *sb, char *why, size_t whylen);
int df_compare(struct df_obj *orig, struct df_obj *patched, struct xs_err *err);

/* layout.c: struct layout changes from the DWARF of both builds */
int df_layout(struct df_ctx *c, struct xs_err *err);

/* attention.c: state and lifetime hazards for the report */
void df_attention(struct df_ctx *c);

/* plan.c */
int df_plan(struct df_ctx *c, struct xs_err *err);

/* emit.c */
int df_emit(struct df_ctx *c, const char *out, struct xs_err *err);

/* verify.c: xsplice-diff --check-target */
int df_check_target(const char *target, const char *debug_file, char **objs, size_t nobjs,
                    int verbose, FILE *out, struct xs_err *err);

#endif /* XS_DIFF_H */
