/*
 * x86-64 general-dynamic TLS access relaxed in place to local-exec.
 *
 * Payload code compiled -fPIC reaches an extern __thread variable with the
 * psABI's general-dynamic sequence (16 bytes; R_X86_64_TLSGD on the lea's
 * displacement, then R_X86_64_PLT32 or R_X86_64_PC32 against __tls_get_addr
 * on the call's):
 *
 *   66 48 8d 3d <4>     data16 lea x@tlsgd(%rip), %rdi
 *   66 66 48 e8 <4>     data16 data16 rex64 call __tls_get_addr
 *
 * The payload only reaches variables of a static TLS block, whose offset
 * from the thread pointer is known at link time, so the linker rewrites the
 * sequence into the local-exec form of the same length, as ld does:
 *
 *   64 48 8b 04 25 00 00 00 00   mov %fs:0, %rax
 *   48 8d 80 <4>                 lea x@tpoff(%rax), %rax
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "arch/arch.h"

#define GD_BEFORE 4 /* bytes of the sequence before the TLSGD field */
#define GD_LEN 16

static const uint8_t gd_lea[4] = {0x66, 0x48, 0x8d, 0x3d};
static const uint8_t gd_call[4] = {0x66, 0x66, 0x48, 0xe8};
static const uint8_t le_seq[12] = {0x64, 0x48, 0x8b, 0x04, 0x25, 0x00,
                                   0x00, 0x00, 0x00, 0x48, 0x8d, 0x80};

int xs_arch_tls_gd_ok(const uint8_t *sec, size_t sec_size, uint64_t off, int64_t addend)
{
	if (off < GD_BEFORE || off > sec_size || sec_size - (off - GD_BEFORE) < GD_LEN ||
	    addend != -4)
		return 0;
	return !memcmp(sec + off - GD_BEFORE, gd_lea, 4) && !memcmp(sec + off + 4, gd_call, 4);
}

int xs_arch_tls_gd_is_call(uint32_t prev_type, uint64_t prev_off, uint32_t type, uint64_t off)
{
	return prev_type == R_X86_64_TLSGD && off == prev_off + 8 &&
	       (type == R_X86_64_PLT32 || type == R_X86_64_PC32);
}

int xs_arch_tls_gd_relax(uint8_t *field, uintptr_t tpoff, int64_t *value)
{
	int64_t v = (int64_t)tpoff;
	uint32_t le32 = (uint32_t)v;
	uint8_t *seq = field - GD_BEFORE;

	*value = v;
	if (v < INT32_MIN || v > INT32_MAX)
		return -ERANGE;
	memcpy(seq, le_seq, sizeof(le_seq));
	for (int i = 0; i < 4; i++)
		seq[12 + i] = (uint8_t)(le32 >> (8 * i));
	return 0;
}
