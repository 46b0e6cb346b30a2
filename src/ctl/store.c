/*
 * The patch store, client side: add (verified, no name clash), remove,
 * list, and loading it in dependency order for sync and status.  Where the
 * store is and when it is trusted: src/common/store.h.
 */
#include "ctl/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/proto.h"
#include "core/core.h"

static void hex(const struct xs_note n, char *out)
{
	out[0] = '\0';
	for (uint32_t i = 0; i < n.len && i < 64; i++)
		sprintf(out + 2 * i, "%02x", n.id[i]);
}

/* Verify payload bytes; fill the ids and metadata of e. */
static int verify(xsctl *h, const char *what, struct xs_stored *e)
{
	struct xs_elf *elf = NULL;
	struct xs_err err = {0};
	int rc = xs_payload_verify(e->data, e->len, &elf, &err);
	if (rc)
		return xs_ctl_fail(h, rc, "%s is not a valid payload: %s", what, err.msg);
	hex(xs_elf_build_id(elf), e->id);
	hex(xs_elf_target_id(elf), e->target);
	hex(xs_elf_depends_id(elf), e->depends);
	if (!e->depends[0])
		memcpy(e->depends, e->target, sizeof(e->depends));
	size_t ilen = 0;
	const char *mi = xs_elf_modinfo(elf, &ilen);
	if (mi && ilen && (e->modinfo = malloc(ilen))) {
		memcpy(e->modinfo, mi, ilen);
		e->modinfo_len = ilen;
	}
	xs_elf_free(elf);
	if (!e->id[0] || !e->target[0])
		return xs_ctl_fail(h, -ENOEXEC, "%s has no build-id or no target build-id", what);
	return 0;
}

static void stored_free(struct xs_stored *e)
{
	free(e->data);
	free(e->modinfo);
	e->data = e->modinfo = NULL;
}

void xs_store_release(struct xs_store *s)
{
	for (size_t i = 0; i < s->n; i++)
		stored_free(&s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

const struct xs_stored *xs_store_find(const struct xs_store *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct xs_stored *)a)->name, ((const struct xs_stored *)b)->name);
}

/* Dependency order: a payload comes after the stored payload its build-id
 * chain names (depends); those on their target alone come first; by name
 * within a level.  A chain to nothing stored (or a cycle) keeps name order. */
static void order(struct xs_store *s)
{
	qsort(s->v, s->n, sizeof(*s->v), by_name);
	struct xs_stored *out = malloc(s->n * sizeof(*out));
	char *done = calloc(s->n ? s->n : 1, 1);
	if (!out || !done) {
		free(out);
		free(done);
		return;
	}
	size_t k = 0;
	for (int progress = 1; progress && k < s->n;) {
		progress = 0;
		for (size_t i = 0; i < s->n; i++) {
			if (done[i])
				continue;
			int ready = 1;
			for (size_t j = 0; j < s->n && ready; j++)
				if (j != i && !done[j] && !strcmp(s->v[j].id, s->v[i].depends))
					ready = 0;
			if (ready) {
				out[k++] = s->v[i];
				done[i] = progress = 1;
			}
		}
	}
	for (size_t i = 0; i < s->n; i++)
		if (!done[i])
			out[k++] = s->v[i];
	free(s->v);
	free(done);
	s->v = out;
}

int xs_store_load(xsctl *h, struct xs_store *s)
{
	char why[512], name[XS_STORE_NAME_MAX + 1];
	memset(s, 0, sizeof(*s));
	int rc = xs_store_dir(s->dir, sizeof(s->dir));
	if (rc)
		return xs_ctl_fail(h, rc, "no patch store: set XSPLICE_STORE (or HOME)");
	rc = xs_store_check_trusted(s->dir, 1, geteuid(), why, sizeof(why));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return xs_ctl_fail(h, rc, "the patch store is not trusted: %s", why);
	DIR *d = opendir(s->dir);
	if (!d)
		return xs_ctl_fail(h, -errno, "cannot read the patch store %s: %s", s->dir,
		                   strerror(errno));
	struct dirent *de;
	while (!rc && (de = readdir(d))) {
		char path[4096 + 256 + 2];
		if (xs_store_entry_name(de->d_name, name, sizeof(name)))
			continue;
		struct xs_stored *nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
		if (!nv) {
			rc = xs_ctl_fail(h, -ENOMEM, "out of memory");
			break;
		}
		s->v = nv;
		struct xs_stored *e = memset(&s->v[s->n], 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", name);
		snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name);
		rc = xs_store_read(path, geteuid(), XS_PROTO_PAYLOAD_MAX, &e->data, &e->len, why,
		                   sizeof(why));
		if (rc)
			rc = xs_ctl_fail(h, rc, "stored payload %s: %s", name, why);
		else
			rc = verify(h, path, e);
		if (rc)
			stored_free(e);
		else
			s->n++;
	}
	closedir(d);
	if (rc)
		xs_store_release(s);
	else
		order(s);
	return rc;
}

/* ---- the API -------------------------------------------------------------------- */

XSCTL_API int xsctl_store_dir(char *out, size_t n)
{
	return xs_store_dir(out, n);
}

static int read_file(xsctl *h, const char *path, struct xs_stored *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		return xs_ctl_fail(h, -err, "cannot open %s: %s", path, strerror(err));
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > XS_PROTO_PAYLOAD_MAX) {
		close(fd);
		return xs_ctl_fail(h, -EINVAL, "%s is not a regular file of 1 to %u bytes", path,
		                   XS_PROTO_PAYLOAD_MAX);
	}
	e->data = malloc((size_t)st.st_size);
	size_t got = 0;
	while (e->data && got < (size_t)st.st_size) {
		ssize_t r = read(fd, (char *)e->data + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	e->len = got;
	if (!e->data || got != (size_t)st.st_size)
		return xs_ctl_fail(h, e->data ? -EIO : -ENOMEM, "cannot read %s", path);
	return 0;
}

/* mkdir -p for the store: 0755 for root (a system store), else 0700. */
static int make_store_dir(xsctl *h, const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s", dir);
	mode_t mode = geteuid() == 0 ? 0755 : 0700;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) && errno != EEXIST)
				return xs_ctl_fail(h, -errno,
				                   "cannot create the patch store %s: %s", p,
				                   strerror(errno));
			*s = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* "dir/fix-1.2.xsplice" -> "fix-1.2" */
static void base_name(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');
	snprintf(out, n, "%s", slash ? slash + 1 : path);
	char *dot = strrchr(out, '.');
	if (dot && dot != out)
		*dot = '\0';
}

static int write_entry(xsctl *h, const char *dir, const struct xs_stored *e)
{
	char tmp[4096 + 300], final[4096 + 300];
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", dir, e->name, (int)getpid());
	snprintf(final, sizeof(final), "%s/%s%s", dir, e->name, XS_STORE_SUFFIX);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return xs_ctl_fail(h, -errno, "cannot write into the patch store %s: %s", dir,
		                   strerror(errno));
	size_t off = 0;
	int rc = 0;
	while (!rc && off < e->len) {
		ssize_t w = write(fd, (const char *)e->data + off, e->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = -(w < 0 ? errno : EIO);
		else
			off += (size_t)w;
	}
	if (!rc && (fchmod(fd, 0644) || fsync(fd)))
		rc = -errno;
	close(fd);
	/* link() never replaces: a concurrent add of the same name loses */
	if (!rc && link(tmp, final))
		rc = -errno;
	unlink(tmp);
	if (rc == -EEXIST)
		return xs_ctl_fail(h, rc, "a payload named %s is already in the store %s", e->name,
		                   dir);
	if (rc)
		return xs_ctl_fail(h, rc, "cannot write %s: %s", final, strerror(-rc));
	return 0;
}

XSCTL_API int xsctl_store_add(xsctl *h, const char *file, const char *name)
{
	struct xs_stored e = {0};
	struct xs_store s;
	const char *why;
	char dirwhy[512];
	if (name && name[0])
		snprintf(e.name, sizeof(e.name), "%s", name);
	else
		base_name(file, e.name, sizeof(e.name));
	if (xs_store_check_name(e.name, &why))
		return xs_ctl_fail(h, -EINVAL, "invalid store name '%s': %s", e.name, why);
	int rc = read_file(h, file, &e);
	if (!rc)
		rc = verify(h, file, &e);
	if (!rc)
		rc = xs_store_load(h, &s);
	if (rc) {
		stored_free(&e);
		return rc;
	}
	const struct xs_stored *old = xs_store_find(&s, e.name);
	for (size_t i = 0; !old && i < s.n; i++)
		if (!strcmp(s.v[i].id, e.id)) {
			rc = xs_ctl_fail(h, -EEXIST,
			                 "%s is already in the store as %s (build-id %s)", file,
			                 s.v[i].name, e.id);
			break;
		}
	if (!rc && old && !strcmp(old->id, e.id))
		rc = XSCTL_NOOP, xs_ctl_fail(h, rc, "%s is already in the store", e.name);
	else if (!rc && old)
		rc = xs_ctl_fail(h, -EEXIST,
		                 "a payload named %s is already in the store (build-id %s, this "
		                 "one %s); remove it first or choose another --name",
		                 e.name, old->id, e.id);
	if (!rc)
		rc = make_store_dir(h, s.dir);
	if (!rc && (rc = xs_store_check_trusted(s.dir, 1, geteuid(), dirwhy, sizeof(dirwhy))))
		xs_ctl_fail(h, rc, "the patch store is not trusted: %s", dirwhy);
	if (!rc)
		rc = write_entry(h, s.dir, &e);
	if (!rc)
		xs_ctl_fail(h, 0, "%s stored in %s (build-id %s, target %s)", e.name, s.dir, e.id,
		            e.target);
	xs_store_release(&s);
	stored_free(&e);
	return rc;
}

XSCTL_API int xsctl_store_remove(xsctl *h, const char *name)
{
	char dir[4096], path[4096 + 300];
	const char *why;
	if (xs_store_check_name(name, &why))
		return xs_ctl_fail(h, -EINVAL, "invalid store name '%s': %s", name, why);
	int rc = xs_store_dir(dir, sizeof(dir));
	if (rc)
		return xs_ctl_fail(h, rc, "no patch store: set XSPLICE_STORE (or HOME)");
	snprintf(path, sizeof(path), "%s/%s%s", dir, name, XS_STORE_SUFFIX);
	if (unlink(path)) {
		if (errno == ENOENT)
			return xs_ctl_fail(h, -ENOENT, "no payload named %s in the store %s", name,
			                   dir);
		return xs_ctl_fail(h, -errno, "cannot remove %s: %s", path, strerror(errno));
	}
	return xs_ctl_fail(h, 0, "%s removed from the store %s", name, dir);
}

static void kv_json(struct xs_buf *b, const char *kv, size_t len)
{
	int first = 1;
	xs_buf_printf(b, "{");
	for (const char *p = kv; p && p < kv + len; p += strnlen(p, (size_t)(kv + len - p)) + 1) {
		const char *eq = memchr(p, '=', strnlen(p, (size_t)(kv + len - p)));
		if (!eq)
			continue;
		xs_buf_printf(b, "%s", first ? "" : ", ");
		xs_buf_json_str(b, p, (size_t)(eq - p));
		xs_buf_printf(b, ": ");
		xs_buf_json_str(b, eq + 1, strnlen(eq + 1, (size_t)(kv + len - eq - 1)));
		first = 0;
	}
	xs_buf_printf(b, "}");
}

XSCTL_API int xsctl_store_list(xsctl *h, int json)
{
	struct xs_store s;
	int rc = xs_store_load(h, &s);
	if (rc)
		return rc;
	struct xs_buf b;
	xs_buf_init(&b);
	if (json) {
		xs_buf_printf(&b, "{\"version\": 1, \"store\": ");
		xs_buf_json_str(&b, s.dir, strlen(s.dir));
		xs_buf_printf(&b, ", \"payloads\": [");
		for (size_t i = 0; i < s.n; i++) {
			const struct xs_stored *e = &s.v[i];
			xs_buf_printf(&b, "%s\n  {\"name\": ", i ? "," : "");
			xs_buf_json_str(&b, e->name, strlen(e->name));
			xs_buf_printf(&b,
			              ", \"order\": %zu, \"size\": %zu, \"build_id\": \"%s\", "
			              "\"target\": \"%s\", \"depends\": \"%s\", \"metadata\": ",
			              i + 1, e->len, e->id, e->target, e->depends);
			kv_json(&b, e->modinfo, e->modinfo_len);
			xs_buf_printf(&b, "}");
		}
		xs_buf_printf(&b, "%s]}\n", s.n ? "\n" : "");
	} else if (!s.n) {
		xs_buf_printf(&b, "The patch store %s is empty.\n", s.dir);
	} else {
		xs_buf_printf(&b, "patch store %s, in dependency order:\n", s.dir);
		for (size_t i = 0; i < s.n; i++) {
			const struct xs_stored *e = &s.v[i];
			xs_buf_printf(&b, "%2zu. %s\n    build-id %s\n    target   %s\n", i + 1,
			              e->name, e->id, e->target);
			if (strcmp(e->depends, e->target))
				xs_buf_printf(&b, "    depends  %s\n", e->depends);
		}
	}
	xs_store_release(&s);
	if (b.oom) {
		xs_buf_free(&b);
		return xs_ctl_fail(h, -ENOMEM, "out of memory");
	}
	xs_buf_append(&b, "", 1);
	xs_ctl_set_body(h, b.data, b.len - 1);
	return 0;
}
