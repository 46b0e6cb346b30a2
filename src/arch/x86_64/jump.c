/*
 * x86-64 patch-site encoding: the 5-byte `jmp rel32` written at a function
 * entry (after endbr64 when the function starts with one, so that indirect
 * calls under CET/IBT still land on a valid target), and multi-byte NOPs.
 */
#include <errno.h>
#include <string.h>

#include "arch/arch.h"

static const uint8_t endbr64[XS_ARCH_ENDBR_SIZE] = {0xf3, 0x0f, 0x1e, 0xfa};

int xs_arch_has_endbr(const uint8_t *code)
{
	return memcmp(code, endbr64, sizeof(endbr64)) == 0;
}

size_t xs_arch_patch_offset(const uint8_t *code)
{
	return xs_arch_has_endbr(code) ? XS_ARCH_ENDBR_SIZE : 0;
}

int xs_arch_encode_jump(uintptr_t from, uintptr_t to, uint8_t buf[XS_ARCH_JUMP_SIZE])
{
	/* rel32 is relative to the end of the 5-byte instruction; compute in
	 * 64-bit two's complement so that wrap-around cannot hide a far target */
	int64_t rel = (int64_t)(to - (from + XS_ARCH_JUMP_SIZE));
	int32_t rel32;

	if (rel < INT32_MIN || rel > INT32_MAX)
		return -ERANGE;
	rel32 = (int32_t)rel;
	buf[0] = 0xe9;
	memcpy(buf + 1, &rel32, sizeof(rel32)); /* x86-64 is little endian */
	return 0;
}

/* The recommended multi-byte NOP forms (Intel SDM, "NOP"), 1 to 9 bytes. */
static const uint8_t nops[9][9] = {
    {0x90},
    {0x66, 0x90},
    {0x0f, 0x1f, 0x00},
    {0x0f, 0x1f, 0x40, 0x00},
    {0x0f, 0x1f, 0x44, 0x00, 0x00},
    {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},
    {0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00},
    {0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
    {0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
};

void xs_arch_fill_nops(uint8_t *buf, size_t len)
{
	while (len > 0) {
		size_t n = len > 9 ? 9 : len;

		memcpy(buf, nops[n - 1], n);
		buf += n;
		len -= n;
	}
}
