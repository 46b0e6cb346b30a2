/*
 * Ed25519 verification and SHA-512; see ed25519.h.
 *
 * Field elements mod p = 2^255 - 19 are five 51-bit limbs (uint64_t, with
 * 128-bit products); points are in extended twisted-Edwards coordinates
 * (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z, and are added with the complete
 * formula for a = -1 (which also doubles).  Scalars are 32 little-endian
 * bytes.  Speed is not a goal: one verification per upload.
 */
#include "common/ed25519.h"

#include <string.h>

/* ---- SHA-512 ----------------------------------------------------------------- */

static const uint64_t sha_k[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

static uint64_t ror(uint64_t x, unsigned n)
{
	return (x >> n) | (x << (64 - n));
}

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void sha_block(struct xs_sha512 *c, const uint8_t *blk)
{
	uint64_t w[80], s[8];
	for (int i = 0; i < 16; i++)
		w[i] = load_be64(blk + 8 * i);
	for (int i = 16; i < 80; i++) {
		uint64_t s0 = ror(w[i - 15], 1) ^ ror(w[i - 15], 8) ^ (w[i - 15] >> 7);
		uint64_t s1 = ror(w[i - 2], 19) ^ ror(w[i - 2], 61) ^ (w[i - 2] >> 6);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(s, c->h, sizeof(s));
	for (int i = 0; i < 80; i++) {
		uint64_t e = s[4], a = s[0];
		uint64_t t1 = s[7] + (ror(e, 14) ^ ror(e, 18) ^ ror(e, 41)) +
		              ((e & s[5]) ^ (~e & s[6])) + sha_k[i] + w[i];
		uint64_t t2 = (ror(a, 28) ^ ror(a, 34) ^ ror(a, 39)) +
		              ((a & s[1]) ^ (a & s[2]) ^ (s[1] & s[2]));
		memmove(s + 1, s, 7 * sizeof(s[0]));
		s[4] += t1;
		s[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		c->h[i] += s[i];
}

void xs_sha512_init(struct xs_sha512 *c)
{
	static const uint64_t iv[8] = {
	    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
	    0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
	    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
	};
	memcpy(c->h, iv, sizeof(iv));
	c->fill = 0;
	c->total = 0;
}

void xs_sha512_update(struct xs_sha512 *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	c->total += len;
	while (len) {
		size_t n = 128 - c->fill < len ? 128 - c->fill : len;
		memcpy(c->buf + c->fill, p, n);
		c->fill += n;
		p += n;
		len -= n;
		if (c->fill == 128) {
			sha_block(c, c->buf);
			c->fill = 0;
		}
	}
}

void xs_sha512_final(struct xs_sha512 *c, uint8_t out[64])
{
	uint64_t bits = c->total * 8;
	uint8_t pad[128 + 16] = {0x80};
	size_t n = (c->fill < 112 ? 112 : 240) - c->fill;
	uint8_t len[16] = {0};
	for (int i = 0; i < 8; i++)
		len[15 - i] = (uint8_t)(bits >> (8 * i));
	xs_sha512_update(c, pad, n);
	xs_sha512_update(c, len, 16);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			out[8 * i + j] = (uint8_t)(c->h[i] >> (56 - 8 * j));
}

/* ---- the field GF(2^255 - 19) ----------------------------------------------------- */

typedef uint64_t fe[5];
typedef unsigned __int128 u128;
#define M51 ((1ULL << 51) - 1)

static void fe_carry(fe h)
{
	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < 4; i++) {
			h[i + 1] += h[i] >> 51;
			h[i] &= M51;
		}
		h[0] += 19 * (h[4] >> 51);
		h[4] &= M51;
	}
}

static void fe_set(fe h, uint64_t v)
{
	memset(h, 0, sizeof(fe));
	h[0] = v;
}

static void fe_add(fe h, const fe f, const fe g)
{
	for (int i = 0; i < 5; i++)
		h[i] = f[i] + g[i];
	fe_carry(h);
}

/* f - g + 4p, for g's limbs below 2^53 */
static void fe_sub(fe h, const fe f, const fe g)
{
	h[0] = f[0] + 0x1FFFFFFFFFFFB4ULL - g[0];
	for (int i = 1; i < 5; i++)
		h[i] = f[i] + 0x1FFFFFFFFFFFFCULL - g[i];
	fe_carry(h);
}

static void fe_mul(fe h, const fe f, const fe g)
{
	uint64_t g19[5];
	u128 t[5];
	for (int i = 0; i < 5; i++)
		g19[i] = 19 * g[i];
	for (int k = 0; k < 5; k++) {
		t[k] = 0;
		for (int i = 0; i < 5; i++) {
			int j = k - i;
			t[k] += j >= 0 ? (u128)f[i] * g[j] : (u128)f[i] * g19[j + 5];
		}
	}
	for (int k = 0; k < 4; k++) {
		t[k + 1] += t[k] >> 51;
		t[k] &= M51;
	}
	u128 c = t[4] >> 51;
	t[4] &= M51;
	t[0] += c * 19;
	t[1] += t[0] >> 51;
	t[0] &= M51;
	for (int i = 0; i < 5; i++)
		h[i] = (uint64_t)t[i];
	fe_carry(h);
}

/* z^e, e 32 little-endian bytes */
static void fe_pow(fe h, const fe z, const uint8_t e[32])
{
	fe r, b;
	fe_set(r, 1);
	memcpy(b, z, sizeof(fe));
	for (int i = 255; i >= 0; i--) {
		fe_mul(r, r, r);
		if ((e[i >> 3] >> (i & 7)) & 1)
			fe_mul(r, r, b);
	}
	memcpy(h, r, sizeof(fe));
}

/* exponents of the form (low byte, 30 x 0xff, high byte) */
static void fe_pow_ff(fe h, const fe z, uint8_t lo, uint8_t hi)
{
	uint8_t e[32];
	memset(e, 0xff, sizeof(e));
	e[0] = lo;
	e[31] = hi;
	fe_pow(h, z, e);
}

static void fe_invert(fe h, const fe z)
{
	fe_pow_ff(h, z, 0xeb, 0x7f); /* p - 2 */
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void fe_frombytes(fe h, const uint8_t s[32])
{
	h[0] = load_le64(s) & M51;
	h[1] = (load_le64(s + 6) >> 3) & M51;
	h[2] = (load_le64(s + 12) >> 6) & M51;
	h[3] = (load_le64(s + 19) >> 1) & M51;
	h[4] = (load_le64(s + 24) >> 12) & M51;
}

static void fe_tobytes(uint8_t s[32], const fe f)
{
	fe h;
	memcpy(h, f, sizeof(fe));
	fe_carry(h);
	/* h < 2^255 + small; subtract p once if h >= p */
	uint64_t q = (h[0] + 19) >> 51;
	for (int i = 1; i < 5; i++)
		q = (h[i] + q) >> 51;
	h[0] += 19 * q;
	for (int i = 0; i < 4; i++) {
		h[i + 1] += h[i] >> 51;
		h[i] &= M51;
	}
	h[4] &= M51;
	u128 acc = 0;
	int bits = 0, k = 0;
	for (int i = 0; i < 5; i++) {
		acc |= (u128)h[i] << bits;
		bits += 51;
		while (bits >= 8) {
			s[k++] = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
	s[k] = (uint8_t)acc; /* the last 7 bits (k == 31) */
}

static int fe_eq(const fe f, const fe g)
{
	uint8_t a[32], b[32];
	fe_tobytes(a, f);
	fe_tobytes(b, g);
	return !memcmp(a, b, 32);
}

static int fe_odd(const fe f)
{
	uint8_t a[32];
	fe_tobytes(a, f);
	return a[0] & 1;
}

/* ---- the curve -x^2 + y^2 = 1 + d x^2 y^2 ------------------------------------ */

struct pt {
	fe x, y, z, t;
};

static struct {
	int ready;
	fe d2;   /* 2d */
	fe d;    /* -121665 / 121666 */
	fe sqm1; /* sqrt(-1) */
	struct pt base;
} cv;

static void pt_add(struct pt *r, const struct pt *p, const struct pt *q)
{
	fe a, b, c, d, e, f, g, h, t;
	fe_sub(a, p->y, p->x);
	fe_sub(t, q->y, q->x);
	fe_mul(a, a, t);
	fe_add(b, p->y, p->x);
	fe_add(t, q->y, q->x);
	fe_mul(b, b, t);
	fe_mul(c, p->t, q->t);
	fe_mul(c, c, cv.d2);
	fe_mul(d, p->z, q->z);
	fe_add(d, d, d);
	fe_sub(e, b, a);
	fe_sub(f, d, c);
	fe_add(g, d, c);
	fe_add(h, b, a);
	fe_mul(r->x, e, f);
	fe_mul(r->y, g, h);
	fe_mul(r->t, e, h);
	fe_mul(r->z, f, g);
}

static void pt_mul(struct pt *r, const struct pt *p, const uint8_t s[32])
{
	struct pt acc;
	memset(&acc, 0, sizeof(acc));
	fe_set(acc.y, 1);
	fe_set(acc.z, 1);
	for (int i = 255; i >= 0; i--) {
		pt_add(&acc, &acc, &acc);
		if ((s[i >> 3] >> (i & 7)) & 1)
			pt_add(&acc, &acc, p);
	}
	*r = acc;
}

static void pt_encode(uint8_t s[32], const struct pt *p)
{
	fe zi, x, y;
	fe_invert(zi, p->z);
	fe_mul(x, p->x, zi);
	fe_mul(y, p->y, zi);
	fe_tobytes(s, y);
	s[31] |= (uint8_t)(fe_odd(x) << 7);
}

/* RFC 8032 5.1.3; -1 for a string that is no point (or not canonical) */
static int pt_decode(struct pt *p, const uint8_t s[32])
{
	uint8_t chk[32];
	int sign = s[31] >> 7;
	fe u, v, v3, x, t, one;
	fe_frombytes(p->y, s);
	fe_tobytes(chk, p->y);
	chk[31] |= (uint8_t)(sign << 7);
	if (memcmp(chk, s, 32))
		return -1; /* y >= p */
	fe_set(one, 1);
	fe_mul(u, p->y, p->y);
	fe_mul(v, u, cv.d);
	fe_sub(u, u, one); /* y^2 - 1 */
	fe_add(v, v, one); /* d y^2 + 1 */
	fe_mul(v3, v, v);
	fe_mul(v3, v3, v); /* v^3 */
	fe_mul(x, v3, v3);
	fe_mul(x, x, v);             /* v^7 */
	fe_mul(x, x, u);             /* u v^7 */
	fe_pow_ff(x, x, 0xfd, 0x0f); /* ^(p-5)/8 */
	fe_mul(x, x, v3);
	fe_mul(x, x, u); /* u v^3 (u v^7)^((p-5)/8) */
	fe_mul(t, x, x);
	fe_mul(t, t, v); /* v x^2 */
	if (!fe_eq(t, u)) {
		fe zero, nu;
		fe_set(zero, 0);
		fe_sub(nu, zero, u);
		if (!fe_eq(t, nu))
			return -1;
		fe_mul(x, x, cv.sqm1);
	}
	uint8_t xb[32], zb[32] = {0};
	fe_tobytes(xb, x);
	if (!memcmp(xb, zb, 32) && sign)
		return -1;
	if ((xb[0] & 1) != sign) {
		fe zero;
		fe_set(zero, 0);
		fe_sub(x, zero, x);
	}
	memcpy(p->x, x, sizeof(fe));
	fe_set(p->z, 1);
	fe_mul(p->t, p->x, p->y);
	return 0;
}

static void curve_init(void)
{
	if (cv.ready)
		return;
	fe a, b, zero;
	fe_set(zero, 0);
	fe_set(a, 121665);
	fe_sub(a, zero, a);
	fe_set(b, 121666);
	fe_invert(b, b);
	fe_mul(cv.d, a, b);
	fe_add(cv.d2, cv.d, cv.d);
	fe_set(a, 2);
	fe_pow_ff(cv.sqm1, a, 0xfb, 0x1f); /* 2^((p-1)/4) */
	uint8_t by[32];
	memset(by, 0x66, sizeof(by)); /* y = 4/5, x even */
	by[0] = 0x58;
	pt_decode(&cv.base, by);
	cv.ready = 1;
}

/* ---- scalars mod L = 2^252 + 27742317777372353535851937790883648493 --------- */

static const uint64_t L64[4] = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0,
                                0x1000000000000000ULL};

static int ge_l(const uint64_t r[4])
{
	for (int i = 3; i >= 0; i--)
		if (r[i] != L64[i])
			return r[i] > L64[i];
	return 1;
}

static void sub_l(uint64_t r[4])
{
	unsigned borrow = 0;
	for (int i = 0; i < 4; i++) {
		u128 d = (u128)r[i] - L64[i] - borrow;
		r[i] = (uint64_t)d;
		borrow = (unsigned)(d >> 127);
	}
}

/* n bytes little-endian mod L, into 32 bytes (bit by bit: r = 2r + bit) */
static void sc_reduce(uint8_t out[32], const uint8_t *in, size_t n)
{
	uint64_t r[4] = {0};
	for (size_t i = n * 8; i-- > 0;) {
		for (int k = 3; k > 0; k--)
			r[k] = (r[k] << 1) | (r[k - 1] >> 63);
		r[0] = (r[0] << 1) | ((in[i >> 3] >> (i & 7)) & 1);
		if (ge_l(r))
			sub_l(r);
	}
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(r[i / 8] >> (8 * (i % 8)));
}

int xs_ed25519_verify_parts(const uint8_t sig[64], const uint8_t pk[32], const void *const *parts,
                            const size_t *lens, unsigned nparts)
{
	uint64_t s[4];
	for (int i = 0; i < 4; i++)
		s[i] = load_le64(sig + 32 + 8 * i);
	if (ge_l(s))
		return -1; /* S must be canonical */
	curve_init();
	struct pt a, sb, ka;
	if (pt_decode(&a, pk))
		return -1;
	struct xs_sha512 h;
	uint8_t dig[64], k[32], r[32];
	xs_sha512_init(&h);
	xs_sha512_update(&h, sig, 32);
	xs_sha512_update(&h, pk, 32);
	for (unsigned i = 0; i < nparts; i++)
		xs_sha512_update(&h, parts[i], lens[i]);
	xs_sha512_final(&h, dig);
	sc_reduce(k, dig, 64);
	/* R' = [S]B - [k]A must encode to R */
	fe zero;
	fe_set(zero, 0);
	fe_sub(a.x, zero, a.x);
	fe_sub(a.t, zero, a.t);
	pt_mul(&sb, &cv.base, sig + 32);
	pt_mul(&ka, &a, k);
	pt_add(&sb, &sb, &ka);
	pt_encode(r, &sb);
	return memcmp(r, sig, 32) ? -1 : 0;
}

int xs_ed25519_verify(const uint8_t sig[64], const uint8_t pk[32], const void *msg, size_t len)
{
	const void *parts[1] = {msg};
	return xs_ed25519_verify_parts(sig, pk, parts, &len, 1);
}
