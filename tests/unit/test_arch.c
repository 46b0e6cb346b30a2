/*
 * x86-64 patch encoding: jmp rel32 (both directions, exact reach limits),
 * endbr64 detection, multi-byte NOP fill (decoded back instruction by
 * instruction), and the call stub.
 */
#include <errno.h>
#include <string.h>

#include "arch/arch.h"
#include "ut.h"

static int32_t rel_of(const uint8_t b[5])
{
	int32_t r;

	memcpy(&r, b + 1, 4);
	return r;
}

static void jump_forward_and_back(void **state)
{
	uint8_t b[XS_ARCH_JUMP_SIZE];

	(void)state;
	assert_int_equal(xs_arch_encode_jump(0x401000, 0x402000, b), 0);
	assert_int_equal(b[0], 0xe9);
	assert_int_equal(rel_of(b), 0x1000 - 5);
	assert_int_equal(xs_arch_encode_jump(0x7f0000002000, 0x7f0000001000, b), 0);
	assert_int_equal(rel_of(b), -0x1000 - 5);
	assert_int_equal(xs_arch_encode_jump(0x1000, 0x1005, b), 0);
	assert_int_equal(rel_of(b), 0);
}

static void jump_reach_limits(void **state)
{
	uintptr_t from = 0x100000000;
	uint8_t b[XS_ARCH_JUMP_SIZE] = {0};

	(void)state;
	assert_int_equal(xs_arch_encode_jump(from, from + 5 + INT32_MAX, b), 0);
	assert_int_equal(rel_of(b), INT32_MAX);
	assert_int_equal(xs_arch_encode_jump(from, from + 5 + (uintptr_t)INT32_MAX + 1, b),
	                 -ERANGE);
	assert_int_equal(xs_arch_encode_jump(from, from + 5 - 0x80000000ull, b), 0);
	assert_int_equal(rel_of(b), INT32_MIN);
	memset(b, 0x5a, sizeof(b));
	assert_int_equal(xs_arch_encode_jump(from, from + 5 - 0x80000001ull, b), -ERANGE);
	assert_int_equal(b[0], 0x5a); /* nothing written */
	assert_int_equal(xs_arch_encode_jump(0x1000, 0x7f0000000000, b), -ERANGE);
}

static void endbr(void **state)
{
	static const uint8_t with[] = {0xf3, 0x0f, 0x1e, 0xfa, 0x55};
	static const uint8_t without[] = {0x55, 0x48, 0x89, 0xe5, 0x90};
	static const uint8_t endbr32[] = {0xf3, 0x0f, 0x1e, 0xfb, 0x55};

	(void)state;
	assert_true(xs_arch_has_endbr(with));
	assert_int_equal(xs_arch_patch_offset(with), 4);
	assert_false(xs_arch_has_endbr(without));
	assert_int_equal(xs_arch_patch_offset(without), 0);
	assert_false(xs_arch_has_endbr(endbr32));
}

/* length of the NOP instruction at p, 0 when it is not one we emit */
static size_t nop_len(const uint8_t *p, size_t left)
{
	static const uint8_t forms[9][9] = {
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

	for (size_t n = 9; n >= 1; n--)
		if (n <= left && !memcmp(p, forms[n - 1], n))
			return n;
	return 0;
}

static void nops_decode(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (size_t len = 0; len <= 40; len++) {
		size_t at = 0, insns = 0;

		memset(buf, 0xcc, sizeof(buf));
		xs_arch_fill_nops(buf, len);
		while (at < len) {
			size_t n = nop_len(buf + at, len - at);

			assert_true(n > 0);
			at += n;
			insns++;
		}
		assert_int_equal(at, len);
		assert_int_equal(insns, (len + 8) / 9); /* longest first */
		assert_int_equal(buf[len], 0xcc);       /* nothing past the end */
	}
}

static void stub_encoding(void **state)
{
	uint8_t s[XS_ARCH_STUB_SIZE + 1];

	(void)state;
	s[XS_ARCH_STUB_SIZE] = 0x77;
	xs_arch_write_stub(s, 0x7f1234567890);
	/* jmp *2(%rip): the slot 8 bytes from the start */
	assert_memory_equal(s, "\xff\x25\x02\x00\x00\x00", 6);
	assert_int_equal(xs_arch_stub_target(s), 0x7f1234567890);
	assert_int_equal(s[XS_ARCH_STUB_SIZE], 0x77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(jump_forward_and_back),
	    cmocka_unit_test(jump_reach_limits),
	    cmocka_unit_test(endbr),
	    cmocka_unit_test(nops_decode),
	    cmocka_unit_test(stub_encoding),
	};

	return cmocka_run_group_tests_name("arch: x86-64 encoding", tests, NULL, NULL);
}
