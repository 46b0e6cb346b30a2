/* Loaded modules and their build-ids (see modules.h). */
#include "agent/modules.h"

#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
	struct xs_module *v;
	unsigned n, cap;
	int oom;
} mods;

/* The NT_GNU_BUILD_ID note of one PT_NOTE segment, if any. */
static void read_build_id(const struct dl_phdr_info *info, const ElfW(Phdr) * ph,
                          struct xs_module *m)
{
	const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
	const uint8_t *end = p + ph->p_memsz;
	while (p + sizeof(ElfW(Nhdr)) <= end) {
		const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
		size_t name = (nh->n_namesz + 3u) & ~3u, desc = (nh->n_descsz + 3u) & ~3u;
		const uint8_t *d = p + sizeof(*nh) + name;
		if (d + desc > end)
			return;
		if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
		    !memcmp(p + sizeof(*nh), "GNU", 4) && nh->n_descsz &&
		    nh->n_descsz <= XSPLICE_BUILD_ID_MAX) {
			memcpy(m->id, d, nh->n_descsz);
			m->idlen = nh->n_descsz;
			return;
		}
		p = d + desc;
	}
}

static char *module_path(const struct dl_phdr_info *info, int is_main)
{
	char buf[PATH_MAX];
	if (is_main) {
		ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			return strdup(buf);
		}
	}
	if (info->dlpi_name && info->dlpi_name[0] && realpath(info->dlpi_name, buf))
		return strdup(buf);
	return strdup(info->dlpi_name ? info->dlpi_name : "");
}

static int add_module(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (mods.n == mods.cap) {
		unsigned cap = mods.cap ? mods.cap * 2 : 32;
		struct xs_module *v = realloc(mods.v, cap * sizeof(*v));
		if (!v) {
			mods.oom = 1;
			return 1;
		}
		mods.v = v;
		mods.cap = cap;
	}
	struct xs_module *m = &mods.v[mods.n];
	memset(m, 0, sizeof(*m));
	m->bias = info->dlpi_addr;
	m->lo = UINTPTR_MAX;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD) {
			uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
			if (lo < m->lo)
				m->lo = lo;
			if (lo + ph->p_memsz > m->hi)
				m->hi = lo + ph->p_memsz;
		} else if (ph->p_type == PT_NOTE && !m->idlen) {
			read_build_id(info, ph, m);
		}
	}
	if (m->lo == UINTPTR_MAX)
		return 0; /* nothing mapped */
	m->is_main = mods.n == 0;
	/* The executable's TLS block is static: glibc places it at the same
	 * offset below the thread pointer in every thread, and dlpi_tls_data is
	 * the calling thread's copy.  A library's block may be dynamic (dlopen),
	 * so it is not offered. */
	if (m->is_main && info->dlpi_tls_modid && info->dlpi_tls_data) {
		m->has_tls = 1;
		m->tls_tpoff = (intptr_t)info->dlpi_tls_data - (intptr_t)__builtin_thread_pointer();
	}
	m->path = module_path(info, m->is_main);
	if (!m->path) {
		mods.oom = 1;
		return 1;
	}
	mods.n++;
	return 0;
}

int xs_modules_refresh(struct xs_err *err)
{
	for (unsigned i = 0; i < mods.n; i++)
		free(mods.v[i].path);
	mods.n = 0;
	mods.oom = 0;
	dl_iterate_phdr(add_module, NULL);
	if (mods.oom)
		return xs_err_set(err, -ENOMEM, "out of memory listing the loaded modules");
	return 0;
}

unsigned xs_modules_count(void)
{
	return mods.n;
}

const struct xs_module *xs_module_at(unsigned i)
{
	return i < mods.n ? &mods.v[i] : NULL;
}

const struct xs_module *xs_module_main(void)
{
	return mods.n ? &mods.v[0] : NULL;
}

const struct xs_module *xs_module_by_id(const uint8_t *id, unsigned len)
{
	for (unsigned i = 0; i < mods.n; i++)
		if (mods.v[i].idlen == len && len && !memcmp(mods.v[i].id, id, len))
			return &mods.v[i];
	return NULL;
}

const struct xs_module *xs_module_by_addr(uintptr_t addr)
{
	for (unsigned i = 0; i < mods.n; i++)
		if (addr >= mods.v[i].lo && addr < mods.v[i].hi)
			return &mods.v[i];
	return NULL;
}

const char *xs_hex_id(const uint8_t *id, unsigned len, char *out, size_t cap)
{
	if (!len) {
		snprintf(out, cap, "(none)");
		return out;
	}
	size_t o = 0;
	for (unsigned i = 0; i < len && o + 3 <= cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", id[i]);
	return out;
}
