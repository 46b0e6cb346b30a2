/*
 * Private to src/core: the checked view of a payload that xs_payload_verify()
 * builds and the linker (layout.c, place.c, linked.c) consumes.
 *
 * Everything in here has been bounds-checked once, in verify*.c, so the
 * linker may index without re-checking: section data pointers cover
 * sh_size bytes of the payload, symbol and section indexes are in range,
 * relocation fields lie inside their section.  Headers are copied out of the
 * payload bytes (which may be unaligned); section contents are read with
 * memcpy for the same reason.
 */
#ifndef XS_CORE_ELF_INT_H
#define XS_CORE_ELF_INT_H

#include <elf.h>
#include <stdint.h>
#include <string.h>

#include "arch/arch.h"
#include "core/core.h"

/* Sections may ask for at most this alignment: areas start page aligned. */
#define XS_MAX_SECTION_ALIGN 4096u

/* Bits of the per-entry relocation masks of .xsplice.funcs. */
enum {
	XS_FREL_NAME = 1u << 0, /* offset 0 */
	XS_FREL_NEW = 1u << 1,  /* offset 8 */
	XS_FREL_OLD = 1u << 2,  /* offset 16 */
};

struct xs_sec {
	Elf64_Shdr h;
	const char *name;    /* into .shstrtab, NUL-terminated */
	const uint8_t *data; /* h.sh_size bytes of the payload; NULL for NOBITS */
	int alloc;           /* SHF_ALLOC: copied into an area */
	enum xs_area area;   /* when alloc */
	uint64_t off;        /* offset inside the area, when alloc */
	uint8_t *slots;      /* funcs / hook sections: relocated pointer fields */
};

/* What a funcs entry's name relocation points at, for messages. */
struct xs_fname {
	uint32_t sym;
	int64_t addend;
};

struct xs_sym {
	Elf64_Sym s;
	const char *name; /* strtab name; a section symbol's is its section's */
	int32_t got;      /* GOT slot index, -1 when none */
	int32_t stub;     /* call stub index, -1 when none */
	int has_ref;      /* a .xsplice.symrefs entry gives its address */
	uint64_t ref_off; /* ... as the target's load bias plus ref_off */
	int ref_tls;      /* XSPLICE_SYMREF_TLS: ref_off is in the TLS block */
};

enum xs_special {
	XS_SP_FUNCS,
	XS_SP_TARGET,
	XS_SP_DEPENDS,
	XS_SP_BUILD_ID,
	XS_SP_SYMREFS,
	XS_SP_MODINFO,
	XS_SP_EH_FRAME,
	XS_SP_HOOK0, /* XS_SP_HOOK0 + enum xs_hook */
	XS_SP_COUNT = XS_SP_HOOK0 + XS_HOOK_COUNT
};

struct xs_elf {
	const uint8_t *data;
	size_t len;

	unsigned nsec;
	struct xs_sec *sec;
	unsigned symtab; /* section index */
	unsigned nsyms;
	struct xs_sym *syms;
	const char *strtab;
	size_t strtab_size;

	unsigned *relas; /* RELA sections that relocate an allocated section */
	unsigned nrelas;

	unsigned special[XS_SP_COUNT]; /* section index, 0 when absent */
	unsigned nfuncs;
	struct xs_fname *fname; /* per funcs entry, from its name relocation */
	unsigned nhooks[XS_HOOK_COUNT];
	struct xs_note target, depends, build_id;

	/* layout, independent of the page size (areas start page aligned) */
	uint64_t used[XS_AREA_COUNT];  /* bytes used, GOT and stubs included */
	uint64_t align[XS_AREA_COUNT]; /* largest alignment asked for */
	unsigned ngot, nstubs;
	uint64_t got_off;  /* in the R area, 8 bytes per slot */
	uint64_t stub_off; /* in the RX area, XS_ARCH_STUB_SIZE per stub */
	unsigned *got_sym; /* symbol index of each GOT slot */
	unsigned *stub_sym;
};

/* "section 7 (.text.foo)" style labels, for messages */
#define SEC_FMT "section %u (%s)"
#define SEC_ARG(e, i) (unsigned)(i), (e)->sec[i].name

/* verify steps, each filling err with one specific message */
int xs_verify_symbols(struct xs_elf *e, struct xs_err *err);
int xs_verify_relocs(struct xs_elf *e, struct xs_err *err);
int xs_verify_special(struct xs_elf *e, struct xs_err *err);
int xs_verify_tables(struct xs_elf *e, struct xs_err *err);
int xs_layout_compute(struct xs_elf *e, struct xs_err *err);

static inline Elf64_Rela xs_rela_get(const struct xs_elf *e, unsigned sec, uint64_t i)
{
	Elf64_Rela r;

	memcpy(&r, e->sec[sec].data + i * sizeof(r), sizeof(r));
	return r;
}

static inline uint64_t xs_rela_count(const struct xs_elf *e, unsigned sec)
{
	return e->sec[sec].h.sh_size / sizeof(Elf64_Rela);
}

/* 1 when relocation i of rela section `sec` is the call to __tls_get_addr
 * of a general-dynamic sequence (relocation i - 1), which the linker
 * relaxes to local-exec: the call is not relocated, its symbol not needed */
static inline int xs_rela_is_tls_call(const struct xs_elf *e, unsigned sec, uint64_t i)
{
	if (i == 0 || i >= xs_rela_count(e, sec))
		return 0;
	Elf64_Rela p = xs_rela_get(e, sec, i - 1), r = xs_rela_get(e, sec, i);
	uint64_t sym = ELF64_R_SYM(r.r_info);
	return xs_arch_tls_gd_is_call((uint32_t)ELF64_R_TYPE(p.r_info), p.r_offset,
	                              (uint32_t)ELF64_R_TYPE(r.r_info), r.r_offset) &&
	       sym && sym < e->nsyms && e->syms[sym].name &&
	       strcmp(e->syms[sym].name, "__tls_get_addr") == 0;
}

/* a funcs entry's name as the payload spells it, "?" when it cannot tell */
const char *xs_func_label(const struct xs_elf *e, unsigned k);
/* a symbol's label for messages: its name, or "#N" when it has none */
const char *xs_sym_label(const struct xs_elf *e, unsigned i, char buf[32]);

#endif /* XS_CORE_ELF_INT_H */
