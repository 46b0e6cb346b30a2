/*
 * The `ld -r` output as an array of editable sections.  The payload is
 * rebuilt from this model by emit.c, which is simpler and safer than
 * editing the ELF in place: sections can be dropped and added, and every
 * index is renumbered in one place.
 */
#include "build/pack/pack.h"

#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load_sections(struct pk_obj *o, Elf *e, const char *path, struct xs_err *err)
{
	size_t n, shstrndx;
	if (elf_getshdrnum(e, &n) != 0 || elf_getshdrstrndx(e, &shstrndx) != 0)
		return xs_err_set(err, -ENOEXEC, "%s: unreadable section headers", path);
	o->secs = calloc(n ? n : 1, sizeof(*o->secs));
	if (!o->secs)
		return xs_err_set(err, -ENOMEM, "out of memory");
	o->nsecs = n;
	for (size_t i = 1; i < n; i++) {
		Elf_Scn *scn = elf_getscn(e, i);
		Elf64_Shdr *sh = scn ? elf64_getshdr(scn) : NULL;
		const char *name = sh ? elf_strptr(e, shstrndx, sh->sh_name) : NULL;
		if (!sh || !name)
			return xs_err_set(err, -ENOEXEC, "%s: unreadable section %zu", path, i);
		struct pk_sec *s = &o->secs[i];
		s->sh = *sh;
		s->name = strdup(name);
		if (!s->name)
			return xs_err_set(err, -ENOMEM, "out of memory");
		if (sh->sh_type == SHT_NOBITS || sh->sh_size == 0)
			continue;
		Elf_Data *d = elf_rawdata(scn, NULL);
		if (!d || d->d_size != sh->sh_size)
			return xs_err_set(err, -ENOEXEC, "%s: unreadable section %s", path, name);
		s->data = malloc(d->d_size);
		if (!s->data)
			return xs_err_set(err, -ENOMEM, "out of memory");
		memcpy(s->data, d->d_buf, d->d_size);
	}
	return 0;
}

static int find_symtab(struct pk_obj *o, const char *path, struct xs_err *err)
{
	for (size_t i = 1; i < o->nsecs; i++) {
		const Elf64_Shdr *sh = &o->secs[i].sh;
		if (sh->sh_type == SHT_REL)
			return xs_err_set(err, -ENOEXEC,
			                  "%s: section %s uses REL relocations; "
			                  "x86-64 payloads use RELA",
			                  path, o->secs[i].name);
		if (sh->sh_type == SHT_SYMTAB_SHNDX)
			return xs_err_set(err, -E2BIG, "%s: too many sections (extended indexes)",
			                  path);
		if (sh->sh_type != SHT_SYMTAB)
			continue;
		if (o->symtab)
			return xs_err_set(err, -ENOEXEC, "%s: two symbol tables", path);
		if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_link == 0 ||
		    sh->sh_link >= o->nsecs || o->secs[sh->sh_link].sh.sh_type != SHT_STRTAB)
			return xs_err_set(err, -ENOEXEC, "%s: malformed .symtab", path);
		o->symtab = i;
	}
	if (!o->symtab)
		return xs_err_set(err, -ENOEXEC, "%s: no symbol table", path);
	struct pk_sec *st = &o->secs[o->symtab], *str = &o->secs[st->sh.sh_link];
	o->syms = (Elf64_Sym *)st->data;
	o->nsyms = st->sh.sh_size / sizeof(Elf64_Sym);
	o->strtab = (const char *)str->data;
	o->strtab_size = str->sh.sh_size;
	if (!o->strtab || o->strtab[o->strtab_size - 1] != '\0')
		return xs_err_set(err, -ENOEXEC, "%s: malformed .strtab", path);
	for (size_t i = 0; i < o->nsyms; i++)
		if (o->syms[i].st_name >= o->strtab_size)
			return xs_err_set(err, -ENOEXEC, "%s: symbol %zu has a bad name", path, i);
	return 0;
}

int pk_obj_load(struct pk_obj *o, const char *path, struct xs_err *err)
{
	memset(o, 0, sizeof(*o));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return xs_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	Elf64_Ehdr *eh = e ? elf64_getehdr(e) : NULL;
	int rc;
	if (!eh || eh->e_type != ET_REL)
		rc = xs_err_set(err, -ENOEXEC, "%s: not an ELF64 relocatable object", path);
	else {
		o->eh = *eh;
		rc = load_sections(o, e, path, err);
	}
	if (rc == 0)
		rc = find_symtab(o, path, err);
	if (e)
		elf_end(e);
	close(fd);
	if (rc)
		pk_obj_free(o);
	return rc;
}

void pk_obj_free(struct pk_obj *o)
{
	for (size_t i = 0; i < o->nsecs; i++) {
		free(o->secs[i].name);
		free(o->secs[i].data);
	}
	free(o->secs);
	memset(o, 0, sizeof(*o));
}

size_t pk_obj_find(const struct pk_obj *o, const char *name)
{
	for (size_t i = 1; i < o->nsecs; i++)
		if (!o->secs[i].drop && strcmp(o->secs[i].name, name) == 0)
			return i;
	return 0;
}

size_t pk_obj_rela_for(const struct pk_obj *o, size_t idx)
{
	for (size_t i = 1; i < o->nsecs; i++)
		if (o->secs[i].sh.sh_type == SHT_RELA && o->secs[i].sh.sh_info == idx)
			return i;
	return 0;
}

size_t pk_obj_add(struct pk_obj *o, const char *name, uint32_t type, uint64_t flags, uint64_t align,
                  uint64_t entsize, const void *data, size_t size)
{
	struct pk_sec *secs = realloc(o->secs, (o->nsecs + 1) * sizeof(*secs));
	if (!secs)
		return 0;
	o->secs = secs;
	/* the symbol table pointers follow a moved array of sections */
	o->syms = (Elf64_Sym *)secs[o->symtab].data;
	struct pk_sec *s = &secs[o->nsecs];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	s->data = size ? malloc(size) : NULL;
	if (!s->name || (size && !s->data)) {
		free(s->name);
		free(s->data);
		return 0;
	}
	if (size)
		memcpy(s->data, data, size);
	s->sh = (Elf64_Shdr){.sh_type = type,
	                     .sh_flags = flags,
	                     .sh_size = size,
	                     .sh_addralign = align,
	                     .sh_entsize = entsize};
	return o->nsecs++;
}

const char *pk_sym_name(const struct pk_obj *o, size_t symidx)
{
	if (symidx >= o->nsyms)
		return "?";
	const Elf64_Sym *s = &o->syms[symidx];
	if (ELF64_ST_TYPE(s->st_info) == STT_SECTION && s->st_shndx < o->nsecs)
		return o->secs[s->st_shndx].name;
	return o->strtab + s->st_name;
}

const char *pk_sym_desc(const struct pk_obj *o, size_t symidx)
{
	static char buf[2][256];
	static int which;
	char *b = buf[which ^= 1];
	const char *kind = "symbol";
	if (symidx < o->nsyms) {
		switch (ELF64_ST_TYPE(o->syms[symidx].st_info)) {
		case STT_FUNC:
			kind = "function";
			break;
		case STT_OBJECT:
			kind = "variable";
			break;
		case STT_SECTION:
			kind = "section";
			break;
		}
	}
	snprintf(b, sizeof(buf[0]), "%s '%s'", kind, pk_sym_name(o, symidx));
	return b;
}
