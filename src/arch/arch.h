/*
 * Architecture hooks: relocation arithmetic (used by the core linker) and
 * jump / NOP encoding (used by the agent to switch functions).  One .c per
 * concern under src/arch/<isa>/; x86-64 first.
 *
 * The relocation part follows musl's split: the ISA maps each of its
 * relocation types onto a small generic kind (enum xs_reloc_kind) with a
 * field width and a name; the core asks what a type needs (a GOT slot, maybe
 * a call stub) and lets xs_arch_reloc_apply() compute and write the field.
 */
#ifndef XS_ARCH_H
#define XS_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* The ELF e_machine a payload for this ISA carries. */
#define XS_ARCH_ELF_MACHINE 62 /* EM_X86_64 */
#define XS_ARCH_NAME "x86-64"

/* ---- patching ------------------------------------------------------------ */

#define XS_ARCH_JUMP_SIZE 5  /* jmp rel32 */
#define XS_ARCH_ENDBR_SIZE 4 /* endbr64, kept in place when present */
#define XS_ARCH_JUMP_RANGE (1ll << 31)

/* 1 when `code` (at least 4 readable bytes) starts with endbr64 */
int xs_arch_has_endbr(const uint8_t *code);
/* bytes to skip before the jump at a function entry: 4 after endbr64, else 0 */
size_t xs_arch_patch_offset(const uint8_t *code);
/* Encode `jmp to` placed at address `from` into buf[XS_ARCH_JUMP_SIZE].
 * -ERANGE when `to` is out of rel32 reach. */
int xs_arch_encode_jump(uintptr_t from, uintptr_t to, uint8_t buf[XS_ARCH_JUMP_SIZE]);
/* Fill buf with `len` bytes of NOP instructions (multi-byte NOPs, longest
 * first, so that as few instructions as possible cover the range). */
void xs_arch_fill_nops(uint8_t *buf, size_t len);

/* ---- relocations --------------------------------------------------------- */

/* The ELF type of the one relocation the xsplice tables use for pointers. */
#define XS_ARCH_RELOC_ABS64 1 /* R_X86_64_64 */

/* What a relocation type needs from the linker besides the symbol value. */
enum {
	XS_RELOC_NEEDS_GOT = 1u << 0, /* a GOT slot holding S */
	XS_RELOC_MAY_STUB = 1u << 1,  /* a call/jump: may go through a stub if S is far */
	XS_RELOC_TLS = 1u << 2,       /* S is a thread-pointer offset (tpoff), not an address */
	XS_RELOC_TLS_GD = 1u << 3,    /* general-dynamic: relaxed (xs_arch_tls_gd_*) */
	XS_RELOC_KNOWN = 1u << 31,    /* the type is supported */
};

/* 0 for an unsupported type, else XS_RELOC_* bits (XS_RELOC_KNOWN always) */
unsigned xs_arch_reloc_info(uint32_t type);
/* width in bytes of the field the relocation writes (0 for NONE / unknown) */
size_t xs_arch_reloc_width(uint32_t type);
/* "R_X86_64_PC32"; "unknown" for a type this ISA does not name */
const char *xs_arch_reloc_name(uint32_t type);

/* Generic relocation arithmetic, shared by every ISA (musl-style). */
enum xs_reloc_kind {
	XS_RK_NONE,    /* nothing written */
	XS_RK_ABS64,   /* S + A, 64 bits */
	XS_RK_ABS32U,  /* S + A, must fit unsigned 32 bits */
	XS_RK_ABS32S,  /* S + A, must fit signed 32 bits */
	XS_RK_PC32,    /* S + A - P, signed 32 bits */
	XS_RK_PC64,    /* S + A - P, 64 bits */
	XS_RK_GOTPC32, /* G + A - P, signed 32 bits (G: address of S's GOT slot) */
};

/* The inputs of one relocation, named as in the ELF psABI. */
struct xs_reloc_args {
	uint32_t type; /* the ISA's ELF relocation type */
	uint64_t S;    /* symbol value (or the stub's address for a far call) */
	int64_t A;     /* addend */
	uint64_t P;    /* run-time address of the field */
	uint64_t G;    /* run-time address of the GOT slot holding S (XS_RELOC_NEEDS_GOT) */
};

/*
 * Compute the value and write it, little endian, into `field`
 * (xs_arch_reloc_width(type) bytes, any alignment).  0, -ERANGE when the
 * value does not fit the field (nothing written), -ENOTSUP for an unknown
 * type.  *value receives the computed value either way (for messages).
 */
int xs_arch_reloc_apply(const struct xs_reloc_args *r, uint8_t *field, int64_t *value);

/*
 * 1 when the relocation at `off` in `sec` (sec_size bytes) is the operand
 * of a direct call or jump, so that redirecting it to a stub is correct.
 * PLT32 always is; PC32 is when the preceding opcode is call/jmp rel32.
 */
int xs_arch_reloc_is_branch(uint32_t type, const uint8_t *sec, size_t sec_size, uint64_t off);

/*
 * General-dynamic TLS access (the ISA's TLSGD relocation) relaxed to
 * local-exec, for the target's TLS variables, whose thread-pointer offset
 * the linker knows.  xs_arch_tls_gd_ok: 1 when the relocation at `off`
 * (addend `addend`) sits in the exact sequence the psABI defines.
 * xs_arch_tls_gd_is_call: 1 when the relocation (type, off) is that
 * sequence's call to __tls_get_addr, given the previous relocation of the
 * section; the linker skips it.  xs_arch_tls_gd_relax rewrites the sequence
 * around `field` with offset `tpoff`; -ERANGE when it does not fit.
 */
int xs_arch_tls_gd_ok(const uint8_t *sec, size_t sec_size, uint64_t off, int64_t addend);
int xs_arch_tls_gd_is_call(uint32_t prev_type, uint64_t prev_off, uint32_t type, uint64_t off);
int xs_arch_tls_gd_relax(uint8_t *field, uintptr_t tpoff, int64_t *value);

/*
 * Call stub for a far target: `jmp *slot(%rip)` followed by the 8-byte
 * slot, XS_ARCH_STUB_SIZE bytes, XS_ARCH_STUB_ALIGN aligned.  The stub is
 * position independent: writing it needs only the target.
 */
#define XS_ARCH_STUB_SIZE 16
#define XS_ARCH_STUB_ALIGN 16
void xs_arch_write_stub(uint8_t *stub, uintptr_t target);
/* the target a stub written by xs_arch_write_stub jumps to (for tests/dumps) */
uintptr_t xs_arch_stub_target(const uint8_t *stub);

/* Padding for executable areas (int3: a stray jump traps at once). */
#define XS_ARCH_CODE_FILL 0xcc

#endif /* XS_ARCH_H */
