/*
 * libFuzzer over what the agent does with a client's bytes before the
 * engine sees them (src/common/proto.c): the incremental request parser fed
 * in arbitrary pieces, the reply check a client makes, and the escaping of
 * strings for text output (src/common/buf.c).  ASan/UBSan/LeakSanitizer:
 * no crash, no overflow, no leak, and the parser's promises hold.
 *
 * Input: byte 0 picks the piece size (1..256), the rest is the stream.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/proto.h"
#include "common/sockdir.h"

static void parse(const uint8_t *d, size_t n, size_t piece)
{
	struct xs_req_parser p;
	memset(&p, 0, sizeof(p));
	size_t off = 0;
	int rc = 0;
	while (off < n && rc == 0) {
		size_t want;
		void *dst = xs_req_want(&p, &want);
		size_t k = n - off < piece ? n - off : piece;
		if (k > want)
			k = want;
		assert(dst || !want);
		memcpy(dst, d + off, k);
		off += k;
		rc = xs_req_got(&p, k);
	}
	if (rc == 1) { /* complete: everything the engine relies on holds */
		const char *why;
		assert(!xs_proto_check_req(&p.h, &why));
		assert(p.payload && p.params);
		assert(p.payload[p.h.payload_len] == '\0' && p.params[p.h.params_len] == '\0');
		if (xs_proto_op_has_name(p.h.op))
			assert(!xs_proto_check_name(p.name, p.h.name_len, &why));
		assert(!xs_proto_check_params(p.params, p.h.params_len, &why));
	} else if (rc < 0) {
		assert(p.why);
	}
	xs_req_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	size_t piece = (size_t)d[0] + 1;
	d++, n--;
	parse(d, n, piece);
	parse(d, n, 1u << 20);

	if (n >= sizeof(struct xs_reply_hdr)) {
		struct xs_reply_hdr h;
		const char *why;
		memcpy(&h, d, sizeof(h));
		if (xs_proto_check_reply(&h, &why))
			assert(why);
	}
	char s[512], out[64], norm[256], why[256];
	size_t l = n < sizeof(s) - 1 ? n : sizeof(s) - 1;
	memcpy(s, d, l);
	s[l] = '\0';
	xs_esc(out, sizeof(out), s);
	assert(strlen(out) < sizeof(out));
	for (const char *c = out; *c; c++)
		assert((unsigned char)*c >= 0x20 && *c != 0x7f);
	if (!xs_sockdir_normalize(s, norm, sizeof(norm), why, sizeof(why)))
		assert(norm[0] == '/' && !strstr(norm, "//") && norm[strlen(norm) - 1] != '/');
	return 0;
}
