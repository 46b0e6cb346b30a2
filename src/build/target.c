/*
 * Reading a target ELF: identity, symbols (with STT_FILE scope, from the
 * best source available) and image bytes.  See target.h.
 */
#include "build/target.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct xt_load {
	uint64_t vaddr, offset, filesz;
};

struct xt_image {
	const uint8_t *map; /* the whole target file, read-only */
	size_t size;
	struct xt_load *loads;
	size_t nloads;
	/* copy of the string table that symbol and STT_FILE names point into */
	char *strtab;
};

static int fail(struct xs_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Self-contained so that every build tool can use this file without the core. */
static int fail(struct xs_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

static void logf_(const struct xt_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(const struct xt_opts *o, const char *fmt, ...)
{
	if (!o || !o->log)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(o->log, fmt, ap);
	va_end(ap);
}

const char *xt_machine_name(unsigned machine)
{
	static char buf[32];
	switch (machine) {
	case EM_X86_64:
		return "x86-64";
	case EM_AARCH64:
		return "aarch64";
	case EM_386:
		return "i386";
	case EM_ARM:
		return "arm";
	case EM_RISCV:
		return "riscv";
	case EM_PPC64:
		return "ppc64";
	case EM_PPC:
		return "ppc";
	case EM_S390:
		return "s390";
	case EM_MIPS:
		return "mips";
	}
	snprintf(buf, sizeof(buf), "machine %u", machine);
	return buf;
}

char *xt_hex(const uint8_t *id, size_t len, char *buf)
{
	for (size_t i = 0; i < len; i++)
		sprintf(buf + 2 * i, "%02x", id[i]);
	buf[2 * len] = '\0';
	return buf;
}

/* ---- opening an ELF file ------------------------------------------------ */

struct elf_file {
	int fd;
	Elf *elf;
};

static void elf_file_close(struct elf_file *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	f->elf = NULL;
	f->fd = -1;
}

static int elf_file_open(struct elf_file *f, const char *path, struct xs_err *err)
{
	f->elf = NULL;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return fail(err, -errno, "cannot open %s: %s", path, strerror(errno));
	elf_version(EV_CURRENT);
	f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
		elf_file_close(f);
		return fail(err, -ENOEXEC, "%s is not an ELF file", path);
	}
	return 0;
}

/* The GNU build-id note, from note sections or (section-less files) PT_NOTE. */
static int note_build_id(Elf_Data *d, uint8_t *id, size_t *len)
{
	GElf_Nhdr nh;
	size_t off = 0, name_off, desc_off;
	while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
		    memcmp((char *)d->d_buf + name_off, "GNU", 4) != 0)
			continue;
		if (nh.n_descsz == 0 || nh.n_descsz > XSPLICE_BUILD_ID_MAX)
			continue;
		memcpy(id, (char *)d->d_buf + desc_off, nh.n_descsz);
		*len = nh.n_descsz;
		return 1;
	}
	return 0;
}

static size_t read_build_id(Elf *e, uint8_t *id)
{
	size_t len = 0;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
		    note_build_id(elf_getdata(scn, NULL), id, &len))
			return len;
	}
	size_t n = 0;
	if (elf_getphdrnum(e, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		Elf_Data *d =
		    elf_getdata_rawchunk(e, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		if (note_build_id(d, id, &len))
			return len;
	}
	return 0;
}

static Elf_Scn *find_section(Elf *e, uint32_t type, const char *name)
{
	size_t shstrndx;
	if (elf_getshdrstrndx(e, &shstrndx) != 0)
		return NULL;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *n = elf_strptr(e, shstrndx, sh.sh_name);
		if (type && sh.sh_type == type && sh.sh_size > 0)
			return scn;
		if (name && n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

/* ---- the image: PT_LOAD segments over the mapped file --------------------- */

static int load_image(struct xt_target *t, struct elf_file *f, struct xs_err *err)
{
	struct xt_image *img = t->img;
	struct stat st;
	if (fstat(f->fd, &st) != 0)
		return fail(err, -errno, "cannot stat %s: %s", t->path, strerror(errno));
	img->size = (size_t)st.st_size;
	img->map = mmap(NULL, img->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
	if (img->map == MAP_FAILED) {
		img->map = NULL;
		return fail(err, -errno, "cannot map %s: %s", t->path, strerror(errno));
	}
	size_t n = 0;
	if (elf_getphdrnum(f->elf, &n) != 0)
		n = 0;
	img->loads = calloc(n ? n : 1, sizeof(*img->loads));
	if (!img->loads)
		return fail(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(f->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset > img->size || ph.p_filesz > img->size - ph.p_offset)
			return fail(err, -ENOEXEC, "%s: a PT_LOAD segment lies outside the file",
			            t->path);
		img->loads[img->nloads++] = (struct xt_load){ph.p_vaddr, ph.p_offset, ph.p_filesz};
	}
	return 0;
}

size_t xt_read(const struct xt_target *t, uint64_t vaddr, void *buf, size_t len)
{
	const struct xt_image *img = t->img;
	for (size_t i = 0; i < img->nloads; i++) {
		const struct xt_load *l = &img->loads[i];
		if (vaddr < l->vaddr || vaddr - l->vaddr >= l->filesz)
			continue;
		uint64_t avail = l->filesz - (vaddr - l->vaddr);
		size_t n = len < avail ? len : (size_t)avail;
		memcpy(buf, img->map + l->offset + (vaddr - l->vaddr), n);
		return n;
	}
	return 0;
}

/* ---- symbols --------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
	const struct xt_sym *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->value < y->value ? -1 : x->value > y->value;
}

static int by_value(const void *a, const void *b)
{
	const struct xt_sym *x = *(const struct xt_sym *const *)a;
	const struct xt_sym *y = *(const struct xt_sym *const *)b;
	return x->value < y->value ? -1 : x->value > y->value;
}

/* Read the symbol table `scn` of `e`; names are copied so `e` may be closed. */
static int load_syms(struct xt_target *t, Elf *e, Elf_Scn *scn, struct xs_err *err)
{
	GElf_Shdr sh;
	Elf_Data *d = elf_getdata(scn, NULL);
	Elf_Data *sd = NULL;
	if (gelf_getshdr(scn, &sh))
		sd = elf_getdata(elf_getscn(e, sh.sh_link), NULL);
	if (!d || !sd || sd->d_size == 0)
		return fail(err, -ENOEXEC, "%s: unreadable symbol table", t->syms_path);
	t->img->strtab = malloc(sd->d_size + 1);
	size_t n = d->d_size / (sh.sh_entsize ? sh.sh_entsize : sizeof(Elf64_Sym));
	t->syms = calloc(n ? n : 1, sizeof(*t->syms));
	t->by_addr = calloc(n ? n : 1, sizeof(*t->by_addr));
	if (!t->img->strtab || !t->syms || !t->by_addr)
		return fail(err, -ENOMEM, "out of memory");
	memcpy(t->img->strtab, sd->d_buf, sd->d_size);
	t->img->strtab[sd->d_size] = '\0';

	const char *file = "";
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		if (!gelf_getsym(d, (int)i, &s) || s.st_name >= sd->d_size)
			continue;
		const char *name = t->img->strtab + s.st_name;
		unsigned type = GELF_ST_TYPE(s.st_info), bind = GELF_ST_BIND(s.st_info);
		if (type == STT_FILE) {
			file = name;
			continue;
		}
		if (!*name || type == STT_SECTION || s.st_shndx == SHN_UNDEF ||
		    s.st_shndx == SHN_ABS)
			continue;
		t->syms[t->nsyms++] = (struct xt_sym){
		    .name = name,
		    .file = bind == STB_LOCAL ? file : NULL,
		    .value = s.st_value,
		    .size = s.st_size,
		    .type = (uint8_t)type,
		    .bind = (uint8_t)bind,
		    .shndx = s.st_shndx,
		};
	}
	qsort(t->syms, t->nsyms, sizeof(*t->syms), by_name);
	for (size_t i = 0; i < t->nsyms; i++)
		t->by_addr[i] = &t->syms[i];
	qsort(t->by_addr, t->nsyms, sizeof(*t->by_addr), by_value);
	return 0;
}

/*
 * Try one candidate separate debug file: it must be an ELF of the same
 * machine, carry the target's build-id (when the target has one) and have a
 * .symtab.  1 when its symbols were loaded, 0 when it does not qualify,
 * negative on a hard error.
 */
static int try_debug_file(struct xt_target *t, const char *path, const struct xt_opts *o,
                          int explicit_, struct xs_err *err)
{
	struct elf_file f;
	struct xs_err e2;
	if (elf_file_open(&f, path, &e2) != 0) {
		logf_(o, "xsplice: debug file %s: %s\n", path, e2.msg);
		return explicit_ ? fail(err, e2.code, "%s", e2.msg) : 0;
	}
	uint8_t id[XSPLICE_BUILD_ID_MAX];
	size_t idlen = read_build_id(f.elf, id);
	GElf_Ehdr eh;
	const char *why = NULL;
	if (!gelf_getehdr(f.elf, &eh) || eh.e_machine != t->machine)
		why = "is for another machine";
	else if (t->build_id_len &&
	         (idlen != t->build_id_len || memcmp(id, t->build_id, idlen) != 0))
		why = "has another build-id";
	Elf_Scn *scn = why ? NULL : find_section(f.elf, SHT_SYMTAB, NULL);
	if (!why && !scn)
		why = "has no .symtab";
	int rc = 0;
	if (why && explicit_) {
		rc = fail(err, -EINVAL, "debug file %s does not fit %s: it %s", path, t->path, why);
	} else if (why) {
		logf_(o, "xsplice: debug file %s skipped: it %s\n", path, why);
	} else {
		t->syms_path = strdup(path);
		t->syms_from = XT_SYMS_DEBUG;
		rc = t->syms_path ? load_syms(t, f.elf, scn, err)
		                  : fail(err, -ENOMEM, "out of memory");
		rc = rc ? rc : 1;
	}
	elf_file_close(&f);
	return rc;
}

/* The file name recorded in .gnu_debuglink, or NULL. */
static const char *debuglink_name(Elf *e)
{
	Elf_Scn *scn = find_section(e, 0, ".gnu_debuglink");
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	if (!d || d->d_size < 2 || !memchr(d->d_buf, '\0', d->d_size))
		return NULL;
	return d->d_buf;
}

/* Separate debug file by build-id, then by .gnu_debuglink (gdb's search order). */
static int find_debug_file(struct xt_target *t, Elf *e, const struct xt_opts *o, struct xs_err *err)
{
	const char *root = o && o->debug_root ? o->debug_root : "/usr/lib/debug";
	char path[PATH_MAX], hex[2 * XSPLICE_BUILD_ID_MAX + 1];
	int rc;
	if (t->build_id_len >= 2) {
		xt_hex(t->build_id, t->build_id_len, hex);
		snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", root, hex, hex + 2);
		if (access(path, R_OK) == 0 && (rc = try_debug_file(t, path, o, 0, err)) != 0)
			return rc;
	}
	const char *link = debuglink_name(e);
	if (!link)
		return 0;
	char real[PATH_MAX];
	if (!realpath(t->path, real))
		return 0;
	const char *dir = dirname(real);
	const char *fmts[] = {"%s/%s", "%s/.debug/%s", NULL};
	for (int i = 0; i < 3; i++) {
		if (fmts[i])
			snprintf(path, sizeof(path), fmts[i], dir, link);
		else
			snprintf(path, sizeof(path), "%s%s/%s", root, dir, link);
		if (strcmp(path, real) == 0 || access(path, R_OK) != 0)
			continue;
		if ((rc = try_debug_file(t, path, o, 0, err)) != 0)
			return rc;
	}
	return 0;
}

static int find_symbols(struct xt_target *t, struct elf_file *f, const struct xt_opts *o,
                        struct xs_err *err)
{
	int rc;
	if (o && o->debug_file)
		return (rc = try_debug_file(t, o->debug_file, o, 1, err)) < 0 ? rc : 0;
	Elf_Scn *scn = find_section(f->elf, SHT_SYMTAB, NULL);
	if (scn) {
		t->syms_from = XT_SYMS_SYMTAB;
		t->syms_path = strdup(t->path);
		return t->syms_path ? load_syms(t, f->elf, scn, err)
		                    : fail(err, -ENOMEM, "out of memory");
	}
	if ((rc = find_debug_file(t, f->elf, o, err)) != 0)
		return rc < 0 ? rc : 0;
	scn = find_section(f->elf, SHT_DYNSYM, NULL);
	if (!scn)
		return fail(err, -ENOENT,
		            "%s has no symbol table (.symtab, separate debug file or .dynsym): "
		            "pack against the unstripped binary or give --debug-file",
		            t->path);
	t->syms_from = XT_SYMS_DYNSYM;
	t->syms_path = strdup(t->path);
	return t->syms_path ? load_syms(t, f->elf, scn, err) : fail(err, -ENOMEM, "out of memory");
}

int xt_open(struct xt_target *t, const char *path, const struct xt_opts *o, struct xs_err *err)
{
	memset(t, 0, sizeof(*t));
	struct elf_file f;
	int rc = elf_file_open(&f, path, err);
	if (rc)
		return rc;
	t->path = strdup(path);
	t->img = calloc(1, sizeof(*t->img));
	GElf_Ehdr eh;
	if (!t->path || !t->img)
		rc = fail(err, -ENOMEM, "out of memory");
	else if (!gelf_getehdr(f.elf, &eh))
		rc = fail(err, -ENOEXEC, "%s: unreadable ELF header", path);
	else if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		rc = fail(err, -ENOEXEC, "%s is not an executable or shared library (ELF type %u)",
		          path, eh.e_type);
	if (rc == 0) {
		t->elfclass = (unsigned)gelf_getclass(f.elf);
		t->machine = eh.e_machine;
		t->type = eh.e_type;
		t->build_id_len = read_build_id(f.elf, t->build_id);
		rc = load_image(t, &f, err);
	}
	if (rc == 0)
		rc = find_symbols(t, &f, o, err);
	elf_file_close(&f);
	if (rc)
		xt_close(t);
	return rc;
}

void xt_close(struct xt_target *t)
{
	if (t->img) {
		if (t->img->map)
			munmap((void *)t->img->map, t->img->size);
		free(t->img->loads);
		free(t->img->strtab);
		free(t->img);
	}
	free(t->path);
	free(t->syms_path);
	free(t->syms);
	free(t->by_addr);
	memset(t, 0, sizeof(*t));
}

const char *xt_syms_from_name(const struct xt_target *t)
{
	static char buf[PATH_MAX + 16];
	switch (t->syms_from) {
	case XT_SYMS_SYMTAB:
		return ".symtab";
	case XT_SYMS_DEBUG:
		snprintf(buf, sizeof(buf), "debug file %s", t->syms_path);
		return buf;
	case XT_SYMS_DYNSYM:
		return ".dynsym only";
	}
	return "?";
}

/* ---- lookups ---------------------------------------------------------------- */

const struct xt_sym *xt_by_name(const struct xt_target *t, const char *name, size_t *count)
{
	size_t lo = 0, hi = t->nsyms;
	while (lo < hi) { /* first entry >= name */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(t->syms[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < t->nsyms && strcmp(t->syms[end].name, name) == 0)
		end++;
	*count = end - lo;
	return end > lo ? &t->syms[lo] : NULL;
}

const struct xt_sym *xt_sym_after(const struct xt_target *t, uint64_t addr)
{
	size_t lo = 0, hi = t->nsyms;
	while (lo < hi) { /* first entry > addr */
		size_t mid = lo + (hi - lo) / 2;
		if (t->by_addr[mid]->value <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->nsyms ? t->by_addr[lo] : NULL;
}

int xt_file_match(const char *stt_file, const char *spec_file)
{
	size_t a = strlen(stt_file), b = strlen(spec_file);
	if (b == 0 || b > a || strcmp(stt_file + a - b, spec_file) != 0)
		return 0;
	return a == b || stt_file[a - b - 1] == '/';
}

/* Several matches at one address are one symbol (aliases), not an ambiguity. */
static int distinct(const struct xt_sym **m, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (m[i]->value != m[0]->value)
			return 1;
	return 0;
}

static int same_file(const struct xt_sym **m, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(m[i]->file, m[0]->file) != 0)
			return 0;
	return 1;
}

/* "a.c, b.c" into buf, for ambiguity messages. */
static const char *list_files(const struct xt_sym **m, size_t n, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
		                         m[i]->file ? (*m[i]->file ? m[i]->file : "(no file)")
		                                    : "(global)");
	return buf;
}

static int lookup_in_file(const struct xt_target *t, const char *file, const char *name,
                          const struct xt_sym **out, struct xs_err *err)
{
	size_t n, k = 0, locals = 0;
	const struct xt_sym *run = xt_by_name(t, name, &n);
	const struct xt_sym **m = calloc(n ? n : 1, sizeof(*m));
	char files[300];
	if (!m)
		return fail(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		locals += run[i].file != NULL;
		if (run[i].file && xt_file_match(run[i].file, file))
			m[k++] = &run[i];
	}
	int rc = 0;
	if (k == 0 && locals) {
		size_t j = 0;
		for (size_t i = 0; i < n; i++)
			if (run[i].file)
				m[j++] = &run[i];
		rc = fail(err, -ENOENT,
		          "no file-local '%s' in a file matching '%s' in %s (it is static in: %s)",
		          name, file, t->path, list_files(m, j, files, sizeof(files)));
	} else if (k == 0) {
		rc = fail(err, -ENOENT,
		          "no file-local '%s' in a file matching '%s' in %s (symbols from %s)%s",
		          name, file, t->path, xt_syms_from_name(t),
		          n ? ": it is global there, drop the file part" : "");
	} else if (distinct(m, k) && same_file(m, k)) {
		rc = fail(err, -ENOTUNIQ,
		          "'%s#%s' is ambiguous in %s: %zu statics '%s' in files all named '%s', "
		          "which its symbol table cannot tell apart",
		          file, name, t->path, k, name, m[0]->file);
	} else if (distinct(m, k)) {
		rc =
		    fail(err, -ENOTUNIQ,
		         "'%s#%s' is ambiguous in %s: it matches statics in %s; give a longer path",
		         file, name, t->path, list_files(m, k, files, sizeof(files)));
	} else {
		*out = m[0];
	}
	free(m);
	return rc;
}

static int lookup_any(const struct xt_target *t, const char *name, const struct xt_sym **out,
                      struct xs_err *err)
{
	size_t n, g = 0, l = 0;
	const struct xt_sym *run = xt_by_name(t, name, &n);
	const struct xt_sym **glob = calloc(n ? n : 1, sizeof(*glob));
	const struct xt_sym **loc = calloc(n ? n : 1, sizeof(*loc));
	char files[300];
	int rc = 0;
	if (!glob || !loc) {
		rc = fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (run[i].file)
			loc[l++] = &run[i];
		else
			glob[g++] = &run[i];
	}
	if (g == 0 && l == 0)
		rc = fail(err, -ENOENT, "'%s' is not defined in %s (symbols from %s)", name,
		          t->path, xt_syms_from_name(t));
	else if (g > 0 && distinct(glob, g))
		rc =
		    fail(err, -ENOTUNIQ, "'%s' has %zu global definitions in %s", name, g, t->path);
	else if (g > 0)
		*out = glob[0];
	else if (distinct(loc, l))
		rc = fail(err, -ENOTUNIQ,
		          "'%s' is ambiguous in %s: it is static in %s; name one with "
		          "XSPLICE_LOCAL(%s, \"file.c\") or the hint \"file.c#%s\"",
		          name, t->path, list_files(loc, l, files, sizeof(files)), name, name);
	else
		*out = loc[0];
out:
	free(glob);
	free(loc);
	return rc;
}

int xt_lookup(const struct xt_target *t, const char *spec, const struct xt_sym **out,
              struct xs_err *err)
{
	const char *hash = strrchr(spec, '#');
	if (!hash)
		return lookup_any(t, spec, out, err);
	if (hash == spec || !hash[1])
		return fail(err, -EINVAL, "bad symbol spec '%s': want 'symbol' or 'file#symbol'",
		            spec);
	char *file = strndup(spec, (size_t)(hash - spec));
	if (!file)
		return fail(err, -ENOMEM, "out of memory");
	int rc = lookup_in_file(t, file, hash + 1, out, err);
	free(file);
	return rc;
}
