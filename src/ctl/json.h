/*
 * A small JSON reader for libxsplicectl: the agent's LIST and INFO
 * reports (and nothing else) are parsed into a tree.  The input is
 * untrusted (another user's agent could lie): depth and size are bounded,
 * and any syntax error gives NULL.
 */
#ifndef XS_CTL_JSON_H
#define XS_CTL_JSON_H

#include <stddef.h>

enum xs_jtype { XS_J_NULL, XS_J_BOOL, XS_J_NUM, XS_J_STR, XS_J_ARR, XS_J_OBJ };

struct xs_json {
	enum xs_jtype type;
	char *key;  /* member name inside an object, else NULL */
	char *str;  /* XS_J_STR */
	double num; /* XS_J_NUM, XS_J_BOOL (0/1) */
	struct xs_json *child, *next;
};

struct xs_json *xs_json_parse(const char *text, size_t len);
void xs_json_free(struct xs_json *j);
/* Member `key` of an object (NULL when absent or not an object). */
const struct xs_json *xs_json_get(const struct xs_json *obj, const char *key);
/* The string value of member `key`, or "" */
const char *xs_json_str(const struct xs_json *obj, const char *key);
double xs_json_num(const struct xs_json *obj, const char *key);

#endif
