/*
 * Reading a target ELF (an executable or shared library) for the build
 * tools: its identity (class, machine, GNU build-id), its symbols with their
 * STT_FILE scope, and the bytes of its loaded image.
 *
 * Symbols come from the first of: an explicit debug file, the target's own
 * .symtab, a separate debug file found by build-id or .gnu_debuglink, and
 * last the .dynsym (exported symbols only).  Static symbols are scoped by
 * the STT_FILE symbol that precedes them, so that `file.c#name` picks one
 * of several same-named statics, as in the design.
 *
 * Used by xsplice-pack and xsplice-diff; read-only, never writes a file.
 */
#ifndef XS_BUILD_TARGET_H
#define XS_BUILD_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h" /* struct xs_err */

enum xt_syms_from {
	XT_SYMS_SYMTAB, /* the target's own .symtab */
	XT_SYMS_DEBUG,  /* .symtab of a separate debug file (see syms_path) */
	XT_SYMS_DYNSYM, /* only the exported symbols: statics are unreachable */
};

struct xt_sym {
	const char *name;
	/* STT_FILE name the local symbol follows ("" before any); NULL for
	 * global and weak symbols, which carry no file scope once linked */
	const char *file;
	uint64_t value; /* st_value: the module load bias plus this is the address */
	uint64_t size;
	uint8_t type;   /* STT_FUNC, STT_OBJECT, STT_NOTYPE, STT_TLS, STT_GNU_IFUNC ... */
	uint8_t bind;   /* STB_LOCAL, STB_GLOBAL, STB_WEAK */
	uint16_t shndx; /* section index in the file the symbols came from */
};

struct xt_opts {
	const char *debug_file; /* explicit separate debug file, or NULL */
	const char *debug_root; /* NULL: /usr/lib/debug */
	FILE *log;              /* where to say which debug files were tried (NULL: silent) */
};

struct xt_image; /* private: the mapped file and its PT_LOAD segments */

struct xt_target {
	char *path;
	unsigned elfclass; /* ELFCLASS32 / ELFCLASS64 */
	unsigned machine;  /* EM_* */
	unsigned type;     /* ET_EXEC or ET_DYN */
	uint8_t build_id[64];
	size_t build_id_len; /* 0: the target has no GNU build-id note */

	enum xt_syms_from syms_from;
	char *syms_path; /* the file the symbols were read from */
	/* defined symbols (no STT_FILE / STT_SECTION / SHN_ABS / SHN_UNDEF),
	 * sorted by name, then value */
	struct xt_sym *syms;
	size_t nsyms;
	/* the same symbols sorted by value, for "what follows this address" */
	const struct xt_sym **by_addr;

	struct xt_image *img;
};

/*
 * Open and index `path`.  Refuses anything that is not an ELF executable or
 * shared library.  A missing build-id is not an error here (build_id_len is
 * 0); a target without any symbol table is.  0 or negative errno.
 */
int xt_open(struct xt_target *t, const char *path, const struct xt_opts *opts, struct xs_err *err);
void xt_close(struct xt_target *t);

/* "x86-64", "aarch64", "i386", ... or "machine 1234". */
const char *xt_machine_name(unsigned machine);
/* Where the symbols came from, for messages: ".symtab", "debug file X", ".dynsym only". */
const char *xt_syms_from_name(const struct xt_target *t);

/* The run of symbols called `name` (sorted by value), *count of them; NULL if none. */
const struct xt_sym *xt_by_name(const struct xt_target *t, const char *name, size_t *count);

/* 1 when the STT_FILE name `stt_file` is `spec_file` or ends in "/spec_file". */
int xt_file_match(const char *stt_file, const char *spec_file);

/*
 * Resolve a symbol spec the way xsplice-pack does: "sym" is the unique
 * global/weak definition, else the unique file-local one; "file#sym" is the
 * unique file-local `sym` in a file matching `file` (xt_file_match).
 * 0 and *out; -ENOENT when there is none; -ENOTUNIQ when several match (the
 * message lists their files and says how to pick one).
 */
int xt_lookup(const struct xt_target *t, const char *spec, const struct xt_sym **out,
              struct xs_err *err);

/* The first symbol starting strictly after `addr` (by value), or NULL. */
const struct xt_sym *xt_sym_after(const struct xt_target *t, uint64_t addr);

/*
 * Copy up to `len` bytes of the loaded image at `vaddr` (an st_value) from
 * the file.  Returns how many bytes were available contiguously in one
 * PT_LOAD segment's file part (0 when vaddr is not file-backed).
 */
size_t xt_read(const struct xt_target *t, uint64_t vaddr, void *buf, size_t len);

/* Lowercase hex of the build-id into buf (2*len+1 bytes). */
char *xt_hex(const uint8_t *id, size_t len, char *buf);

#endif /* XS_BUILD_TARGET_H */
