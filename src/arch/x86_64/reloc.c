/*
 * x86-64 relocations: the table that maps each supported R_X86_64_* type
 * onto a generic kind (arch.h), and the call stub.  The arithmetic itself
 * is generic and lives in src/arch/reloc.c.
 */
#include <elf.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/reloc_table.h"

#define R(t, kind, width, flags) [t] = {#t, kind, width, (flags) | XS_RELOC_KNOWN}

/* GOTPCRELX / REX_GOTPCRELX are treated as plain GOTPCREL: the GOT slot is
 * always there, so the instruction is correct without relaxation. */
const struct xs_reloc_desc xs_reloc_table[] = {
    R(R_X86_64_NONE, XS_RK_NONE, 0, 0),
    R(R_X86_64_64, XS_RK_ABS64, 8, 0),
    R(R_X86_64_PC32, XS_RK_PC32, 4, XS_RELOC_MAY_STUB),
    R(R_X86_64_PLT32, XS_RK_PC32, 4, XS_RELOC_MAY_STUB),
    R(R_X86_64_32, XS_RK_ABS32U, 4, 0),
    R(R_X86_64_32S, XS_RK_ABS32S, 4, 0),
    R(R_X86_64_PC64, XS_RK_PC64, 8, 0),
    R(R_X86_64_GOTPCREL, XS_RK_GOTPC32, 4, XS_RELOC_NEEDS_GOT),
    R(R_X86_64_GOTPCRELX, XS_RK_GOTPC32, 4, XS_RELOC_NEEDS_GOT),
    R(R_X86_64_REX_GOTPCRELX, XS_RK_GOTPC32, 4, XS_RELOC_NEEDS_GOT),
    /* thread-local: S is the variable's offset from %fs:0 (local-exec), or
     * the GOT slot holds it (initial-exec) */
    R(R_X86_64_TPOFF32, XS_RK_ABS32S, 4, XS_RELOC_TLS),
    R(R_X86_64_GOTTPOFF, XS_RK_GOTPC32, 4, XS_RELOC_NEEDS_GOT | XS_RELOC_TLS),
    /* general-dynamic, relaxed to local-exec (tls.c) */
    R(R_X86_64_TLSGD, XS_RK_NONE, 4, XS_RELOC_TLS | XS_RELOC_TLS_GD),
};
const size_t xs_reloc_table_len = sizeof(xs_reloc_table) / sizeof(xs_reloc_table[0]);

/* Names of the types we refuse, so that the error says what was found. */
static const char *const unsupported_names[] = {
    [R_X86_64_GOT32] = "R_X86_64_GOT32",
    [R_X86_64_COPY] = "R_X86_64_COPY",
    [R_X86_64_GLOB_DAT] = "R_X86_64_GLOB_DAT",
    [R_X86_64_JUMP_SLOT] = "R_X86_64_JUMP_SLOT",
    [R_X86_64_RELATIVE] = "R_X86_64_RELATIVE",
    [R_X86_64_16] = "R_X86_64_16",
    [R_X86_64_PC16] = "R_X86_64_PC16",
    [R_X86_64_8] = "R_X86_64_8",
    [R_X86_64_PC8] = "R_X86_64_PC8",
    [R_X86_64_DTPMOD64] = "R_X86_64_DTPMOD64",
    [R_X86_64_DTPOFF64] = "R_X86_64_DTPOFF64",
    [R_X86_64_TPOFF64] = "R_X86_64_TPOFF64",
    [R_X86_64_TLSLD] = "R_X86_64_TLSLD",
    [R_X86_64_DTPOFF32] = "R_X86_64_DTPOFF32",
    [R_X86_64_GOTOFF64] = "R_X86_64_GOTOFF64",
    [R_X86_64_GOTPC32] = "R_X86_64_GOTPC32",
    [R_X86_64_GOT64] = "R_X86_64_GOT64",
    [R_X86_64_GOTPCREL64] = "R_X86_64_GOTPCREL64",
    [R_X86_64_GOTPC64] = "R_X86_64_GOTPC64",
    [R_X86_64_GOTPLT64] = "R_X86_64_GOTPLT64",
    [R_X86_64_PLTOFF64] = "R_X86_64_PLTOFF64",
    [R_X86_64_SIZE32] = "R_X86_64_SIZE32",
    [R_X86_64_SIZE64] = "R_X86_64_SIZE64",
    [R_X86_64_GOTPC32_TLSDESC] = "R_X86_64_GOTPC32_TLSDESC",
    [R_X86_64_TLSDESC_CALL] = "R_X86_64_TLSDESC_CALL",
    [R_X86_64_TLSDESC] = "R_X86_64_TLSDESC",
    [R_X86_64_IRELATIVE] = "R_X86_64_IRELATIVE",
    [R_X86_64_RELATIVE64] = "R_X86_64_RELATIVE64",
};

const char *xs_arch_reloc_name(uint32_t type)
{
	const struct xs_reloc_desc *d = xs_reloc_desc(type);

	if (d)
		return d->name;
	if (type < sizeof(unsupported_names) / sizeof(unsupported_names[0]) &&
	    unsupported_names[type])
		return unsupported_names[type];
	return "unknown";
}

int xs_arch_reloc_is_branch(uint32_t type, const uint8_t *sec, size_t sec_size, uint64_t off)
{
	if (type == R_X86_64_PLT32)
		return 1;
	if (type != R_X86_64_PC32 || off < 1 || off > sec_size)
		return 0;
	/* e8 = call rel32, e9 = jmp rel32; the field follows the opcode */
	return sec[off - 1] == 0xe8 || sec[off - 1] == 0xe9;
}

/* ff 25 02 00 00 00   jmp *2(%rip)   -> the slot at +8
 * cc cc               int3 padding
 * <8 bytes>           the target */
void xs_arch_write_stub(uint8_t *stub, uintptr_t target)
{
	static const uint8_t insn[8] = {0xff, 0x25, 0x02, 0x00, 0x00, 0x00, 0xcc, 0xcc};
	uint64_t t = target;

	memcpy(stub, insn, sizeof(insn));
	memcpy(stub + 8, &t, sizeof(t));
}

uintptr_t xs_arch_stub_target(const uint8_t *stub)
{
	uint64_t t;

	memcpy(&t, stub + 8, sizeof(t));
	return (uintptr_t)t;
}
