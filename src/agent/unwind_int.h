/*
 * Internals of the unwinder (unwind.c, unwind_cfa.c): bounded readers,
 * pointer encodings, CIE/FDE parsing and the CFA program.
 *
 * Everything here runs inside the quiesce window: no allocation, no libc
 * beyond memcpy/memset, and every byte read is checked against bounds
 * given by the caller first.  A malformed entry returns an error; it never
 * reads outside its bounds.
 */
#ifndef XS_AGENT_UNWIND_INT_H
#define XS_AGENT_UNWIND_INT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/unwind.h"

/* DW_EH_PE_* pointer encodings (LSB, .eh_frame) */
enum {
	PE_ABSPTR = 0x00,
	PE_ULEB = 0x01,
	PE_UDATA2 = 0x02,
	PE_UDATA4 = 0x03,
	PE_UDATA8 = 0x04,
	PE_SIGNED = 0x08,
	PE_SLEB = 0x09,
	PE_SDATA2 = 0x0a,
	PE_SDATA4 = 0x0b,
	PE_SDATA8 = 0x0c,
	PE_PCREL = 0x10,
	PE_TEXTREL = 0x20,
	PE_DATAREL = 0x30,
	PE_FUNCREL = 0x40,
	PE_ALIGNED = 0x50,
	PE_INDIRECT = 0x80,
	PE_OMIT = 0xff,
};

/* A cursor over [p, end): reads past end set `bad` and return 0. */
struct uw_rd {
	uintptr_t p, end;
	int bad;
};

uint8_t uw_u8(struct uw_rd *r);
uint16_t uw_u16(struct uw_rd *r);
uint32_t uw_u32(struct uw_rd *r);
uint64_t uw_u64(struct uw_rd *r);
uint64_t uw_uleb(struct uw_rd *r);
int64_t uw_sleb(struct uw_rd *r);
/* An encoded pointer; `datarel` is the base for DW_EH_PE_datarel (0: not
 * allowed).  With `no_indirect` clear, an indirect pointer is returned as
 * the address it is stored at (callers only skip those). */
uintptr_t uw_enc(struct uw_rd *r, uint8_t enc, uintptr_t datarel);
/* Size in bytes of a fixed-size encoding, 0 for variable or invalid. */
unsigned uw_enc_size(uint8_t enc);

struct uw_cie {
	uintptr_t insns, insns_end; /* initial instructions */
	uint64_t caf;               /* code alignment factor */
	int64_t daf;                /* data alignment factor */
	uint8_t fde_enc, lsda_enc;
	uint8_t has_z, signal; /* augmentation 'z', 'S' */
};

struct uw_fde {
	struct uw_cie cie;
	uintptr_t start, end; /* [start, end) of code covered */
	uintptr_t insns, insns_end;
};

/* The FDE at `at` (and its CIE), both inside [lo, hi).  0 or -1. */
int uw_parse_fde(uintptr_t at, uintptr_t lo, uintptr_t hi, struct uw_fde *out);
/* The length of the entry (CIE or FDE) at `at`: the address of the next
 * entry in *next, 1 for a CIE, 0 for an FDE, -1 malformed, 2 terminator. */
int uw_entry(uintptr_t at, uintptr_t lo, uintptr_t hi, uintptr_t *next);

/* How a register (or the CFA) is recovered. */
enum uw_how {
	UW_UNSPEC,  /* no rule: same value for callee-saved, else unknown */
	UW_UNDEF,   /* DW_CFA_undefined */
	UW_SAME,    /* DW_CFA_same_value */
	UW_OFFSET,  /* saved at CFA + off */
	UW_VALOFF,  /* value is CFA + off */
	UW_REG,     /* in register `reg` */
	UW_EXPR,    /* saved at the address the expression computes */
	UW_VALEXPR, /* the value the expression computes */
	UW_BAD,     /* a rule we cannot follow (e.g. another register file) */
};

struct uw_rule {
	uint8_t how;
	uint8_t reg;
	int64_t off;
	uintptr_t expr, expr_end;
};

struct uw_row {
	/* CFA: reg + off, or an expression */
	uint8_t cfa_expr;
	uint8_t cfa_reg;
	int64_t cfa_off;
	uintptr_t expr, expr_end;
	struct uw_rule r[XS_UW_NREGS];
};

/* The row that applies at `pc` in the FDE (its CIE's initial instructions,
 * then the FDE's instructions up to pc).  0 or -1 (malformed, unsupported
 * instruction, remember-state overflow, instructions out of [lo, hi)). */
int uw_row_at(const struct uw_fde *f, uintptr_t pc, uintptr_t lo, uintptr_t hi, struct uw_row *row);

/* Memory a DWARF expression may dereference. */
struct uw_mem {
	uintptr_t lo, hi;
};

/* Evaluate a DWARF expression on the registers `reg` (valid bits in
 * `valid`), with `push` pushed first when `has_push`.  0 or -1. */
int uw_eval(uintptr_t expr, uintptr_t end, const uintptr_t *reg, uint32_t valid,
            const struct uw_mem *mem, int has_push, uintptr_t push, uintptr_t *out);

/* A word of memory, when [addr, addr + 8) lies in m. */
int uw_read_word(const struct uw_mem *m, uintptr_t addr, uintptr_t *out);

#endif
