/*
 * Ed25519 signature verification (RFC 8032, pure Ed25519) and SHA-512
 * (FIPS 180-4), small and self-contained: the agent checks payload
 * signatures with it without linking anything but libc.  Verification
 * only (public data, so nothing here is constant-time); signing is done by
 * the tools with libsodium.
 */
#ifndef XS_COMMON_ED25519_H
#define XS_COMMON_ED25519_H

#include <stddef.h>
#include <stdint.h>

struct xs_sha512 {
	uint64_t h[8];
	uint8_t buf[128];
	size_t fill;
	uint64_t total; /* bytes hashed */
};

void xs_sha512_init(struct xs_sha512 *c);
void xs_sha512_update(struct xs_sha512 *c, const void *data, size_t len);
void xs_sha512_final(struct xs_sha512 *c, uint8_t out[64]);

/* 0 when sig (R || S) is a valid signature of the n bytes parts[0..]
 * (concatenated) by the public key pk; -1 otherwise (bad key, S not
 * canonical, or a signature that does not verify). */
int xs_ed25519_verify_parts(const uint8_t sig[64], const uint8_t pk[32], const void *const *parts,
                            const size_t *lens, unsigned nparts);
int xs_ed25519_verify(const uint8_t sig[64], const uint8_t pk[32], const void *msg, size_t len);

#endif
