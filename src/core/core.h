/*
 * xsplice core: verify and link a payload, host-agnostic.
 *
 * Nothing here touches /proc, signals or threads: the host (the agent in a
 * live process, or a unit test on plain memory) supplies memory and symbol
 * lookups through struct xs_host.  The pipeline is flat:
 *
 *     xs_payload_verify()   untrusted bytes -> struct xs_elf (a checked view)
 *     xs_link_layout()      sizes of the RX / R / RW areas (incl. stubs, GOT)
 *     host allocates the areas within ±2 GiB of the target module
 *     xs_link_place()       copy sections, resolve symbols, relocate, parse
 *                           .xsplice.funcs / hooks into struct xs_linked
 *     host makes the areas final (RX / R / RW) and frees the staging copy
 *
 * Every function returns 0 or a negative errno and fills struct xs_err with
 * one specific message; none ever reads outside the bytes it was given.
 */
#ifndef XS_CORE_H
#define XS_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <xsplice/payload.h>

struct xs_err {
	int code;       /* negative errno */
	char msg[512];  /* one line, no trailing newline */
};

/* Sets err (if non-NULL) and returns code. printf-style. */
int xs_err_set(struct xs_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- near placement ---------------------------------------------------------
 * The payload must sit within rel32 reach of the module it patches: jumps
 * from the old functions into the payload and PC-relative references from
 * the payload to the module's code and data are 32-bit signed displacements.
 * xs_near_find() picks where, from a snapshot of the process's mappings (the
 * agent reads /proc/self/maps); it is a pure function.
 *
 * The rule, exactly: the module [mod_lo, mod_hi) and the gap [g, g + size)
 * must together fit in one window of XS_NEAR_SPAN bytes, i.e.
 * max(g + size, mod_hi) - min(g, mod_lo) <= XS_NEAR_SPAN.  The span is
 * 2 GiB minus one page, so that every byte of the gap is within rel32 reach
 * of every byte of the module with room for small addends.  The gap is
 * page aligned, lies in [XS_NEAR_MIN_ADDR, XS_NEAR_MAX_ADDR), does not
 * overlap any mapping nor the module, and is the closest such gap to the
 * module (distance lo - (g + size) below it, g - hi above it; below wins a
 * tie).
 */
struct xs_range {
	uintptr_t lo, hi; /* [lo, hi) */
};

#define XS_NEAR_SPAN ((uintptr_t)(1ull << 31) - 4096u)
#define XS_NEAR_MIN_ADDR ((uintptr_t)0x10000)        /* vm.mmap_min_addr default */
#define XS_NEAR_MAX_ADDR ((uintptr_t)0x7ffffffff000) /* x86-64 user space top (47 bits) */

/*
 * maps: the process's mappings sorted by lo (overlaps and adjacency are
 * fine; an unsorted list is -EINVAL).  size: bytes wanted (rounded up to
 * page_size).  page_size: a power of two.  On success *addr is the start of
 * the gap.  -ENOMEM (with a message naming the module range and the size)
 * when no gap is in reach; -EINVAL for bad arguments.
 */
int xs_near_find(const struct xs_range *maps, size_t nmaps, uintptr_t mod_lo, uintptr_t mod_hi,
		 size_t size, size_t page_size, uintptr_t *addr, struct xs_err *err);

/* ---- verified view over the payload bytes -------------------------------- */

struct xs_note {
	const uint8_t *id; /* points into the payload bytes */
	uint32_t len;      /* 0 when the note is absent */
};

struct xs_elf; /* opaque, allocated by xs_payload_verify */

int xs_payload_verify(const void *data, size_t len, struct xs_elf **out, struct xs_err *err);
void xs_elf_free(struct xs_elf *elf);

/* Build-ids from the notes (valid while the bytes live). */
struct xs_note xs_elf_target_id(const struct xs_elf *elf);
struct xs_note xs_elf_depends_id(const struct xs_elf *elf);
struct xs_note xs_elf_build_id(const struct xs_elf *elf);
/* .modinfo bytes (key=value\0...), NULL/0 when absent */
const char *xs_elf_modinfo(const struct xs_elf *elf, size_t *len);
/* number of .xsplice.funcs entries */
unsigned xs_elf_nfuncs(const struct xs_elf *elf);

/* ---- layout --------------------------------------------------------------- */

enum xs_area { XS_AREA_RX, XS_AREA_R, XS_AREA_RW, XS_AREA_COUNT };

struct xs_layout {
	size_t size[XS_AREA_COUNT];  /* bytes, page multiples (0 when empty) */
	size_t total;                /* sum of the three */
	unsigned ngot;               /* GOT slots (8 bytes each, in R) */
	unsigned nstubs;             /* call stubs (in RX) */
};

int xs_link_layout(const struct xs_elf *elf, size_t page_size, struct xs_layout *out,
		   struct xs_err *err);

/*
 * One area the host has allocated.  `stage` is where the linker writes (the
 * bytes that will become the area); `addr` is the address the area will
 * have at run time (relocations are computed against it).  On plain memory
 * both are the same.
 */
struct xs_region {
	uint8_t *stage;
	uintptr_t addr;
	size_t size;
	int zeroed; /* stage is fresh zero memory: not cleared again, so that
	               .bss pages are not touched (committed) before use */
};

/* ---- the host ------------------------------------------------------------- */

struct xs_host {
	void *ctx;
	/* load bias of the module the payload targets (dlpi_addr) */
	uintptr_t target_bias;
	/*
	 * Resolve an undefined symbol that has no .xsplice.symrefs entry: earlier
	 * payloads' new symbols, then the process's shared libraries (libc, the
	 * agent's exported API).  Return 0 and set *addr, or -ENOENT.
	 */
	int (*resolve)(void *ctx, const char *name, uintptr_t *addr);
};

/* ---- the linked payload ---------------------------------------------------- */

struct xs_func {
	const char *name;       /* points into a linked area */
	uintptr_t old_addr;
	uintptr_t new_addr;     /* 0 for a NOP patch */
	uint32_t old_size;
	uint32_t new_size;
	uint8_t flags;          /* XSPLICE_FUNC_* */
	uint8_t expect_len;     /* 0 when no expectation */
	uint8_t expect[XSPLICE_EXPECT_MAX];
};

enum xs_hook {
	XS_HOOK_LOAD, XS_HOOK_UNLOAD,
	XS_HOOK_PREAPPLY, XS_HOOK_POSTAPPLY,
	XS_HOOK_PREREVERT, XS_HOOK_POSTREVERT,
	XS_HOOK_APPLY, XS_HOOK_REVERT,
	XS_HOOK_PERTHREAD,
	XS_HOOK_COUNT
};

/* A payload-defined global symbol, for linking later payloads against it. */
struct xs_symbol {
	const char *name;
	uintptr_t addr;
	uint64_t size;
	uint8_t type; /* STT_FUNC / STT_OBJECT / ... */
};

struct xs_linked {
	struct xs_func *funcs;
	unsigned nfuncs;
	uintptr_t *hooks[XS_HOOK_COUNT]; /* arrays of resolved addresses */
	unsigned nhooks[XS_HOOK_COUNT];
	struct xs_symbol *symbols;       /* global defined symbols */
	unsigned nsymbols;
	/* .eh_frame as placed (for __register_frame), 0/0 when absent */
	uintptr_t eh_frame;
	size_t eh_frame_size;
	/* the address ranges of the payload's own code (for stack checks) */
	uintptr_t text_start, text_end;
	/* every defined function, local ones too (for debuggers and profilers) */
	struct xs_symbol *code_syms;
	unsigned ncode_syms;
};

/*
 * Copy every SHF_ALLOC section into its area, resolve every symbol, apply
 * every relocation and parse the xsplice sections.  `regions` are indexed by
 * enum xs_area and must have at least the sizes xs_link_layout() gave (an
 * area of size 0 may be {NULL, 0, 0}); each addr must be page aligned.  On
 * failure nothing outside the regions was written and *out is empty.
 * Pointers in *out (funcs[].name, hooks, symbols[].addr) are run-time
 * addresses: read the names through them only once the areas are final.
 */
int xs_link_place(const struct xs_elf *elf, const struct xs_region regions[XS_AREA_COUNT],
		  const struct xs_host *host, struct xs_linked *out, struct xs_err *err);
void xs_linked_free(struct xs_linked *l);

/*
 * Structural check of a relocated .eh_frame (`sec`, `size` bytes, at run-time
 * address `addr`) before it is given to the process's unwinder: records
 * inside the section, FDEs pointing at well-formed CIEs, decodable address
 * encodings, and every FDE covering only [text_lo, text_hi).  xs_link_place
 * runs it; exported for tests.
 */
int xs_ehframe_check(const uint8_t *sec, size_t size, uintptr_t addr, uintptr_t text_lo,
		     uintptr_t text_hi, struct xs_err *err);

#endif /* XS_CORE_H */
