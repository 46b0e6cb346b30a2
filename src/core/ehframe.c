/*
 * A structural check of a payload's .eh_frame, after relocation and before
 * the host hands it to the process's unwinder (__register_frame).
 *
 * libgcc trusts what it is given and parses it lazily: a malformed record
 * would not fail the upload but crash the program at its next C++
 * exception, backtrace() or pthread_cancel, long after the payload was
 * "accepted".  So every record must lie inside the section, every FDE must
 * point back at a well-formed CIE, use an encoding we can decode, and cover
 * only the payload's own code.  The call-frame instructions themselves are
 * not interpreted (they matter only while unwinding through payload code).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"

#define PE_OMIT 0xff
#define PE_PCREL 0x10
#define PE_INDIRECT 0x80

struct rd {
	const uint8_t *base;
	size_t pos, end; /* offsets into base */
	int bad;
};

static uint64_t take(struct rd *r, size_t n)
{
	uint64_t v = 0;
	if (r->bad || n > r->end - r->pos) {
		r->bad = 1;
		return 0;
	}
	memcpy(&v, r->base + r->pos, n); /* little endian */
	r->pos += n;
	return v;
}

static uint64_t uleb(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b = (uint8_t)take(r, 1);
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80) || r->bad)
			return v;
	}
	r->bad = 1;
	return 0;
}

/* Size of a DW_EH_PE value format, 0 when unknown. */
static size_t pe_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: return 8; /* absptr */
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	case 0x04: case 0x0c: return 8;
	default: return 0;
	}
}

/* Read a pointer encoded with `enc` (absptr or pcrel only); `at` is the
 * run-time address of the field. */
static int read_ptr(struct rd *r, uint8_t enc, uintptr_t at, uintptr_t *out)
{
	size_t n = pe_size(enc);
	if (!n || (enc & 0x70 & ~PE_PCREL) || (enc & PE_INDIRECT))
		return -1;
	uint64_t v = take(r, n);
	if (enc & 0x08) /* signed forms: sign-extend */
		v = n == 8 ? v : (uint64_t)((int64_t)(v << (64 - 8 * n)) >> (64 - 8 * n));
	*out = (uintptr_t)v + ((enc & PE_PCREL) ? at : 0);
	return r->bad ? -1 : 0;
}

struct cie {
	uint8_t fde_enc; /* 'R', absptr by default */
	int has_z;
};

/* Parse the CIE whose record starts at `off` (its length field). */
static const char *parse_cie(const uint8_t *sec, size_t size, size_t off, struct cie *c)
{
	struct rd r = {sec, off, size, 0};
	uint64_t len = take(&r, 4);
	if (len == 0xffffffffu || len == 0 || len > size - r.pos)
		return "its CIE has a bad length";
	r.end = r.pos + len;
	if (take(&r, 4) != 0)
		return "its CIE pointer does not point at a CIE";
	uint8_t version = (uint8_t)take(&r, 1);
	if (version != 1 && version != 3 && version != 4)
		return "its CIE has an unknown version";
	const char *aug = (const char *)sec + r.pos;
	const void *nul = memchr(aug, 0, r.end - r.pos);
	if (!nul)
		return "its CIE augmentation string is not terminated";
	r.pos += (size_t)((const char *)nul - aug) + 1;
	if (version == 4 && (take(&r, 1) != 8 || take(&r, 1) != 0))
		return "its CIE has an unsupported address or segment size";
	uleb(&r);                          /* code alignment */
	uleb(&r);                          /* data alignment (sleb: same bytes) */
	if (version == 1) /* return address register */
		take(&r, 1);
	else
		uleb(&r);
	memset(c, 0, sizeof(*c));
	if (*aug == 'z') {
		c->has_z = 1;
		uint64_t alen = uleb(&r);
		if (r.bad || alen > r.end - r.pos)
			return "its CIE augmentation data overruns the record";
		size_t aend = r.pos + alen;
		for (const char *a = aug + 1; *a && !r.bad; a++) {
			uint8_t enc;
			switch (*a) {
			case 'R':
				c->fde_enc = (uint8_t)take(&r, 1);
				break;
			case 'L':
				take(&r, 1);
				break;
			case 'P':
				enc = (uint8_t)take(&r, 1);
				if (!pe_size(enc))
					return "its CIE personality encoding is unknown";
				take(&r, pe_size(enc));
				break;
			case 'S': case 'B':
				break;
			default:
				return "its CIE has an unknown augmentation";
			}
		}
		if (r.bad || r.pos > aend)
			return "its CIE augmentation data overruns the record";
	} else if (*aug) {
		return "its CIE has an augmentation without 'z'";
	}
	return r.bad ? "its CIE is truncated" : NULL;
}

/* Check one FDE: record [off, end), CIE pointer field at `idpos`. */
static const char *check_fde(const uint8_t *sec, size_t size, uintptr_t addr, size_t idpos,
			     size_t end, uint32_t cie_ptr, uintptr_t lo, uintptr_t hi)
{
	struct cie c;
	if (cie_ptr > idpos)
		return "its CIE pointer points before the section";
	const char *why = parse_cie(sec, size, idpos - cie_ptr, &c);
	if (why)
		return why;
	struct rd r = {sec, idpos + 4, end, 0};
	uintptr_t begin, range;
	if (read_ptr(&r, c.fde_enc, addr + r.pos, &begin) ||
	    read_ptr(&r, c.fde_enc & 0x0f, 0, &range))
		return "its address encoding is unsupported or truncated";
	if (c.has_z) {
		uint64_t alen = uleb(&r);
		if (r.bad || alen > r.end - r.pos)
			return "its augmentation data overruns the record";
	}
	if (begin < lo || begin > hi || range > hi - begin)
		return "it covers code outside the payload";
	return NULL;
}

int xs_ehframe_check(const uint8_t *sec, size_t size, uintptr_t addr, uintptr_t text_lo,
		     uintptr_t text_hi, struct xs_err *err)
{
	size_t off = 0;
	while (off < size) {
		struct rd r = {sec, off, size, 0};
		uint64_t len = take(&r, 4);
		if (r.bad || len == 0) /* the terminator (or a short tail of padding) */
			return 0;
		if (len == 0xffffffffu)
			return xs_err_set(err, -EINVAL,
					  ".eh_frame: record at offset 0x%zx uses a 64-bit length "
					  "(not supported)", off);
		if (len < 4 || len > size - r.pos)
			return xs_err_set(err, -EINVAL,
					  ".eh_frame: record at offset 0x%zx: length 0x%llx runs "
					  "past the section (0x%zx bytes)",
					  off, (unsigned long long)len, size);
		size_t idpos = r.pos, end = r.pos + (size_t)len;
		uint32_t id = (uint32_t)take(&r, 4);
		const char *why = NULL;
		struct cie c;
		if (id == 0)
			why = parse_cie(sec, size, off, &c);
		else
			why = check_fde(sec, size, addr, idpos, end, id, text_lo, text_hi);
		if (why)
			return xs_err_set(err, -EINVAL, ".eh_frame: %s at offset 0x%zx: %s",
					  id ? "FDE" : "CIE", off, why);
		off = end;
	}
	return 0;
}
