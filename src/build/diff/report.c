/* The xsplice-diff report: what was replaced, added, ignored or refused. */
#include "build/diff/diff.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [DN_REPLACED] = "replaced", [DN_COPIED] = "copied",     [DN_ADDED] = "added",
    [DN_DATA] = "new-data",     [DN_RODATA] = "new-rodata", [DN_IGNORED] = "ignored",
    [DN_REFUSED] = "refused",   [DN_NOTE] = "note",         [DN_ATTENTION] = "attention",
};

void df_note(struct df_report *r, enum df_note kind, const char *name, const char *fmt, ...)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct df_entry *e = realloc(r->e, cap * sizeof(*e));
		if (!e)
			return;
		r->e = e;
		r->cap = cap;
	}
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* one refusal per name and text is enough */
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].kind == kind && strcmp(r->e[i].name, name) == 0 &&
		    strcmp(r->e[i].detail, buf) == 0)
			return;
	struct df_entry *e = &r->e[r->n];
	e->kind = kind;
	e->name = strdup(name);
	e->detail = strdup(buf);
	if (e->name && e->detail)
		r->n++;
}

size_t df_count(const struct df_report *r, enum df_note kind)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->e[i].kind == kind;
	return n;
}

void df_report_print(const struct df_report *r, const char *obj, FILE *f)
{
	static const enum df_note order[] = {DN_REFUSED, DN_REPLACED, DN_COPIED,
	                                     DN_ADDED,   DN_DATA,     DN_RODATA,
	                                     DN_IGNORED, DN_NOTE,     DN_ATTENTION};
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (size_t i = 0; i < r->n; i++)
			if (r->e[i].kind == order[k])
				fprintf(f, "%s: %-10s %s: %s\n", obj, kind_names[order[k]],
				        r->e[i].name, r->e[i].detail);
}

int df_report_write(const struct df_report *r, const char *obj, const char *path,
                    struct xs_err *err)
{
	FILE *f = fopen(path, "a");
	if (!f)
		return xs_err_set(err, -errno, "cannot write the report %s: %s", path,
		                  strerror(errno));
	for (size_t i = 0; i < r->n; i++)
		fprintf(f, "%s\t%s\t%s\t%s\n", kind_names[r->e[i].kind], obj, r->e[i].name,
		        r->e[i].detail);
	if (fclose(f))
		return xs_err_set(err, -errno, "cannot write the report %s: %s", path,
		                  strerror(errno));
	return 0;
}

void df_report_free(struct df_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->e[i].name);
		free(r->e[i].detail);
	}
	free(r->e);
	memset(r, 0, sizeof(*r));
}
