/*
 * Unit tests for the agent's own Ed25519 verifier and SHA-512
 * (src/common/ed25519.c): the FIPS 180-4 and RFC 8032 test vectors, and
 * signatures made by libsodium over random keys and messages, each then
 * damaged one bit at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/ed25519.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(h), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void sha_hex(const char *msg, size_t len, size_t reps, const char *want)
{
	struct xs_sha512 c;
	uint8_t got[64], exp[64];
	xs_sha512_init(&c);
	for (size_t i = 0; i < reps; i++)
		xs_sha512_update(&c, msg, len);
	xs_sha512_final(&c, got);
	unhex(want, exp, 64);
	assert_memory_equal(got, exp, 64);
}

static void sha512_vectors(void **state)
{
	(void)state;
	sha_hex("abc", 3, 1,
	        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	sha_hex("", 0, 1,
	        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
	sha_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
	        "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	        112, 1,
	        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
	        "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
	sha_hex("a", 1, 1000000,
	        "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
	        "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
	/* every length around the padding boundary agrees with libsodium */
	uint8_t buf[300], a[64], b[64];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	for (size_t n = 0; n <= sizeof(buf); n++) {
		struct xs_sha512 c;
		xs_sha512_init(&c);
		xs_sha512_update(&c, buf, n / 3);
		xs_sha512_update(&c, buf + n / 3, n - n / 3);
		xs_sha512_final(&c, a);
		crypto_hash_sha512(b, buf, n);
		assert_memory_equal(a, b, 64);
	}
}

/* RFC 8032, 7.1, tests 1-3 and SHA(abc) */
static const struct {
	const char *pk, *msg, *sig;
} rfc[] = {
    {"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
     "9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f"
     "11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984"
     "dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

static void rfc8032_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		uint8_t pk[32], sig[64], msg[16];
		size_t n = strlen(rfc[i].msg) / 2;
		unhex(rfc[i].pk, pk, 32);
		unhex(rfc[i].sig, sig, 64);
		unhex(rfc[i].msg, msg, n);
		assert_int_equal(xs_ed25519_verify(sig, pk, msg, n), 0);
		sig[5] ^= 1;
		assert_int_equal(xs_ed25519_verify(sig, pk, msg, n), -1);
	}
}

static void libsodium_signatures(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	uint8_t pk[32], sk[64], other_pk[32], other_sk[64], sig[64], msg[1000];
	for (int round = 0; round < 24; round++) {
		crypto_sign_keypair(pk, sk);
		crypto_sign_keypair(other_pk, other_sk);
		size_t n = randombytes_uniform(sizeof(msg));
		randombytes_buf(msg, n);
		crypto_sign_detached(sig, NULL, msg, n, sk);
		assert_int_equal(xs_ed25519_verify(sig, pk, msg, n), 0);
		/* in parts */
		const void *parts[2] = {msg, msg + n / 2};
		size_t lens[2] = {n / 2, n - n / 2};
		assert_int_equal(xs_ed25519_verify_parts(sig, pk, parts, lens, 2), 0);
		/* another key */
		assert_int_equal(xs_ed25519_verify(sig, other_pk, msg, n), -1);
		/* one bit anywhere in the signature */
		unsigned bit = randombytes_uniform(512);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(xs_ed25519_verify(sig, pk, msg, n), -1);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		/* one bit of the message */
		if (n) {
			unsigned mb = randombytes_uniform((uint32_t)(8 * n));
			msg[mb / 8] ^= (uint8_t)(1u << (mb % 8));
			assert_int_equal(xs_ed25519_verify(sig, pk, msg, n), -1);
			msg[mb / 8] ^= (uint8_t)(1u << (mb % 8));
		}
		/* one byte more */
		assert_int_equal(xs_ed25519_verify(sig, pk, msg, n + 1), -1);
		assert_int_equal(xs_ed25519_verify(sig, pk, msg, n), 0);
	}
}

static void non_canonical_refused(void **state)
{
	(void)state;
	uint8_t pk[32], sk[64], sig[64], msg[8] = "xsplice";
	crypto_sign_keypair(pk, sk);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	/* S + L is the same scalar but not canonical */
	static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,       0xd6,
	                              0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, [31] = 0x10};
	unsigned c = 0;
	for (int i = 0; i < 32; i++) {
		c += sig[32 + i] + L[i];
		sig[32 + i] = (uint8_t)c;
		c >>= 8;
	}
	assert_int_equal(xs_ed25519_verify(sig, pk, msg, sizeof(msg)), -1);
	/* a public key that is not a point: y = p (non-canonical zero) */
	uint8_t bad[32];
	memset(bad, 0xff, sizeof(bad));
	bad[0] = 0xed;
	bad[31] = 0x7f;
	assert_int_equal(xs_ed25519_verify(sig, bad, msg, sizeof(msg)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sha512_vectors),
	    cmocka_unit_test(rfc8032_vectors),
	    cmocka_unit_test(libsodium_signatures),
	    cmocka_unit_test(non_canonical_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
