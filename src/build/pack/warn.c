/*
 * Warnings for hand-written payloads that cannot work as written:
 *
 *  - the replaced function was inlined into callers in the target (its
 *    DWARF has inlined copies of it; without debug information, nothing
 *    is said): those callers carry their own copy, which no jump reaches;
 *  - the target has clones of it (NAME.part.N, .constprop.N, .isra.N,
 *    .cold): calls that go to a clone do not reach the jump either;
 *  - a symbol the payload needs is neither in the target nor in a library
 *    it links (DT_NEEDED, one level, found like the dynamic linker does in
 *    its RUNPATH and the standard directories): the upload will fail
 *    unless another payload provides it.
 *
 * Only warnings: the payload is still written.
 */
#include "build/pack/pack.h"

#include <elfutils/libdw.h>
#include <dwarf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fflush(stdout);
	fputs("xsplice-pack: warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- inlined copies ----------------------------------------------------------- */

struct names {
	char **v;
	size_t n;
};

static void names_add(struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return;
	char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return;
	s->v = v;
	s->v[s->n++] = strdup(name);
}

static void names_free(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* Walk die's children; `caller` is the innermost enclosing subprogram. */
static void walk(Dwarf_Die *die, const char *fn, const char *caller, struct names *out, int depth)
{
	Dwarf_Die child;
	if (depth > 64 || dwarf_child(die, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		const char *here = caller;
		if (tag == DW_TAG_subprogram) {
			here = dwarf_diename(&child);
		} else if (tag == DW_TAG_inlined_subroutine) {
			Dwarf_Attribute a;
			Dwarf_Die origin;
			if (dwarf_attr(&child, DW_AT_abstract_origin, &a) &&
			    dwarf_formref_die(&a, &origin)) {
				const char *nm = dwarf_diename(&origin);
				if (nm && !strcmp(nm, fn) && caller)
					names_add(out, caller);
			}
		}
		walk(&child, fn, here, out, depth + 1);
	} while (dwarf_siblingof(&child, &child) == 0);
}

static void inlined_callers(const char *path, const char *fn, struct names *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
	if (dw) {
		Dwarf_Off off = 0, next;
		size_t hsize;
		while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
			Dwarf_Die cu;
			if (dwarf_offdie(dw, off + hsize, &cu))
				walk(&cu, fn, NULL, out, 0);
			off = next;
		}
		dwarf_end(dw);
	}
	close(fd);
}

static int is_clone_of(const char *sym, const char *fn)
{
	size_t n = strlen(fn);
	if (strncmp(sym, fn, n) || sym[n] != '.')
		return 0;
	const char *sfx = sym + n + 1;
	return !strncmp(sfx, "part.", 5) || !strncmp(sfx, "constprop.", 10) ||
	       !strncmp(sfx, "isra.", 5) || !strcmp(sfx, "cold") || !strncmp(sfx, "cold.", 5);
}

void pk_warn_inlined(const struct pk_ctx *c, const char *fn)
{
	struct names callers = {0};
	const char *dbg = c->tgt.syms_path ? c->tgt.syms_path : c->tgt.path;
	inlined_callers(dbg, fn, &callers);
	if (callers.n) {
		char list[512] = "";
		size_t len = 0;
		for (size_t i = 0; i < callers.n && len < sizeof(list) - 64; i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
			                        i ? ", " : "", callers.v[i]);
		warn("%s was inlined into %s in %s: %s keep%s the old code, which the jump at %s "
		     "does not reach (mark %s noinline in the target, or replace the callers "
		     "too)",
		     fn, list, c->tgt.path, callers.n > 1 ? "those callers" : "that caller",
		     callers.n > 1 ? "" : "s", fn, fn);
	}
	names_free(&callers);
	for (size_t i = 0; i < c->tgt.nsyms; i++)
		if (is_clone_of(c->tgt.syms[i].name, fn))
			warn("%s has a compiler clone %s in %s: calls that go to the clone do not "
			     "reach the replacement (replace %s too)",
			     fn, c->tgt.syms[i].name, c->tgt.path, c->tgt.syms[i].name);
}

/* ---- symbols in no library ------------------------------------------------------ */

static struct {
	int loaded;
	char **names; /* defined dynamic symbols of the DT_NEEDED libraries, sorted */
	size_t n;
} libs;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Calls f(name, value) for every DT_NEEDED / DT_RUNPATH / DT_RPATH entry, or
 * adds the defined .dynsym names when `defs` is set. */
static void read_dynamic(const char *path, char ***needed, size_t *nneeded, char **runpath,
                         int defs)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	while (e && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		if (!defs && sh.sh_type == SHT_DYNAMIC) {
			GElf_Dyn dyn;
			for (size_t i = 0; gelf_getdyn(d, (int)i, &dyn); i++) {
				const char *s = NULL;
				if (dyn.d_tag == DT_NEEDED || dyn.d_tag == DT_RUNPATH ||
				    dyn.d_tag == DT_RPATH)
					s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
				if (!s)
					continue;
				if (dyn.d_tag == DT_NEEDED) {
					char **v = realloc(*needed, (*nneeded + 1) * sizeof(*v));
					if (v)
						*needed = v, v[(*nneeded)++] = strdup(s);
				} else if (!*runpath) {
					*runpath = strdup(s);
				}
			}
		} else if (defs && sh.sh_type == SHT_DYNSYM) {
			GElf_Sym sym;
			for (size_t i = 1; gelf_getsym(d, (int)i, &sym); i++) {
				const char *s = elf_strptr(e, sh.sh_link, sym.st_name);
				if (!s || !*s || sym.st_shndx == SHN_UNDEF)
					continue;
				char **v = realloc(libs.names, (libs.n + 1) * sizeof(*v));
				if (v)
					libs.names = v, v[libs.n++] = strdup(s);
			}
		}
	}
	if (e)
		elf_end(e);
	close(fd);
}

/* The file of library `lib` as the dynamic linker would find it (roughly:
 * the RUNPATH with $ORIGIN, then the standard directories), or NULL. */
static char *find_lib(const char *lib, const char *runpath, const char *origin)
{
	static const char *const std[] = {"/lib/x86_64-linux-gnu",
	                                  "/usr/lib/x86_64-linux-gnu",
	                                  "/lib64",
	                                  "/usr/lib64",
	                                  "/lib",
	                                  "/usr/lib",
	                                  "/usr/local/lib"};
	char path[8400];
	if (strchr(lib, '/'))
		return access(lib, R_OK) ? NULL : strdup(lib);
	if (runpath) {
		char *rp = strdup(runpath), *save = NULL;
		for (char *dir = rp ? strtok_r(rp, ":", &save) : NULL; dir;
		     dir = strtok_r(NULL, ":", &save)) {
			if (!strncmp(dir, "$ORIGIN", 7))
				snprintf(path, sizeof(path), "%s%s/%s", origin, dir + 7, lib);
			else
				snprintf(path, sizeof(path), "%s/%s", dir, lib);
			if (!access(path, R_OK)) {
				free(rp);
				return strdup(path);
			}
		}
		free(rp);
	}
	for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", std[i], lib);
		if (!access(path, R_OK))
			return strdup(path);
	}
	return NULL;
}

static void load_libs(const struct pk_ctx *c)
{
	char **needed = NULL, *runpath = NULL, origin[4096];
	size_t n = 0;
	libs.loaded = 1;
	elf_version(EV_CURRENT);
	read_dynamic(c->tgt.path, &needed, &n, &runpath, 0);
	snprintf(origin, sizeof(origin), "%s", c->tgt.path);
	char *slash = strrchr(origin, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(origin, sizeof(origin), ".");
	for (size_t i = 0; i < n; i++) {
		char *p = find_lib(needed[i], runpath, origin);
		if (p)
			read_dynamic(p, NULL, NULL, NULL, 1);
		free(p);
		free(needed[i]);
	}
	free(needed);
	free(runpath);
	qsort(libs.names, libs.n, sizeof(*libs.names), cmp_str);
}

void pk_warn_unresolvable(const struct pk_ctx *c, const char *name)
{
	if (!strncmp(name, "xsplice_", 8)) /* the agent's own API */
		return;
	if (!libs.loaded)
		load_libs(c);
	if (bsearch(&name, libs.names, libs.n, sizeof(*libs.names), cmp_str))
		return;
	warn("'%s' is neither in %s nor in the libraries it links (DT_NEEDED): uploading "
	     "this payload will fail unless another payload already loaded defines it",
	     name, c->tgt.path);
}
