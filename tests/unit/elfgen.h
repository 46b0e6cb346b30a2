/*
 * elfgen: a tiny in-memory ELF64 relocatable-object builder for tests.
 *
 * A test describes sections, symbols and relocations in a struct eg, calls
 * eg_build() and gets the bytes of an ET_REL object: the ELF header, the
 * section contents in order, one ".rela<name>" section per relocated
 * section, .symtab, .strtab, .shstrtab, and the section header table last
 * (so that every truncation cuts it).  eg_minimal() fills in a valid
 * payload; a test then breaks one thing, either in the description or in
 * the built bytes (eg_shdr() / eg_sym() / eg_rela() point into them).
 */
#ifndef XS_TEST_ELFGEN_H
#define XS_TEST_ELFGEN_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#define EG_MAX_SECS 64
#define EG_MAX_SYMS 64
#define EG_MAX_RELS 256

struct eg_sec {
	char name[64];
	uint32_t type;
	uint64_t flags;
	uint64_t align;
	uint64_t entsize;
	uint32_t link, info;
	uint8_t *data; /* malloc'd copy, NULL for NOBITS */
	size_t size;
};

struct eg_sym {
	char name[64];
	uint8_t info; /* ELF64_ST_INFO(bind, type) */
	uint16_t shndx;
	uint64_t value, size;
};

struct eg_rel {
	unsigned sec; /* the relocated section */
	uint64_t off;
	unsigned sym;
	uint32_t type;
	int64_t addend;
};

struct eg {
	struct eg_sec sec[EG_MAX_SECS]; /* [0] is the null section */
	unsigned nsec;
	struct eg_sym sym[EG_MAX_SYMS]; /* [0] is the null symbol */
	unsigned nsym;
	struct eg_rel rel[EG_MAX_RELS];
	unsigned nrel;
	uint16_t machine; /* EM_X86_64 unless changed */
};

/* The built object and where its generated parts are. */
struct eg_out {
	uint8_t *buf; /* malloc'd */
	size_t len;
	unsigned nsec;
	unsigned symtab, strtab, shstrtab;
	unsigned rela_of[EG_MAX_SECS]; /* rela section of each section, 0 if none */
	uint64_t shoff;
};

void eg_init(struct eg *g);
void eg_free(struct eg *g);
unsigned eg_add_sec(struct eg *g, const char *name, uint32_t type, uint64_t flags, uint64_t align,
                    const void *data, size_t size);
unsigned eg_add_sym(struct eg *g, const char *name, int bind, int type, unsigned shndx,
                    uint64_t value, uint64_t size);
unsigned eg_add_rel(struct eg *g, unsigned sec, uint64_t off, unsigned sym, uint32_t type,
                    int64_t addend);
/* replace a section's bytes (size too) */
void eg_set_data(struct eg *g, unsigned sec, const void *data, size_t size);
/* section index by name, 0 when absent */
unsigned eg_find(const struct eg *g, const char *name);

void eg_build(const struct eg *g, struct eg_out *out);
void eg_out_free(struct eg_out *out);

Elf64_Ehdr *eg_ehdr(struct eg_out *o);
Elf64_Shdr *eg_shdr(struct eg_out *o, unsigned i);
Elf64_Sym *eg_sym(struct eg_out *o, unsigned k);
Elf64_Rela *eg_rela(struct eg_out *o, unsigned sec, unsigned k);

/* ---- a valid minimal payload -------------------------------------------------
 *
 *   .text           new_fn: call ext_fn; add *counter (via the GOT); ret
 *   .rodata.str     "old_fn\0"
 *   .data, .bss     16 bytes each
 *   .xsplice.funcs  one entry: name -> .rodata.str, new_addr -> new_fn,
 *                   old_addr -> old_fn, version 1, new_size 21
 *   .xsplice.target GNU build-id note 01 02 03 04
 *   .xsplice.symrefs  old_fn = target bias + EG_OLD_FN_OFFSET
 *
 * ext_fn and counter are left to the host's resolver.
 */
#define EG_OLD_FN_OFFSET 0x1230
#define EG_NEW_FN_SIZE 21

struct eg_min {
	unsigned text, rodata, data, bss, funcs, target, symrefs;
	unsigned sym_text, sym_rodata, sym_new, sym_old, sym_ext, sym_counter;
};

void eg_minimal(struct eg *g, struct eg_min *m);
/* a GNU note (type 3) with the given descriptor, into buf; returns its size */
size_t eg_note(uint8_t *buf, const void *desc, uint32_t len);
/* add a hook section `name` with one slot relocated against symbol `sym` */
unsigned eg_add_hook(struct eg *g, const char *name, unsigned sym);

#endif
