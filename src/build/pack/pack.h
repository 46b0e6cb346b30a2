/*
 * xsplice-pack internals.  The flow (main.c) is:
 *
 *   pk_check_inputs   every OBJ is an x86-64 ELF relocatable object
 *   xt_open           the target: class, machine, build-id, symbols
 *   pk_ld             ld -r the objects into one temporary object
 *   pk_obj_load       that object as editable sections (obj.c)
 *   pk_resolve        undefined symbols -> target symbols (resolve.c)
 *   pk_funcs          fill the .xsplice.funcs sizes and flags (funcs.c)
 *   pk_emit           write notes, symrefs, metadata, build-id; verify;
 *                     rename into place (emit.c)
 *
 * Every step returns 0 or a negative errno with one message in the
 * struct xs_err; main prints it.
 */
#ifndef XS_PACK_H
#define XS_PACK_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "build/target.h"
#include "core/core.h"

/* ---- the linked object as editable sections --------------------------------- */

struct pk_sec {
	char *name;
	Elf64_Shdr sh; /* sh_link / sh_info in the input numbering */
	uint8_t *data; /* malloc'd copy; NULL for SHT_NOBITS and empty sections */
	int drop;      /* not written to the payload */
	size_t newidx; /* index in the payload (emit) */
};

struct pk_obj {
	Elf64_Ehdr eh;
	struct pk_sec *secs; /* [0] is the null section */
	size_t nsecs;
	size_t symtab;   /* index of .symtab */
	Elf64_Sym *syms; /* = secs[symtab].data */
	size_t nsyms;
	const char *strtab; /* names of syms */
	size_t strtab_size;
};

int pk_obj_load(struct pk_obj *o, const char *path, struct xs_err *err);
void pk_obj_free(struct pk_obj *o);
/* index of the first section called `name`, 0 if none */
size_t pk_obj_find(const struct pk_obj *o, const char *name);
/* index of the SHT_RELA section that applies to section `idx`, 0 if none */
size_t pk_obj_rela_for(const struct pk_obj *o, size_t idx);
/* append a section (data copied); its index, or 0 when out of memory */
size_t pk_obj_add(struct pk_obj *o, const char *name, uint32_t type, uint64_t flags, uint64_t align,
                  uint64_t entsize, const void *data, size_t size);
const char *pk_sym_name(const struct pk_obj *o, size_t symidx);
/* "function 'f'" / "symbol 'x'" / "section .text.f": for messages */
const char *pk_sym_desc(const struct pk_obj *o, size_t symidx);

/* ---- options and the state of one run ----------------------------------------- */

struct pk_opts {
	const char *target;
	const char *out;
	const char *debug_file;
	const char *debug_dir; /* NULL: /usr/lib/debug */
	const char *depends;   /* hex build-id or a payload file */
	const char **meta;     /* key=value strings */
	size_t nmeta;
	char **objs;
	size_t nobjs;
	int verbose;
	const char *sign_key; /* --sign KEY: sign the payload written */
};

struct pk_ctx {
	struct pk_opts opt;
	struct xt_target tgt;
	struct pk_obj obj;
	/* per payload symbol index: the target symbol it is, NULL if none */
	const struct xt_sym **resolved;
	size_t nresolved;
	uint8_t depends[XSPLICE_BUILD_ID_MAX];
	size_t depends_len;
};

/* verbose progress on stderr (-v) */
void pk_verbose(const struct pk_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* link.c */
int pk_check_inputs(const struct pk_opts *opt, struct xs_err *err);
/* ld -r the objects into `out` (an existing temporary file) */
int pk_ld(const struct pk_opts *opt, const char *out, struct xs_err *err);

/* resolve.c */
int pk_resolve(struct pk_ctx *c, struct xs_err *err);

/* funcs.c */
int pk_funcs(struct pk_ctx *c, struct xs_err *err);
/* length of the NOP or int3 instruction at p (up to n bytes), 0 if none */
size_t pk_nop_len(const uint8_t *p, size_t n);

/* emit.c: drop, add and renumber sections and symbols for the payload */
#define PK_BUILD_ID_LEN 20
int pk_emit_prepare(struct pk_ctx *c, struct xs_err *err);

/* warn.c: the function replaced was inlined into callers (or cloned); a
 * symbol is in neither the target nor its DT_NEEDED libraries */
void pk_warn_inlined(const struct pk_ctx *c, const char *fn);
void pk_warn_unresolvable(const struct pk_ctx *c, const char *name);

/* write.c: --depends, then write, id, verify and rename the payload */
int pk_parse_depends(struct pk_ctx *c, struct xs_err *err);
int pk_emit(struct pk_ctx *c, struct xs_err *err);

#endif /* XS_PACK_H */
