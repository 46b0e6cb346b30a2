/*
 * xsplice payload format, version 1 — the ABI between xsplice-pack (and
 * xsplice-build) and the agent that links a payload inside a process.
 *
 * A payload is an ELF64 relocatable object (ET_REL, little endian,
 * EM_X86_64 first) with a handful of specially named sections.  Every
 * structure below is laid out exactly as written, without implicit padding;
 * the static assertions at the end pin the sizes and offsets.  The prose
 * version, byte by byte, is docs/payload-format.md.
 *
 * Pointers inside these structures (name, new_addr, old_addr, hook
 * entries) are 64-bit slots filled by R_X86_64_64 relocations, exactly as a
 * C compiler emits them for a static initializer such as
 * `{ .name = "f", .new_addr = f_new }`.
 */
#ifndef XSPLICE_PAYLOAD_H
#define XSPLICE_PAYLOAD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- section names ---------------------------------------------------- */

/* array of struct xsplice_func, SHF_ALLOC, entsize 80 */
#define XSPLICE_SEC_FUNCS ".xsplice.funcs"
/* GNU note (type NT_GNU_BUILD_ID): build-id of the ELF the payload patches */
#define XSPLICE_SEC_TARGET ".xsplice.target"
/* GNU note (type NT_GNU_BUILD_ID): build-id the payload must sit on */
#define XSPLICE_SEC_DEPENDS ".xsplice.depends"
/* GNU note (type NT_GNU_BUILD_ID): the payload's own build-id */
#define XSPLICE_SEC_BUILD_ID ".note.gnu.build-id"
/* array of struct xsplice_symref: target symbols resolved at pack time */
#define XSPLICE_SEC_SYMREFS ".xsplice.symrefs"
/* key=value\0 strings */
#define XSPLICE_SEC_MODINFO ".modinfo"
/* symbol-name hints written by the SDK, consumed (and removed) by xsplice-pack */
#define XSPLICE_SEC_SYMHINTS ".xsplice.symhints"
/* per-thread action: array of void (*)(void), run on every thread in the window */
#define XSPLICE_SEC_PERTHREAD ".xsplice.perthread"

/* hook arrays, each an array of 64-bit function pointers */
#define XSPLICE_SEC_HOOK_LOAD ".xsplice.hooks.load"
#define XSPLICE_SEC_HOOK_UNLOAD ".xsplice.hooks.unload"
#define XSPLICE_SEC_HOOK_PREAPPLY ".xsplice.hooks.preapply"
#define XSPLICE_SEC_HOOK_POSTAPPLY ".xsplice.hooks.postapply"
#define XSPLICE_SEC_HOOK_PREREVERT ".xsplice.hooks.prerevert"
#define XSPLICE_SEC_HOOK_POSTREVERT ".xsplice.hooks.postrevert"
#define XSPLICE_SEC_HOOK_APPLY ".xsplice.hooks.apply"
#define XSPLICE_SEC_HOOK_REVERT ".xsplice.hooks.revert"

/* ---- notes ----------------------------------------------------------------
 * .xsplice.target, .xsplice.depends and .note.gnu.build-id each hold one ELF
 * note: namesz=4, descsz=N (1..64), type=3 (NT_GNU_BUILD_ID), name "GNU\0",
 * then the N build-id bytes, padded to 4.  An all-zero-length descriptor is
 * invalid.  .xsplice.depends is optional: without it the payload depends on
 * the target itself.
 */
#define XSPLICE_NOTE_TYPE 3
#define XSPLICE_BUILD_ID_MAX 64

/* ---- the function table --------------------------------------------------- */

#define XSPLICE_FUNC_VERSION 1
#define XSPLICE_EXPECT_MAX 31
#define XSPLICE_NAME_MAX 128 /* including the terminating NUL */

/* xsplice_func.flags */
enum {
	/* old_addr is inside a function, not its entry (inline patch);
	 * requires an expectation */
	XSPLICE_FUNC_INLINE = 1u << 0,
	/* old_size includes alignment padding proven free by xsplice-pack */
	XSPLICE_FUNC_PADDED = 1u << 1,
};
#define XSPLICE_FUNC_FLAGS_KNOWN (XSPLICE_FUNC_INLINE | XSPLICE_FUNC_PADDED)

struct xsplice_expect {
	uint8_t enabled; /* 0 or 1 */
	uint8_t len;     /* 1..31 when enabled, 0 otherwise */
	uint8_t data[XSPLICE_EXPECT_MAX];
	uint8_t reserved; /* must be 0 */
};

/*
 * One replaced function (or one NOP / inline patch site).
 *
 *   offset size field
 *        0    8 name       -> NUL-terminated, < 128 bytes, in an ALLOC section
 *        8    8 new_addr   -> replacement code; 0 for a NOP patch
 *       16    8 old_addr   -> patch site in the target
 *       24    4 new_size   bytes of the replacement (NOP patch: bytes to NOP)
 *       28    4 old_size   bytes at old_addr that belong to the old code
 *       32    1 version    XSPLICE_FUNC_VERSION
 *       33    1 flags      XSPLICE_FUNC_*
 *       34    2 reserved   must be 0
 *       36   34 expect     struct xsplice_expect
 *       70   10 reserved   must be 0
 *   total 80
 */
struct xsplice_func {
	uint64_t name;
	uint64_t new_addr;
	uint64_t old_addr;
	uint32_t new_size;
	uint32_t old_size;
	uint8_t version;
	uint8_t flags;
	uint8_t reserved0[2];
	struct xsplice_expect expect;
	uint8_t reserved1[10];
};

/* ---- target symbol references ---------------------------------------------
 * Each entry says: the undefined symbol at index `symidx` of the payload's
 * .symtab is the target module's load base plus `offset`.  xsplice-pack
 * writes these from the target's (unstripped or debug) symbol table, so the
 * runtime never needs the target's symbols.
 *
 *   offset size field
 *        0    4 symidx   index into .symtab, must name an SHN_UNDEF symbol
 *        4    4 flags    0, or XSPLICE_SYMREF_TLS
 *        8    8 offset   the symbol's st_value in the target ELF; at run
 *                        time the address is the module's load bias
 *                        (dl_iterate_phdr's dlpi_addr) plus offset
 *   total 16
 *
 * XSPLICE_SYMREF_TLS: the symbol is one of the target module's thread-local
 * variables (STT_TLS) and `offset` is its offset in the module's TLS
 * template (PT_TLS).  Its value is then not an address but the variable's
 * offset from the thread pointer (tpoff): the module's static TLS block
 * offset, the same in every thread, plus `offset`.  Only TLS relocations
 * (R_X86_64_TPOFF32, R_X86_64_GOTTPOFF, and R_X86_64_TLSGD relaxed in place
 * to the local-exec form) may use such a symbol, and no TLS relocation may
 * use any other symbol.
 */
#define XSPLICE_SYMREF_TLS 1u
#define XSPLICE_SYMREF_FLAGS_KNOWN XSPLICE_SYMREF_TLS
struct xsplice_symref {
	uint32_t symidx;
	uint32_t flags;
	uint64_t offset;
};

/* ---- limits the verifier enforces ----------------------------------------- */
#define XSPLICE_MAX_PAYLOAD_SIZE (64u << 20) /* bytes of the ELF file */
#define XSPLICE_MAX_SECTIONS 16384u
#define XSPLICE_MAX_ALLOC_SIZE (256u << 20) /* sum of SHF_ALLOC sizes (incl. NOBITS) */
#define XSPLICE_MAX_FUNCS 65536u
#define XSPLICE_MAX_HOOKS 64u /* entries per hook section */
#define XSPLICE_MAX_MODINFO 65536u

#ifndef __cplusplus
_Static_assert(sizeof(struct xsplice_expect) == 34, "expect ABI");
_Static_assert(sizeof(struct xsplice_func) == 80, "func ABI");
_Static_assert(__builtin_offsetof(struct xsplice_func, expect) == 36, "func ABI");
_Static_assert(sizeof(struct xsplice_symref) == 16, "symref ABI");
#endif

#ifdef __cplusplus
}
#endif
#endif /* XSPLICE_PAYLOAD_H */
