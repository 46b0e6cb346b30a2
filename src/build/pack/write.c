/*
 * Write the payload: lay the sections out with libelf into a temporary file
 * next to OUT, stamp the payload's own build-id (a 20-byte BLAKE2b,
 * libsodium's crypto_generichash, of the final bytes with the id zeroed),
 * verify the bytes with the core's verifier exactly as the agent will, and
 * only then rename the file into place.
 */
#include "build/pack/pack.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOTE_DESC_OFF 16 /* namesz, descsz, type, "GNU\0" */

/* ---- --depends ------------------------------------------------------------------ */

static int parse_hex(const char *s, uint8_t *id, size_t *len)
{
	size_t n = strlen(s);
	if (n < 2 || n % 2 || n / 2 > XSPLICE_BUILD_ID_MAX)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]))
			return -1;
		char b[3] = {s[i], s[i + 1], 0};
		id[i / 2] = (uint8_t)strtoul(b, NULL, 16);
	}
	*len = n / 2;
	return 0;
}

/* The build-id in a payload file's .note.gnu.build-id. */
static int payload_id(const char *path, uint8_t *id, size_t *len, struct xs_err *err)
{
	struct pk_obj o;
	struct xs_err e2;
	if (pk_obj_load(&o, path, &e2) != 0)
		return xs_err_set(err, e2.code, "--depends %s: %s", path, e2.msg);
	size_t idx = pk_obj_find(&o, XSPLICE_SEC_BUILD_ID);
	const struct pk_sec *s = idx ? &o.secs[idx] : NULL;
	const uint32_t *h = s ? (const uint32_t *)s->data : NULL;
	int rc = 0;
	if (!h || s->sh.sh_size < NOTE_DESC_OFF || h[0] != 4 || h[2] != XSPLICE_NOTE_TYPE ||
	    h[1] == 0 || h[1] > XSPLICE_BUILD_ID_MAX || h[1] > s->sh.sh_size - NOTE_DESC_OFF)
		rc = xs_err_set(err, -ENOEXEC, "--depends %s: no %s note (is it a packed payload?)",
		                path, XSPLICE_SEC_BUILD_ID);
	else {
		*len = h[1];
		memcpy(id, s->data + NOTE_DESC_OFF, *len);
	}
	pk_obj_free(&o);
	return rc;
}

int pk_parse_depends(struct pk_ctx *c, struct xs_err *err)
{
	const char *d = c->opt.depends;
	if (!d)
		return 0;
	if (access(d, F_OK) == 0)
		return payload_id(d, c->depends, &c->depends_len, err);
	if (parse_hex(d, c->depends, &c->depends_len) == 0)
		return 0;
	return xs_err_set(err, -EINVAL,
	                  "--depends %s: neither a hex build-id (2 to %d hex "
	                  "digits) nor a payload file",
	                  d, 2 * XSPLICE_BUILD_ID_MAX);
}

/* ---- writing ---------------------------------------------------------------------- */

/* .shstrtab from the names of the kept sections. */
static int build_shstrtab(struct pk_obj *o, size_t *shstrndx, struct xs_err *err)
{
	size_t idx = 0, size = 1;
	for (size_t i = 1; i < o->nsecs; i++) {
		if (o->secs[i].drop)
			continue;
		size += strlen(o->secs[i].name) + 1;
		if (i == o->eh.e_shstrndx)
			idx = i;
	}
	if (!idx)
		return xs_err_set(err, -ENOEXEC, "the linked object has no section name table");
	char *tab = calloc(1, size);
	if (!tab)
		return xs_err_set(err, -ENOMEM, "out of memory");
	size_t off = 1;
	for (size_t i = 1; i < o->nsecs; i++) {
		if (o->secs[i].drop)
			continue;
		o->secs[i].sh.sh_name = (uint32_t)off;
		strcpy(tab + off, o->secs[i].name);
		off += strlen(o->secs[i].name) + 1;
	}
	free(o->secs[idx].data);
	o->secs[idx].data = (uint8_t *)tab;
	o->secs[idx].sh.sh_size = size;
	*shstrndx = o->secs[idx].newidx;
	return 0;
}

static int write_elf(struct pk_obj *o, int fd, size_t shstrndx, uint64_t *id_off,
                     struct xs_err *err)
{
	Elf *e = elf_begin(fd, ELF_C_WRITE, NULL);
	Elf64_Ehdr *eh = e ? elf64_newehdr(e) : NULL;
	if (!eh)
		return xs_err_set(err, -EIO, "libelf: %s", elf_errmsg(-1));
	memcpy(eh->e_ident, o->eh.e_ident, EI_NIDENT);
	eh->e_type = ET_REL;
	eh->e_machine = o->eh.e_machine;
	eh->e_version = EV_CURRENT;
	eh->e_flags = o->eh.e_flags;
	eh->e_shstrndx = (uint16_t)shstrndx;
	Elf_Scn *idscn = NULL;
	for (size_t i = 1; i < o->nsecs; i++) {
		struct pk_sec *s = &o->secs[i];
		if (s->drop)
			continue;
		Elf_Scn *scn = elf_newscn(e);
		Elf64_Shdr *sh = scn ? elf64_getshdr(scn) : NULL;
		Elf_Data *d = scn ? elf_newdata(scn) : NULL;
		if (!sh || !d)
			break;
		*sh = s->sh;
		d->d_buf = s->sh.sh_type == SHT_NOBITS ? NULL : s->data;
		d->d_size = s->sh.sh_size;
		d->d_type = ELF_T_BYTE;
		d->d_align = s->sh.sh_addralign ? s->sh.sh_addralign : 1;
		d->d_version = EV_CURRENT;
		if (strcmp(s->name, XSPLICE_SEC_BUILD_ID) == 0)
			idscn = scn;
	}
	int rc = 0;
	if (elf_update(e, ELF_C_WRITE) < 0 || !idscn)
		rc = xs_err_set(err, -EIO, "cannot write the payload: %s", elf_errmsg(-1));
	else
		*id_off = elf64_getshdr(idscn)->sh_offset + NOTE_DESC_OFF;
	elf_end(e);
	return rc;
}

static int read_all(int fd, uint8_t **buf, size_t *len, struct xs_err *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return xs_err_set(err, -errno, "stat: %s", strerror(errno));
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf)
		return xs_err_set(err, -ENOMEM, "out of memory");
	if (pread(fd, *buf, *len, 0) != (ssize_t)*len)
		return xs_err_set(err, -EIO, "cannot read back the payload: %s", strerror(errno));
	return 0;
}

/* Stamp the build-id and check the result the way the agent will. */
static int finish(struct pk_ctx *c, int fd, uint64_t id_off, struct xs_err *err)
{
	uint8_t *buf = NULL, id[PK_BUILD_ID_LEN];
	size_t len = 0;
	int rc = read_all(fd, &buf, &len, err);
	if (rc == 0 && (sodium_init() < 0 || id_off + sizeof(id) > len))
		rc = xs_err_set(err, -EIO, "cannot compute the payload build-id");
	if (rc == 0) {
		crypto_generichash(id, sizeof(id), buf, len, NULL, 0);
		memcpy(buf + id_off, id, sizeof(id));
		if (pwrite(fd, id, sizeof(id), (off_t)id_off) != (ssize_t)sizeof(id))
			rc = xs_err_set(err, -errno, "cannot write the build-id: %s",
			                strerror(errno));
	}
	struct xs_elf *elf = NULL;
	struct xs_err e2;
	if (rc == 0 && (rc = xs_payload_verify(buf, len, &elf, &e2)) != 0)
		xs_err_set(err, rc,
		           "the packed payload does not verify (a bug in xsplice-pack or "
		           "an unsupported construct in the objects): %s",
		           e2.msg);
	xs_elf_free(elf);
	if (rc == 0) {
		char hex[2 * PK_BUILD_ID_LEN + 1];
		pk_verbose(c, "payload build-id %s, %zu bytes\n", xt_hex(id, sizeof(id), hex), len);
	}
	free(buf);
	return rc;
}

int pk_emit(struct pk_ctx *c, struct xs_err *err)
{
	size_t shstrndx = 0;
	int rc = pk_emit_prepare(c, err);
	if (rc == 0)
		rc = build_shstrtab(&c->obj, &shstrndx, err);
	if (rc)
		return rc;
	size_t plen = strlen(c->opt.out) + 16;
	char *tmp = malloc(plen);
	if (!tmp)
		return xs_err_set(err, -ENOMEM, "out of memory");
	snprintf(tmp, plen, "%s.XXXXXX", c->opt.out);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = xs_err_set(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	uint64_t id_off = 0;
	rc = write_elf(&c->obj, fd, shstrndx, &id_off, err);
	if (rc == 0)
		rc = finish(c, fd, id_off, err);
	mode_t mask = umask(0);
	umask(mask);
	if (rc == 0 && fchmod(fd, 0666 & ~mask) != 0)
		rc = xs_err_set(err, -errno, "chmod %s: %s", tmp, strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = xs_err_set(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, c->opt.out) != 0)
		rc = xs_err_set(err, -errno, "cannot create %s: %s", c->opt.out, strerror(errno));
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}
