/* A small, bounded JSON reader (see json.h). */
#include "ctl/json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

struct rd {
	const char *p, *end;
};

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r'))
		r->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string literal at r->p: malloc'd, \u escapes to UTF-8 (BMP only). */
static char *string(struct rd *r)
{
	if (r->p >= r->end || *r->p != '"')
		return NULL;
	const char *s = ++r->p;
	while (r->p < r->end && *r->p != '"')
		r->p += (*r->p == '\\') ? 2 : 1;
	if (r->p >= r->end)
		return NULL;
	char *out = malloc((size_t)(r->p - s) + 1), *o = out;
	for (const char *q = s; out && q < r->p; q++) {
		if (*q != '\\') {
			*o++ = *q;
			continue;
		}
		char c = *++q;
		if (c == 'u') {
			int v = 0;
			for (int i = 1; i <= 4; i++) {
				int h = q + i < r->p ? hexval(q[i]) : -1;
				if (h < 0) {
					free(out);
					return NULL;
				}
				v = v * 16 + h;
			}
			q += 4;
			if (v < 0x80)
				*o++ = (char)v;
			else if (v < 0x800)
				*o++ = (char)(0xc0 | (v >> 6)), *o++ = (char)(0x80 | (v & 0x3f));
			else
				*o++ = (char)(0xe0 | (v >> 12)),
				*o++ = (char)(0x80 | ((v >> 6) & 0x3f)),
				*o++ = (char)(0x80 | (v & 0x3f));
			continue;
		}
		*o++ = c == 'n'   ? '\n'
		       : c == 't' ? '\t'
		       : c == 'r' ? '\r'
		       : c == 'b' ? '\b'
		       : c == 'f' ? '\f'
		                  : c;
	}
	if (out)
		*o = '\0';
	r->p++;
	return out;
}

static struct xs_json *value(struct rd *r, int depth);

static struct xs_json *container(struct rd *r, int depth, int obj)
{
	struct xs_json *j = calloc(1, sizeof(*j)), **tail;
	if (!j)
		return NULL;
	j->type = obj ? XS_J_OBJ : XS_J_ARR;
	tail = &j->child;
	r->p++;
	ws(r);
	if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
		r->p++;
		return j;
	}
	for (;;) {
		char *key = NULL;
		ws(r);
		if (obj) {
			key = string(r);
			ws(r);
			if (!key || r->p >= r->end || *r->p != ':') {
				free(key);
				goto bad;
			}
			r->p++;
		}
		struct xs_json *c = value(r, depth + 1);
		if (!c) {
			free(key);
			goto bad;
		}
		c->key = key;
		*tail = c;
		tail = &c->next;
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
			r->p++;
			return j;
		}
		goto bad;
	}
bad:
	xs_json_free(j);
	return NULL;
}

static struct xs_json *value(struct rd *r, int depth)
{
	ws(r);
	if (r->p >= r->end || depth > MAX_DEPTH)
		return NULL;
	char c = *r->p;
	if (c == '{' || c == '[')
		return container(r, depth, c == '{');
	struct xs_json *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	if (c == '"') {
		j->type = XS_J_STR;
		j->str = string(r);
		if (!j->str) {
			free(j);
			return NULL;
		}
		return j;
	}
	static const struct {
		const char *w;
		enum xs_jtype t;
		double v;
	} words[] = {{"true", XS_J_BOOL, 1}, {"false", XS_J_BOOL, 0}, {"null", XS_J_NULL, 0}};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(words[i].w);
		if ((size_t)(r->end - r->p) >= n && !memcmp(r->p, words[i].w, n)) {
			r->p += n;
			j->type = words[i].t;
			j->num = words[i].v;
			return j;
		}
	}
	char buf[64];
	size_t n = 0;
	while (r->p + n < r->end && n < sizeof(buf) - 1 && r->p[n] &&
	       strchr("+-0123456789.eE", r->p[n]))
		n++;
	memcpy(buf, r->p, n);
	buf[n] = '\0';
	char *endp;
	j->num = strtod(buf, &endp);
	if (!n || endp != buf + n) {
		free(j);
		return NULL;
	}
	j->type = XS_J_NUM;
	r->p += n;
	return j;
}

struct xs_json *xs_json_parse(const char *text, size_t len)
{
	struct rd r = {text, text + len};
	struct xs_json *j = value(&r, 0);
	ws(&r);
	if (j && r.p != r.end) {
		xs_json_free(j);
		return NULL;
	}
	return j;
}

void xs_json_free(struct xs_json *j)
{
	while (j) {
		struct xs_json *next = j->next;
		xs_json_free(j->child);
		free(j->key);
		free(j->str);
		free(j);
		j = next;
	}
}

const struct xs_json *xs_json_get(const struct xs_json *obj, const char *key)
{
	if (!obj || obj->type != XS_J_OBJ)
		return NULL;
	for (const struct xs_json *c = obj->child; c; c = c->next)
		if (c->key && !strcmp(c->key, key))
			return c;
	return NULL;
}

const char *xs_json_str(const struct xs_json *obj, const char *key)
{
	const struct xs_json *v = xs_json_get(obj, key);
	return v && v->type == XS_J_STR ? v->str : "";
}

double xs_json_num(const struct xs_json *obj, const char *key)
{
	const struct xs_json *v = xs_json_get(obj, key);
	return v && (v->type == XS_J_NUM || v->type == XS_J_BOOL) ? v->num : 0;
}
