/*
 * Writing the output object: the included sections of the patched object
 * (bytes unchanged), their relocations rewritten so that whatever was not
 * included becomes an undefined symbol the pack tool resolves against the
 * target, an .xsplice.funcs entry per replaced function, .xsplice.symhints
 * records for file-local targets and for the old functions, and .eh_frame
 * pruned to the included code.
 *
 * Names of the undefined symbols:
 *   global target symbol      its own name
 *   file-local target symbol  "file.c#name"        + hint "file.c#name"
 *   replaced function (old)   "xsplice.old.name"   + hint "name" or "file.c#name"
 */
#include "build/diff/diff.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xsplice/payload.h>

#define GLOBAL_ID (1u << 31)

struct bytes {
	uint8_t *p;
	size_t n, cap;
	int oom;
};

static size_t put(struct bytes *b, const void *p, size_t n)
{
	size_t at = b->n;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return at;
		}
		b->p = q;
		b->cap = cap;
	}
	if (p)
		memcpy(b->p + b->n, p, n);
	else
		memset(b->p + b->n, 0, n);
	b->n += n;
	return at;
}

static size_t put_str(struct bytes *b, const char *s)
{
	return put(b, s, strlen(s) + 1);
}

struct orel {
	uint64_t off;
	uint32_t type;
	uint32_t sym; /* provisional id: local index, or GLOBAL_ID | global index */
	int64_t addend;
};

struct osec {
	const char *name;
	uint32_t type;
	uint64_t flags, align, entsize;
	struct bytes data;  /* owned */
	const uint8_t *ext; /* borrowed bytes (copied sections) */
	size_t size;
	struct orel *rels;
	size_t nrels, crels;
	uint32_t secsym; /* local id of its section symbol */
};

struct em {
	struct df_ctx *c;
	struct osec *secs; /* [0] unused */
	size_t nsecs;
	struct bytes locals, globals; /* Elf64_Sym arrays */
	struct bytes strtab, hints;
	size_t *out_of; /* patched section index -> output section index */
	struct xs_err *err;
	int failed;
};

static size_t add_sec(struct em *m, const char *name, uint32_t type, uint64_t flags, uint64_t align,
                      uint64_t entsize)
{
	struct osec *s = realloc(m->secs, (m->nsecs + 1) * sizeof(*s));
	if (!s) {
		m->failed = xs_err_set(m->err, -ENOMEM, "out of memory");
		return 0;
	}
	m->secs = s;
	memset(&s[m->nsecs], 0, sizeof(*s));
	s[m->nsecs] = (struct osec){
	    .name = name, .type = type, .flags = flags, .align = align, .entsize = entsize};
	return m->nsecs++;
}

static uint32_t add_sym(struct em *m, const char *name, unsigned bind, unsigned type, size_t shndx,
                        uint64_t value, uint64_t size)
{
	Elf64_Sym s = {
	    .st_name = name && *name ? (uint32_t)put_str(&m->strtab, name) : 0,
	    .st_info = ELF64_ST_INFO(bind, type),
	    .st_shndx = (uint16_t)shndx,
	    .st_value = value,
	    .st_size = size,
	};
	struct bytes *b = bind == STB_LOCAL ? &m->locals : &m->globals;
	size_t at = put(b, &s, sizeof(s)) / sizeof(s);
	return bind == STB_LOCAL ? (uint32_t)at : (GLOBAL_ID | (uint32_t)at);
}

static void add_rel(struct em *m, size_t sec, uint64_t off, uint32_t type, uint32_t sym,
                    int64_t addend)
{
	struct osec *s = &m->secs[sec];
	if (s->nrels == s->crels) {
		size_t cap = s->crels ? 2 * s->crels : 16;
		struct orel *r = realloc(s->rels, cap * sizeof(*r));
		if (!r) {
			m->failed = xs_err_set(m->err, -ENOMEM, "out of memory");
			return;
		}
		s->rels = r;
		s->crels = cap;
	}
	s->rels[s->nrels++] = (struct orel){off, type, sym, addend};
}

/* ---- undefined symbols for what stays in the target ----------------------------- */

static uint32_t find_global(struct em *m, const char *name)
{
	const Elf64_Sym *g = (const Elf64_Sym *)m->globals.p;
	size_t n = m->globals.n / sizeof(*g);
	for (size_t i = 0; i < n; i++)
		if (g[i].st_shndx == SHN_UNDEF &&
		    strcmp((const char *)m->strtab.p + g[i].st_name, name) == 0)
			return GLOBAL_ID | (uint32_t)i;
	return 0;
}

/* `type` is STT_TLS for the target's thread-local variables, else ignored. */
static uint32_t undef(struct em *m, const char *name, unsigned bind, const char *spec,
                      unsigned type)
{
	uint32_t id = find_global(m, name);
	if (id)
		return id;
	if (spec) {
		put_str(&m->hints, name);
		put_str(&m->hints, spec);
	}
	return add_sym(m, name, bind == STB_WEAK ? STB_WEAK : STB_GLOBAL,
	               type == STT_TLS ? STT_TLS : STT_NOTYPE, SHN_UNDEF, 0, 0);
}

/* The target's own `t` (a symbol of the original object). */
static uint32_t target_ref(struct em *m, const struct df_sym *t)
{
	if (!df_sym_scoped(t))
		return undef(m, t->name, t->bind, NULL, t->type);
	char alias[600];
	df_sym_label(&m->c->orig, t, alias, sizeof(alias));
	return undef(m, alias, STB_GLOBAL, alias, t->type);
}

/* Output symbol and addend for one relocation of an included section. */
static int map_rel(struct em *m, const struct df_sec *from, const struct df_rel *r, uint32_t *sym,
                   int64_t *addend)
{
	struct df_obj *o = &m->c->patched;
	const struct df_sym *y = &o->syms[r->sym];
	if (y->s.st_shndx == SHN_UNDEF) {
		*sym = undef(m, y->name, y->bind, NULL, y->type);
		*addend = r->addend;
		return 0;
	}
	if (y->s.st_shndx == SHN_ABS) {
		*sym = add_sym(m, y->name, STB_LOCAL, y->type, SHN_ABS, y->s.st_value, 0);
		*addend = r->addend;
		return 0;
	}
	const struct df_sec *s = &o->secs[y->sec];
	if (s->include) {
		*sym = m->secs[m->out_of[s->idx]].secsym;
		*addend = (int64_t)y->s.st_value + r->addend;
		return 0;
	}
	int64_t a;
	size_t t = df_rel_target(o, r, &a);
	if (!t || !o->syms[t].twin)
		return xs_err_set(m->err, -EINVAL,
		                  "%s: the reference at +0x%llx to %s cannot be expressed "
		                  "as a target symbol",
		                  from->name, (unsigned long long)r->off, s->name);
	*sym = target_ref(m, o->syms[t].twin);
	*addend = a;
	return 0;
}

/* ---- sections --------------------------------------------------------------------- */

static int copy_sections(struct em *m)
{
	struct df_obj *o = &m->c->patched;
	for (size_t i = 1; i < o->nsecs && !m->failed; i++) {
		struct df_sec *s = &o->secs[i];
		if (!s->include)
			continue;
		size_t k = add_sec(m, s->name, s->sh.sh_type, s->sh.sh_flags & ~(uint64_t)SHF_GROUP,
		                   s->sh.sh_addralign, s->sh.sh_entsize);
		if (!k)
			break;
		m->secs[k].ext = s->data;
		m->secs[k].size = s->size;
		m->out_of[i] = k;
		if (s->sh.sh_flags & SHF_ALLOC)
			m->secs[k].secsym = add_sym(m, NULL, STB_LOCAL, STT_SECTION, k, 0, 0);
	}
	return m->failed;
}

static void copy_symbols(struct em *m)
{
	struct df_obj *o = &m->c->patched;
	for (size_t i = 1; i < o->nsyms; i++) {
		struct df_sym *y = &o->syms[i];
		if (!y->sec || !o->secs[y->sec].include || y->type == STT_SECTION ||
		    y->type == STT_FILE)
			continue;
		if (y->bind == STB_LOCAL && y->type == STT_NOTYPE)
			continue; /* .LC labels: relocations use section symbols */
		y->outsym = add_sym(m, y->name, y->bind, y->type, m->out_of[y->sec], y->s.st_value,
		                    y->s.st_size);
	}
}

static int relocate(struct em *m)
{
	struct df_obj *o = &m->c->patched;
	for (size_t i = 1; i < o->nsecs && !m->failed; i++) {
		struct df_sec *s = &o->secs[i];
		if (!s->include || s->kind == DK_EHFRAME)
			continue;
		for (size_t k = 0; k < s->nrels && !m->failed; k++) {
			uint32_t sym;
			int64_t a;
			if ((m->failed = map_rel(m, s, &s->rels[k], &sym, &a)))
				break;
			add_rel(m, m->out_of[i], s->rels[k].off, s->rels[k].type, sym, a);
		}
	}
	return m->failed;
}

/* ---- .xsplice.funcs ---------------------------------------------------------------- */

static int funcs(struct em *m)
{
	struct df_obj *o = &m->c->patched;
	size_t fs = 0, ns = 0;
	for (size_t i = 1; i < o->nsyms && !m->failed; i++) {
		struct df_sym *y = &o->syms[i];
		if (!(y->flags & DF_REPLACE))
			continue;
		if (!fs) {
			ns = add_sec(m, ".rodata.xsplice.names", SHT_PROGBITS,
			             SHF_ALLOC | SHF_MERGE | SHF_STRINGS, 1, 1);
			fs = add_sec(m, XSPLICE_SEC_FUNCS, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8,
			             0);
			if (!fs)
				return m->failed;
			m->secs[ns].secsym = add_sym(m, NULL, STB_LOCAL, STT_SECTION, ns, 0, 0);
			m->secs[fs].secsym = add_sym(m, NULL, STB_LOCAL, STT_SECTION, fs, 0, 0);
		}
		const struct df_sym *t = y->twin;
		struct xsplice_func f = {.version = XSPLICE_FUNC_VERSION};
		size_t at = put(&m->secs[fs].data, &f, sizeof(f));
		size_t name = put_str(&m->secs[ns].data, t->name);
		char alias[700], lbl[600];
		snprintf(alias, sizeof(alias), "xsplice.old.%s",
		         df_sym_label(&m->c->orig, t, lbl, sizeof(lbl)));
		add_rel(m, fs, at + 0, R_X86_64_64, m->secs[ns].secsym, (int64_t)name);
		add_rel(m, fs, at + 8, R_X86_64_64, y->outsym, 0);
		add_rel(m, fs, at + 16, R_X86_64_64, undef(m, alias, STB_GLOBAL, lbl, STT_NOTYPE),
		        0);
	}
	if (fs) {
		m->secs[fs].size = m->secs[fs].data.n;
		m->secs[ns].size = m->secs[ns].data.n;
	}
	return m->failed;
}

/* ---- .eh_frame pruned to the included functions --------------------------------------- */

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Does the FDE at `off` describe included code? */
static int fde_kept(struct em *m, const struct df_sec *eh, size_t off)
{
	const struct df_rel *r = df_rel_at(eh, off + 8);
	if (!r)
		return 0;
	const struct df_sym *y = &m->c->patched.syms[r->sym];
	return y->sec && m->c->patched.secs[y->sec].include &&
	       m->c->patched.secs[y->sec].kind == DK_TEXT;
}

static int eh_frame(struct em *m)
{
	struct df_obj *o = &m->c->patched;
	const struct df_sec *eh = NULL;
	for (size_t i = 1; i < o->nsecs; i++)
		if (o->secs[i].kind == DK_EHFRAME && o->secs[i].data)
			eh = &o->secs[i];
	if (!eh)
		return 0;
	size_t k = add_sec(m, ".eh_frame", eh->sh.sh_type, eh->sh.sh_flags, eh->sh.sh_addralign, 0);
	if (!k)
		return m->failed;
	struct osec *out = &m->secs[k];
	out->secsym = add_sym(m, NULL, STB_LOCAL, STT_SECTION, k, 0, 0);
	size_t *cie_at = calloc(eh->size / 4 + 1, sizeof(size_t)); /* old CIE offset -> new + 1 */
	if (!cie_at)
		return m->failed = xs_err_set(m->err, -ENOMEM, "out of memory");
	for (size_t off = 0; off + 8 <= eh->size && !m->failed;) {
		uint32_t len = rd32(eh->data + off);
		if (len == 0 || len == 0xffffffffu || off + 4 + len > eh->size)
			break;
		uint32_t id = rd32(eh->data + off + 4);
		size_t cie = off + 4 - id;
		int keep = id == 0 || (cie < eh->size && cie_at[cie / 4] && fde_kept(m, eh, off));
		if (keep) {
			size_t at = put(&out->data, eh->data + off, 4 + len);
			if (id == 0) {
				cie_at[off / 4] = at + 1;
			} else {
				uint32_t nid = (uint32_t)(at + 4 - (cie_at[cie / 4] - 1));
				memcpy(out->data.p + at + 4, &nid, 4);
			}
			for (size_t r = 0; r < eh->nrels; r++) {
				const struct df_rel *x = &eh->rels[r];
				uint32_t sym;
				int64_t a;
				if (x->off < off || x->off >= off + 4 + len)
					continue;
				if ((m->failed = map_rel(m, eh, x, &sym, &a)))
					break;
				add_rel(m, k, at + (x->off - off), x->type, sym, a);
			}
		}
		off += 4 + len;
	}
	free(cie_at);
	out->size = out->data.n;
	return m->failed;
}

/* ---- writing ------------------------------------------------------------------------- */

static uint32_t final_id(const struct em *m, uint32_t id)
{
	return id & GLOBAL_ID ? (uint32_t)(m->locals.n / sizeof(Elf64_Sym)) + (id & ~GLOBAL_ID)
	                      : id;
}

static Elf_Scn *new_scn(Elf *e, struct bytes *shstr, const char *name, uint32_t type,
                        uint64_t flags, uint64_t align, uint64_t entsize, const void *buf,
                        size_t size)
{
	Elf_Scn *scn = elf_newscn(e);
	Elf64_Shdr *sh = scn ? elf64_getshdr(scn) : NULL;
	Elf_Data *d = sh ? elf_newdata(scn) : NULL;
	if (!d)
		return NULL;
	sh->sh_name = (uint32_t)put_str(shstr, name);
	sh->sh_type = type;
	sh->sh_flags = flags;
	sh->sh_addralign = align ? align : 1;
	sh->sh_entsize = entsize;
	d->d_buf = (void *)buf;
	d->d_size = size;
	d->d_type = ELF_T_BYTE;
	d->d_align = align ? align : 1;
	return scn;
}

static int write_elf(struct em *m, const char *path)
{
	struct df_obj *o = &m->c->patched;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return xs_err_set(m->err, -errno, "cannot create %s: %s", path, strerror(errno));
	Elf *e = elf_begin(fd, ELF_C_WRITE, NULL);
	Elf64_Ehdr *eh = e ? elf64_newehdr(e) : NULL;
	int rc = 0;
	struct bytes shstr = {0};
	put(&shstr, "", 1);
	struct bytes *relbufs = calloc(m->nsecs + 1, sizeof(*relbufs));
	char **relnames = calloc(m->nsecs + 1, sizeof(*relnames));
	if (!eh || !relbufs || !relnames) {
		rc = xs_err_set(m->err, -ENOMEM, "libelf: %s", elf_errmsg(-1));
		goto out;
	}
	memcpy(eh->e_ident, o->eh.e_ident, EI_NIDENT);
	eh->e_type = ET_REL;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_flags = (uint32_t)o->eh.e_flags;
	for (size_t i = 1; i < m->nsecs; i++) {
		struct osec *s = &m->secs[i];
		const void *buf = s->type == SHT_NOBITS ? NULL : (s->ext ? s->ext : s->data.p);
		if (!new_scn(e, &shstr, s->name, s->type, s->flags, s->align, s->entsize, buf,
		             s->size)) {
			rc = xs_err_set(m->err, -EIO, "libelf: %s", elf_errmsg(-1));
			goto out;
		}
	}
	size_t nloc = m->locals.n / sizeof(Elf64_Sym);
	size_t symidx = m->nsecs, stridx = m->nsecs + 1, first_rel = m->nsecs + 2;
	/* relocation sections follow .symtab and .strtab */
	for (size_t i = 1; i < m->nsecs; i++) {
		struct osec *s = &m->secs[i];
		for (size_t k = 0; k < s->nrels; k++) {
			Elf64_Rela r = {s->rels[k].off,
			                ELF64_R_INFO(final_id(m, s->rels[k].sym), s->rels[k].type),
			                s->rels[k].addend};
			put(&relbufs[i], &r, sizeof(r));
		}
	}
	put(&m->locals, m->globals.p, m->globals.n);
	Elf_Scn *sym = new_scn(e, &shstr, ".symtab", SHT_SYMTAB, 0, 8, sizeof(Elf64_Sym),
	                       m->locals.p, m->locals.n);
	Elf_Scn *str = new_scn(e, &shstr, ".strtab", SHT_STRTAB, 0, 1, 0, m->strtab.p, m->strtab.n);
	if (!sym || !str) {
		rc = xs_err_set(m->err, -EIO, "libelf: %s", elf_errmsg(-1));
		goto out;
	}
	elf64_getshdr(sym)->sh_link = (uint32_t)stridx;
	elf64_getshdr(sym)->sh_info = (uint32_t)nloc;
	size_t next = first_rel;
	for (size_t i = 1; i < m->nsecs; i++) {
		if (!relbufs[i].n)
			continue;
		size_t len = strlen(m->secs[i].name) + 6;
		relnames[i] = malloc(len);
		if (!relnames[i]) {
			rc = xs_err_set(m->err, -ENOMEM, "out of memory");
			goto out;
		}
		snprintf(relnames[i], len, ".rela%s", m->secs[i].name);
		Elf_Scn *rs = new_scn(e, &shstr, relnames[i], SHT_RELA, SHF_INFO_LINK, 8,
		                      sizeof(Elf64_Rela), relbufs[i].p, relbufs[i].n);
		if (!rs) {
			rc = xs_err_set(m->err, -EIO, "libelf: %s", elf_errmsg(-1));
			goto out;
		}
		elf64_getshdr(rs)->sh_link = (uint32_t)symidx;
		elf64_getshdr(rs)->sh_info = (uint32_t)i;
		next++;
	}
	size_t shstrndx = next;
	Elf_Scn *ss = new_scn(e, &shstr, ".shstrtab", SHT_STRTAB, 0, 1, 0, NULL, 0);
	if (!ss) {
		rc = xs_err_set(m->err, -EIO, "libelf: %s", elf_errmsg(-1));
		goto out;
	}
	/* every name is in now: hand the final buffer over */
	elf_getdata(ss, NULL)->d_buf = shstr.p;
	elf_getdata(ss, NULL)->d_size = shstr.n;
	eh->e_shstrndx = (uint16_t)shstrndx;
	if (shstr.oom || m->locals.oom || m->strtab.oom) {
		rc = xs_err_set(m->err, -ENOMEM, "out of memory");
		goto out;
	}
	if (elf_update(e, ELF_C_WRITE) < 0)
		rc = xs_err_set(m->err, -EIO, "writing %s: %s", path, elf_errmsg(-1));
out:
	if (e)
		elf_end(e);
	if (close(fd) && !rc)
		rc = xs_err_set(m->err, -errno, "writing %s: %s", path, strerror(errno));
	for (size_t i = 0; relbufs && i <= m->nsecs; i++)
		free(relbufs[i].p);
	for (size_t i = 0; relnames && i <= m->nsecs; i++)
		free(relnames[i]);
	free(relbufs);
	free(relnames);
	free(shstr.p);
	if (rc)
		unlink(path);
	return rc;
}

int df_emit(struct df_ctx *c, const char *path, struct xs_err *err)
{
	struct em m = {.c = c, .err = err, .nsecs = 1};
	m.secs = calloc(1, sizeof(*m.secs));
	m.out_of = calloc(c->patched.nsecs + 1, sizeof(size_t));
	if (!m.secs || !m.out_of)
		return xs_err_set(err, -ENOMEM, "out of memory");
	put(&m.strtab, "", 1);
	add_sym(&m, NULL, STB_LOCAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	add_sym(&m, c->patched.file, STB_LOCAL, STT_FILE, SHN_ABS, 0, 0);
	int rc = copy_sections(&m);
	if (!rc) {
		copy_symbols(&m);
		rc = relocate(&m);
	}
	if (!rc)
		rc = funcs(&m);
	if (!rc)
		rc = eh_frame(&m);
	if (!rc && m.hints.n) {
		size_t k = add_sec(&m, XSPLICE_SEC_SYMHINTS, SHT_PROGBITS, SHF_ALLOC, 1, 0);
		if (k) {
			m.secs[k].ext = m.hints.p;
			m.secs[k].size = m.hints.n;
		}
		rc = m.failed;
	}
	if (!rc)
		rc = add_sec(&m, ".note.GNU-stack", SHT_PROGBITS, 0, 1, 0) ? 0 : m.failed;
	if (!rc && (m.hints.oom || m.strtab.oom || m.globals.oom || m.locals.oom))
		rc = xs_err_set(err, -ENOMEM, "out of memory");
	if (!rc)
		rc = write_elf(&m, path);
	for (size_t i = 0; i < m.nsecs; i++) {
		free(m.secs[i].data.p);
		free(m.secs[i].rels);
	}
	free(m.secs);
	free(m.out_of);
	free(m.locals.p);
	free(m.globals.p);
	free(m.strtab.p);
	free(m.hints.p);
	return rc;
}
