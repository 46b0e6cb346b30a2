#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xs_buf_init(struct xs_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void xs_buf_free(struct xs_buf *b)
{
	free(b->data);
	xs_buf_init(b);
}

static int reserve(struct xs_buf *b, size_t extra)
{
	if (b->oom)
		return -1;
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int xs_buf_append(struct xs_buf *b, const void *p, size_t n)
{
	if (reserve(b, n))
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int xs_buf_printf(struct xs_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n))
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int xs_buf_json_str(struct xs_buf *b, const char *s, size_t n)
{
	int rc = xs_buf_append(b, "\"", 1);
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			rc = xs_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rc = xs_buf_printf(b, "\\u%04x", c);
		else
			rc = xs_buf_append(b, &s[i], 1);
	}
	return rc ? rc : xs_buf_append(b, "\"", 1);
}

int xs_buf_hex(struct xs_buf *b, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	if (reserve(b, n * 2))
		return -1;
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = digits[p[i] >> 4];
		b->data[b->len++] = digits[p[i] & 15];
	}
	b->data[b->len] = 0;
	return 0;
}

const char *xs_esc(char *out, size_t n, const char *s)
{
	size_t o = 0;
	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
		char e[5];
		size_t l;
		if (*c == '\n')
			l = (size_t)snprintf(e, sizeof(e), "\\n");
		else if (*c == '\t')
			l = (size_t)snprintf(e, sizeof(e), "\\t");
		else if (*c == '\\')
			l = (size_t)snprintf(e, sizeof(e), "\\\\");
		else if (*c < 0x20 || *c == 0x7f)
			l = (size_t)snprintf(e, sizeof(e), "\\x%02x", *c);
		else
			e[0] = (char)*c, l = 1;
		if (o + l + 4 > n) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, e, l);
		o += l;
	}
	out[o] = '\0';
	return out;
}
