/*
 * Loading a relocatable object for xsplice-diff: sections, symbols and
 * relocations as plain arrays (libelf keeps the bytes mapped), plus the
 * small helpers every step needs.
 */
#include "build/diff/diff.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load_symbols(struct df_obj *o, Elf_Scn *scn, const GElf_Shdr *sh, struct xs_err *err)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d || sh->sh_entsize != sizeof(Elf64_Sym))
		return xs_err_set(err, -EINVAL, "%s: unreadable symbol table", o->path);
	o->nsyms = d->d_size / sizeof(Elf64_Sym);
	o->syms = calloc(o->nsyms ? o->nsyms : 1, sizeof(*o->syms));
	if (!o->syms)
		return xs_err_set(err, -ENOMEM, "out of memory");
	o->file = "";
	for (size_t i = 0; i < o->nsyms; i++) {
		struct df_sym *s = &o->syms[i];
		if (!gelf_getsym(d, (int)i, &s->s))
			return xs_err_set(err, -EINVAL, "%s: bad symbol %zu", o->path, i);
		s->name = elf_strptr(o->elf, sh->sh_link, s->s.st_name);
		if (!s->name)
			s->name = "";
		s->type = GELF_ST_TYPE(s->s.st_info);
		s->bind = GELF_ST_BIND(s->s.st_info);
		if (s->s.st_shndx != SHN_UNDEF && s->s.st_shndx < SHN_LORESERVE)
			s->sec = s->s.st_shndx;
		if (s->s.st_shndx == SHN_XINDEX)
			return xs_err_set(err, -ENOTSUP,
			                  "%s: extended section indexes are not supported",
			                  o->path);
		if (s->type == STT_FILE && !*o->file)
			o->file = s->name;
	}
	return 0;
}

static int cmp_rel(const void *a, const void *b)
{
	const struct df_rel *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int load_relocs(struct df_obj *o, Elf_Scn *scn, const GElf_Shdr *sh, struct xs_err *err)
{
	if (sh->sh_type == SHT_REL)
		return xs_err_set(err, -ENOTSUP,
		                  "%s: SHT_REL relocations are not supported (x86-64 uses RELA)",
		                  o->path);
	if (sh->sh_info == 0 || sh->sh_info >= o->nsecs)
		return 0;
	struct df_sec *t = &o->secs[sh->sh_info];
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d)
		return xs_err_set(err, -EINVAL, "%s: unreadable relocations for %s", o->path,
		                  t->name);
	size_t n = d->d_size / sizeof(Elf64_Rela);
	struct df_rel *r = realloc(t->rels, (t->nrels + n + 1) * sizeof(*r));
	if (!r)
		return xs_err_set(err, -ENOMEM, "out of memory");
	t->rels = r;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela ra;
		if (!gelf_getrela(d, (int)i, &ra))
			return xs_err_set(err, -EINVAL, "%s: bad relocation in %s", o->path,
			                  t->name);
		struct df_rel *x = &t->rels[t->nrels++];
		x->off = ra.r_offset;
		x->type = (uint32_t)GELF_R_TYPE(ra.r_info);
		x->addend = ra.r_addend;
		x->sym = GELF_R_SYM(ra.r_info);
		if (x->sym >= o->nsyms)
			return xs_err_set(err, -EINVAL,
			                  "%s: relocation in %s names symbol %zu of %zu", o->path,
			                  t->name, x->sym, o->nsyms);
	}
	qsort(t->rels, t->nrels, sizeof(*t->rels), cmp_rel);
	return 0;
}

int df_load(struct df_obj *o, const char *path, int is_orig, struct xs_err *err)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->is_orig = is_orig;
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0)
		return xs_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	elf_version(EV_CURRENT);
	o->elf = elf_begin(o->fd, ELF_C_READ_MMAP, NULL);
	if (!o->elf || elf_kind(o->elf) != ELF_K_ELF || !gelf_getehdr(o->elf, &o->eh))
		return xs_err_set(err, -EINVAL, "%s is not an ELF file", path);
	if (o->eh.e_ident[EI_CLASS] != ELFCLASS64 || o->eh.e_machine != EM_X86_64)
		return xs_err_set(err, -ENOTSUP, "%s: only x86-64 ELF64 objects are supported",
		                  path);
	if (o->eh.e_type != ET_REL)
		return xs_err_set(err, -EINVAL,
		                  "%s is not a relocatable object (ET_REL): give the .o files",
		                  path);
	size_t shstrndx;
	if (elf_getshdrnum(o->elf, &o->nsecs) || elf_getshdrstrndx(o->elf, &shstrndx))
		return xs_err_set(err, -EINVAL, "%s: unreadable section headers", path);
	o->secs = calloc(o->nsecs ? o->nsecs : 1, sizeof(*o->secs));
	if (!o->secs)
		return xs_err_set(err, -ENOMEM, "out of memory");
	Elf_Scn *symscn = NULL;
	GElf_Shdr symsh = {0};
	for (size_t i = 1; i < o->nsecs; i++) {
		struct df_sec *s = &o->secs[i];
		Elf_Scn *scn = elf_getscn(o->elf, i);
		if (!scn || !gelf_getshdr(scn, &s->sh))
			return xs_err_set(err, -EINVAL, "%s: bad section %zu", path, i);
		s->idx = i;
		s->name = elf_strptr(o->elf, shstrndx, s->sh.sh_name);
		if (!s->name)
			s->name = "";
		s->size = s->sh.sh_size;
		if (s->sh.sh_type != SHT_NOBITS && s->size) {
			Elf_Data *d = elf_getdata(scn, NULL);
			if (!d || d->d_size != s->size)
				return xs_err_set(err, -EINVAL, "%s: unreadable section %s", path,
				                  s->name);
			s->data = d->d_buf;
		}
		if (s->sh.sh_type == SHT_SYMTAB) {
			if (symscn)
				return xs_err_set(err, -EINVAL, "%s: two symbol tables", path);
			symscn = scn;
			symsh = s->sh;
		}
	}
	if (!symscn)
		return xs_err_set(err, -EINVAL, "%s has no symbol table (stripped?)", path);
	int rc = load_symbols(o, symscn, &symsh, err);
	for (size_t i = 1; !rc && i < o->nsecs; i++) {
		struct df_sec *s = &o->secs[i];
		if (s->sh.sh_type == SHT_RELA || s->sh.sh_type == SHT_REL)
			rc = load_relocs(o, elf_getscn(o->elf, i), &s->sh, err);
	}
	return rc;
}

void df_free(struct df_obj *o)
{
	if (o->secs)
		for (size_t i = 0; i < o->nsecs; i++) {
			free(o->secs[i].rels);
			free(o->secs[i].syms);
		}
	free(o->secs);
	free(o->syms);
	if (o->elf)
		elf_end(o->elf);
	if (o->fd > 0)
		close(o->fd);
	memset(o, 0, sizeof(*o));
}

const struct df_rel *df_rel_at(const struct df_sec *s, uint64_t off)
{
	size_t lo = 0, hi = s->nrels;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->rels[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nrels && s->rels[lo].off == off ? &s->rels[lo] : NULL;
}

int df_is_pcrel(uint32_t type)
{
	switch (type) {
	case R_X86_64_PC32:
	case R_X86_64_PLT32:
	case R_X86_64_GOTPCREL:
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX:
	case R_X86_64_GOTPC32:
	case R_X86_64_TLSGD:
	case R_X86_64_TLSLD:
	case R_X86_64_GOTTPOFF:
	case R_X86_64_GOTPC32_TLSDESC:
		return 1;
	default:
		return 0;
	}
}

/* The defined symbol of `s` that contains offset `pos`, 0 if none. */
static size_t containing(const struct df_obj *o, const struct df_sec *s, int64_t pos)
{
	size_t best = 0;
	for (size_t i = 0; i < s->nsyms; i++) {
		const struct df_sym *y = &o->syms[s->syms[i]];
		int64_t v = (int64_t)y->s.st_value,
		        end = v + (int64_t)(y->s.st_size ? y->s.st_size : 1);
		if (pos >= v && pos < end)
			best = s->syms[i];
	}
	return best;
}

/*
 * A relocation against a section symbol (the assembler turns references to
 * local symbols into those) means one of the section's symbols.  With one
 * section per function or datum that is the section's own symbol; in a
 * section with several, the referenced byte is the addend plus the distance
 * from the field to the end of the instruction (4, plus up to 4 bytes of an
 * immediate), so the answer is kept only when all candidates agree.
 */
size_t df_rel_target(const struct df_obj *o, const struct df_rel *r, int64_t *sym_addend)
{
	const struct df_sym *y = &o->syms[r->sym];
	if (y->type != STT_SECTION || !y->sec) {
		*sym_addend = r->addend;
		return r->sym;
	}
	const struct df_sec *s = &o->secs[y->sec];
	size_t t = 0;
	if (s->primary && s->nsyms == 1) {
		t = s->primary;
	} else {
		int64_t base = (int64_t)y->s.st_value + r->addend;
		int pc = df_is_pcrel(r->type);
		t = containing(o, s, pc ? base + 4 : base);
		for (int k = 5; pc && t && k <= 8; k++)
			if (containing(o, s, base + k) != t)
				t = 0;
	}
	if (!t)
		return 0;
	*sym_addend = (int64_t)y->s.st_value + r->addend - (int64_t)o->syms[t].s.st_value;
	return t;
}

/* Local symbols are known in the target by file.  (Hidden globals become
 * local in a linked binary too, but ld lists them after an empty STT_FILE:
 * they are found by name.) */
int df_sym_scoped(const struct df_sym *s)
{
	return s->sec && s->bind == STB_LOCAL;
}

const char *df_sym_label(const struct df_obj *o, const struct df_sym *s, char *buf, size_t len)
{
	if (df_sym_scoped(s) && o->file && *o->file)
		snprintf(buf, len, "%s#%s", o->file, s->name);
	else
		snprintf(buf, len, "%s", s->name);
	return buf;
}

/* Length of the part of `name` before compiler suffixes (".3", ".constprop.0",
 * ".isra.0", ".part.1", ".cold", ".lto_priv.0" ...). */
size_t df_base_len(const char *name)
{
	const char *dot = strchr(name, '.');
	if (!dot || dot == name)
		return strlen(name);
	return (size_t)(dot - name);
}

/* 1 when `name` carries the compiler suffix `kind` ("cold", "constprop", ...). */
int df_name_has_suffix(const char *name, const char *kind)
{
	size_t k = strlen(kind);
	for (const char *p = strchr(name, '.'); p; p = strchr(p + 1, '.'))
		if (strncmp(p + 1, kind, k) == 0 && (p[1 + k] == '.' || p[1 + k] == '\0'))
			return 1;
	return 0;
}

/* 1 when `name` is an item of the ", "-separated `list`. */
int df_list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Append `name` to the ", "-separated `list` (of `len` bytes) unless there. */
void df_list_add(char *list, size_t len, const char *name)
{
	size_t n = strlen(list);
	if (!df_list_has(list, name) && n + 1 < len)
		snprintf(list + n, len - n, "%s%s", n ? ", " : "", name);
}
