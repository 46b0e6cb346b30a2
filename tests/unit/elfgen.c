/* elfgen: see elfgen.h. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xsplice/payload.h>

#include "elfgen.h"

void eg_init(struct eg *g)
{
	memset(g, 0, sizeof(*g));
	g->nsec = 1;
	g->nsym = 1;
	g->machine = EM_X86_64;
}

void eg_free(struct eg *g)
{
	for (unsigned i = 0; i < g->nsec; i++)
		free(g->sec[i].data);
	g->nsec = 0;
}

void eg_set_data(struct eg *g, unsigned i, const void *data, size_t size)
{
	struct eg_sec *s = &g->sec[i];
	uint8_t *old = s->data; /* data may point into it */
	size_t old_size = s->size;

	s->data = NULL;
	s->size = size;
	if (s->type != SHT_NOBITS) {
		s->data = calloc(1, size + 1);
		assert(s->data);
		if (data)
			memcpy(s->data, data, data == old && old_size < size ? old_size : size);
	}
	free(old);
}

unsigned eg_add_sec(struct eg *g, const char *name, uint32_t type, uint64_t flags, uint64_t align,
                    const void *data, size_t size)
{
	struct eg_sec *s;

	assert(g->nsec < EG_MAX_SECS);
	s = &g->sec[g->nsec];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = type;
	s->flags = flags;
	s->align = align;
	eg_set_data(g, g->nsec, data, size);
	return g->nsec++;
}

unsigned eg_add_sym(struct eg *g, const char *name, int bind, int type, unsigned shndx,
                    uint64_t value, uint64_t size)
{
	struct eg_sym *y;

	assert(g->nsym < EG_MAX_SYMS);
	y = &g->sym[g->nsym];
	snprintf(y->name, sizeof(y->name), "%s", name);
	y->info = ELF64_ST_INFO(bind, type);
	y->shndx = (uint16_t)shndx;
	y->value = value;
	y->size = size;
	return g->nsym++;
}

unsigned eg_add_rel(struct eg *g, unsigned sec, uint64_t off, unsigned sym, uint32_t type,
                    int64_t addend)
{
	assert(g->nrel < EG_MAX_RELS);
	g->rel[g->nrel] = (struct eg_rel){sec, off, sym, type, addend};
	return g->nrel++;
}

unsigned eg_find(const struct eg *g, const char *name)
{
	for (unsigned i = 1; i < g->nsec; i++)
		if (!strcmp(g->sec[i].name, name))
			return i;
	return 0;
}

/* ---- serialisation -------------------------------------------------------------- */

struct strtab {
	char buf[8192];
	size_t len;
};

static uint32_t str_add(struct strtab *t, const char *s)
{
	size_t n = strlen(s) + 1;
	uint32_t off = (uint32_t)t->len;

	assert(t->len + n <= sizeof(t->buf));
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	return off;
}

struct blob {
	uint8_t *p;
	size_t len, cap;
};

static uint64_t blob_put(struct blob *b, const void *data, size_t n, size_t align)
{
	uint64_t off;

	if (align < 1)
		align = 1;
	while (b->len % align)
		b->len++;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 256;
		b->p = realloc(b->p, b->cap);
		assert(b->p);
	}
	off = b->len;
	memset(b->p + b->len, 0, n);
	if (data)
		memcpy(b->p + off, data, n);
	b->len += n;
	return off;
}

static unsigned rel_count(const struct eg *g, unsigned sec)
{
	unsigned n = 0;

	for (unsigned k = 0; k < g->nrel; k++)
		n += g->rel[k].sec == sec;
	return n;
}

static void build_relas(const struct eg *g, struct eg_out *o, struct blob *b, Elf64_Shdr *sh,
                        struct strtab *shstr, unsigned *n)
{
	for (unsigned i = 1; i < g->nsec; i++) {
		unsigned cnt = rel_count(g, i), j = 0;
		Elf64_Rela *r;
		char name[80];

		if (!cnt)
			continue;
		r = calloc(cnt, sizeof(*r));
		assert(r);
		for (unsigned k = 0; k < g->nrel; k++)
			if (g->rel[k].sec == i)
				r[j++] = (Elf64_Rela){g->rel[k].off,
				                      ELF64_R_INFO(g->rel[k].sym, g->rel[k].type),
				                      g->rel[k].addend};
		snprintf(name, sizeof(name), ".rela%s", g->sec[i].name);
		sh[*n] = (Elf64_Shdr){.sh_name = str_add(shstr, name),
		                      .sh_type = SHT_RELA,
		                      .sh_flags = SHF_INFO_LINK,
		                      .sh_offset = blob_put(b, r, cnt * sizeof(*r), 8),
		                      .sh_size = cnt * sizeof(*r),
		                      .sh_info = i,
		                      .sh_addralign = 8,
		                      .sh_entsize = sizeof(*r)};
		o->rela_of[i] = (*n)++;
		free(r);
	}
}

static void build_symtab(const struct eg *g, struct eg_out *o, struct blob *b, Elf64_Shdr *sh,
                         struct strtab *shstr, unsigned *n)
{
	struct strtab *str = calloc(1, sizeof(*str));
	Elf64_Sym *y = calloc(g->nsym, sizeof(*y));
	unsigned first_global = g->nsym;

	assert(str && y);
	str_add(str, "");
	for (unsigned k = 1; k < g->nsym; k++) {
		y[k] = (Elf64_Sym){.st_name = g->sym[k].name[0] ? str_add(str, g->sym[k].name) : 0,
		                   .st_info = g->sym[k].info,
		                   .st_shndx = g->sym[k].shndx,
		                   .st_value = g->sym[k].value,
		                   .st_size = g->sym[k].size};
		if (ELF64_ST_BIND(g->sym[k].info) != STB_LOCAL && first_global == g->nsym)
			first_global = k;
	}
	o->symtab = *n;
	o->strtab = *n + 1;
	sh[*n] = (Elf64_Shdr){.sh_name = str_add(shstr, ".symtab"),
	                      .sh_type = SHT_SYMTAB,
	                      .sh_offset = blob_put(b, y, g->nsym * sizeof(*y), 8),
	                      .sh_size = g->nsym * sizeof(*y),
	                      .sh_link = o->strtab,
	                      .sh_info = first_global,
	                      .sh_addralign = 8,
	                      .sh_entsize = sizeof(*y)};
	(*n)++;
	sh[*n] = (Elf64_Shdr){.sh_name = str_add(shstr, ".strtab"),
	                      .sh_type = SHT_STRTAB,
	                      .sh_offset = blob_put(b, str->buf, str->len, 1),
	                      .sh_size = str->len,
	                      .sh_addralign = 1};
	(*n)++;
	free(str);
	free(y);
}

void eg_build(const struct eg *g, struct eg_out *o)
{
	struct blob b = {0};
	struct strtab *shstr = calloc(1, sizeof(*shstr));
	Elf64_Shdr sh[EG_MAX_SECS * 2 + 4] = {{0}};
	Elf64_Ehdr eh = {0};
	unsigned n = g->nsec;

	assert(shstr);
	memset(o, 0, sizeof(*o));
	str_add(shstr, "");
	blob_put(&b, NULL, sizeof(eh), 8);
	for (unsigned i = 1; i < g->nsec; i++) {
		const struct eg_sec *s = &g->sec[i];

		sh[i] = (Elf64_Shdr){.sh_name = str_add(shstr, s->name),
		                     .sh_type = s->type,
		                     .sh_flags = s->flags,
		                     .sh_size = s->size,
		                     .sh_link = s->link,
		                     .sh_info = s->info,
		                     .sh_addralign = s->align,
		                     .sh_entsize = s->entsize};
		sh[i].sh_offset = s->type == SHT_NOBITS
		                      ? b.len
		                      : blob_put(&b, s->data, s->size, s->align ? s->align : 1);
	}
	build_relas(g, o, &b, sh, shstr, &n);
	build_symtab(g, o, &b, sh, shstr, &n);
	for (unsigned i = 1; i < g->nsec; i++)
		if (o->rela_of[i])
			sh[o->rela_of[i]].sh_link = o->symtab;
	o->shstrtab = n;
	sh[n] = (Elf64_Shdr){.sh_name = str_add(shstr, ".shstrtab"),
	                     .sh_type = SHT_STRTAB,
	                     .sh_offset = blob_put(&b, shstr->buf, shstr->len, 1),
	                     .sh_size = shstr->len,
	                     .sh_addralign = 1};
	n++;
	o->shoff = blob_put(&b, sh, n * sizeof(sh[0]), 8);
	o->nsec = n;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_REL;
	eh.e_machine = g->machine;
	eh.e_version = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = (uint16_t)n;
	eh.e_shoff = o->shoff;
	eh.e_shstrndx = (uint16_t)o->shstrtab;
	memcpy(b.p, &eh, sizeof(eh));
	o->buf = b.p;
	o->len = b.len;
	free(shstr);
}

void eg_out_free(struct eg_out *o)
{
	free(o->buf);
	o->buf = NULL;
}

Elf64_Ehdr *eg_ehdr(struct eg_out *o)
{
	return (Elf64_Ehdr *)o->buf;
}

Elf64_Shdr *eg_shdr(struct eg_out *o, unsigned i)
{
	return (Elf64_Shdr *)(o->buf + o->shoff) + i;
}

Elf64_Sym *eg_sym(struct eg_out *o, unsigned k)
{
	return (Elf64_Sym *)(o->buf + eg_shdr(o, o->symtab)->sh_offset) + k;
}

Elf64_Rela *eg_rela(struct eg_out *o, unsigned sec, unsigned k)
{
	return (Elf64_Rela *)(o->buf + eg_shdr(o, o->rela_of[sec])->sh_offset) + k;
}

/* ---- the minimal payload -------------------------------------------------------- */

size_t eg_note(uint8_t *buf, const void *desc, uint32_t len)
{
	Elf64_Nhdr n = {4, len, 3};
	size_t pad = (len + 3u) & ~3u;

	memcpy(buf, &n, sizeof(n));
	memcpy(buf + sizeof(n), "GNU", 4);
	memset(buf + sizeof(n) + 4, 0, pad);
	memcpy(buf + sizeof(n) + 4, desc, len);
	return sizeof(n) + 4 + pad;
}

/*
 * new_fn:
 *   0: 53                     push %rbx
 *   1: e8 <PLT32 ext_fn>      call ext_fn
 *   6: 89 c3                  mov %eax,%ebx
 *   8: 48 8b 05 <GOTPCRELX>   mov counter@GOTPCREL(%rip),%rax
 *   f: 03 18                  add (%rax),%ebx
 *  11: 89 d8                  mov %ebx,%eax
 *  13: 5b                     pop %rbx
 *  14: c3                     ret
 */
static const uint8_t new_fn_code[EG_NEW_FN_SIZE] = {
    0x53, 0xe8, 0, 0, 0,    0,    0x89, 0xc3, 0x48, 0x8b, 0x05,
    0,    0,    0, 0, 0x03, 0x18, 0x89, 0xd8, 0x5b, 0xc3,
};

void eg_minimal(struct eg *g, struct eg_min *m)
{
	struct xsplice_func f = {.version = XSPLICE_FUNC_VERSION, .new_size = EG_NEW_FN_SIZE};
	uint8_t note[64], zero[16] = {0};
	struct xsplice_symref ref = {0};
	static const uint8_t id[4] = {1, 2, 3, 4};

	eg_init(g);
	m->text = eg_add_sec(g, ".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 16, new_fn_code,
	                     sizeof(new_fn_code));
	m->rodata = eg_add_sec(g, ".rodata.str", SHT_PROGBITS, SHF_ALLOC | SHF_MERGE | SHF_STRINGS,
	                       1, "old_fn", 7);
	m->data = eg_add_sec(g, ".data", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8, zero, 16);
	m->bss = eg_add_sec(g, ".bss", SHT_NOBITS, SHF_ALLOC | SHF_WRITE, 16, NULL, 16);
	m->funcs =
	    eg_add_sec(g, XSPLICE_SEC_FUNCS, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8, &f, sizeof(f));
	m->target =
	    eg_add_sec(g, XSPLICE_SEC_TARGET, SHT_NOTE, 0, 4, note, eg_note(note, id, sizeof(id)));

	m->sym_text = eg_add_sym(g, "", STB_LOCAL, STT_SECTION, m->text, 0, 0);
	m->sym_rodata = eg_add_sym(g, "", STB_LOCAL, STT_SECTION, m->rodata, 0, 0);
	m->sym_new = eg_add_sym(g, "new_fn", STB_GLOBAL, STT_FUNC, m->text, 0, EG_NEW_FN_SIZE);
	m->sym_old = eg_add_sym(g, "old_fn", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	m->sym_ext = eg_add_sym(g, "ext_fn", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	m->sym_counter = eg_add_sym(g, "counter", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);

	ref.symidx = m->sym_old;
	ref.offset = EG_OLD_FN_OFFSET;
	m->symrefs = eg_add_sec(g, XSPLICE_SEC_SYMREFS, SHT_PROGBITS, 0, 8, &ref, sizeof(ref));

	eg_add_rel(g, m->funcs, 0, m->sym_rodata, R_X86_64_64, 0);
	eg_add_rel(g, m->funcs, 8, m->sym_new, R_X86_64_64, 0);
	eg_add_rel(g, m->funcs, 16, m->sym_old, R_X86_64_64, 0);
	eg_add_rel(g, m->text, 2, m->sym_ext, R_X86_64_PLT32, -4);
	eg_add_rel(g, m->text, 11, m->sym_counter, R_X86_64_REX_GOTPCRELX, -4);
}

unsigned eg_add_hook(struct eg *g, const char *name, unsigned sym)
{
	uint8_t zero[8] = {0};
	unsigned s = eg_add_sec(g, name, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8, zero, 8);

	eg_add_rel(g, s, 0, sym, R_X86_64_64, 0);
	return s;
}
