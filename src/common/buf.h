/* A growable byte buffer (malloc'd): for building replies and reports,
 * never used inside the quiesce window. */
#ifndef XS_BUF_H
#define XS_BUF_H

#include <stddef.h>

struct xs_buf {
	char *data;
	size_t len, cap;
	int oom; /* set once an allocation failed; later appends are dropped */
};

void xs_buf_init(struct xs_buf *b);
void xs_buf_free(struct xs_buf *b);
int xs_buf_append(struct xs_buf *b, const void *p, size_t n);
int xs_buf_printf(struct xs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON string literal with quotes and escapes */
int xs_buf_json_str(struct xs_buf *b, const char *s, size_t n);
/*
 * s for a terminal: every control character, DEL and backslash as an escape
 * (\n, \t, \\, \xNN), so that a string from a payload or a client can
 * neither forge a line nor send escape sequences.  Written to out (size n,
 * n >= 8), cut with "..." when it does not fit; returns out.
 */
const char *xs_esc(char *out, size_t n, const char *s);

/* lowercase hex of n bytes */
int xs_buf_hex(struct xs_buf *b, const unsigned char *p, size_t n);

#endif
