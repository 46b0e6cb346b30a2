/*
 * Where a shared library sits in another process, and where one of its
 * dynamic symbols is there: the mapping of the file at offset 0 in
 * /proc/PID/maps gives the load address; the file's own .dynsym (read
 * through /proc/PID/root, so a process in another mount namespace is read
 * from its own files) gives the symbol's value.  Only the ELF file is
 * parsed; nothing of the process's memory is trusted.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/inject.h"

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int xs_remote_lib_find(pid_t pid, const char *name, struct xs_remote_lib *lib)
{
	char mpath[64], line[4096 + 256];
	snprintf(mpath, sizeof(mpath), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(mpath, "re");
	if (!f)
		return -errno;
	int found = 0;
	uint64_t first = 0;
	memset(lib, 0, sizeof(*lib));
	while (fgets(line, sizeof(line), f)) {
		uint64_t start, end, off;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*u %n", &start, &end,
		           perms, &off, &pos) < 4 ||
		    !pos)
			continue;
		char *path = line + pos;
		path[strcspn(path, "\n")] = '\0';
		if (path[0] != '/' || strcmp(base_of(path), name))
			continue;
		if (!found) {
			snprintf(lib->path, sizeof(lib->path), "%s", path);
			found = 1;
		} else if (strcmp(path, lib->path)) {
			continue; /* the same name twice: keep the first file */
		}
		if (off == 0 && !first)
			first = start;
		if (perms[2] == 'x' && !lib->text_start) {
			lib->text_start = start;
			lib->text_end = end;
		}
	}
	fclose(f);
	if (!found || !first)
		return -ENOENT;
	lib->bias = first; /* corrected by the first PT_LOAD in xs_remote_sym */
	return 0;
}

/* The file as the process sees it: /proc/PID/root/<path>. */
static int open_in_target(pid_t pid, const char *path)
{
	char p[4096 + 64];
	snprintf(p, sizeof(p), "/proc/%d/root%s", (int)pid, path);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	return fd >= 0 ? fd : open(path, O_RDONLY | O_CLOEXEC);
}

static int in_file(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

int xs_remote_sym(pid_t pid, const struct xs_remote_lib *lib, const char *sym, uint64_t *addr,
                  char *why, size_t whylen)
{
	int fd = open_in_target(pid, lib->path);
	if (fd < 0)
		return snprintf(why, whylen, "cannot read %s: %s", lib->path, strerror(errno)),
		       -errno;
	struct stat st;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return snprintf(why, whylen, "%s is not an ELF file", lib->path), -ENOEXEC;
	}
	size_t size = (size_t)st.st_size;
	const unsigned char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return snprintf(why, whylen, "cannot map %s: %s", lib->path, strerror(errno)),
		       -errno;
	int rc = -ENOENT;
	const Elf64_Ehdr *eh = (const void *)m;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_X86_64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_file(size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)) ||
	    !in_file(size, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr))) {
		snprintf(why, whylen, "%s is not an x86-64 ELF shared library", lib->path);
		rc = -ENOEXEC;
		goto out;
	}
	const Elf64_Phdr *ph = (const void *)(m + eh->e_phoff);
	uint64_t vbase = UINT64_MAX;
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
			vbase = ph[i].p_vaddr & ~(uint64_t)0xfff;
	const Elf64_Shdr *sh = (const void *)(m + eh->e_shoff);
	const Elf64_Shdr *dynsym = NULL, *versym = NULL;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_DYNSYM)
			dynsym = &sh[i];
		else if (sh[i].sh_type == SHT_GNU_versym)
			versym = &sh[i];
	}
	if (vbase == UINT64_MAX || !dynsym || dynsym->sh_link >= eh->e_shnum ||
	    dynsym->sh_entsize != sizeof(Elf64_Sym) ||
	    !in_file(size, dynsym->sh_offset, dynsym->sh_size)) {
		snprintf(why, whylen, "%s has no dynamic symbol table", lib->path);
		rc = -ENOEXEC;
		goto out;
	}
	const Elf64_Shdr *strs = &sh[dynsym->sh_link];
	if (!in_file(size, strs->sh_offset, strs->sh_size))
		goto bad;
	const Elf64_Sym *syms = (const void *)(m + dynsym->sh_offset);
	size_t nsyms = dynsym->sh_size / sizeof(Elf64_Sym);
	const uint16_t *vers = NULL;
	if (versym && in_file(size, versym->sh_offset, nsyms * sizeof(uint16_t)))
		vers = (const void *)(m + versym->sh_offset);
	const char *names = (const char *)(m + strs->sh_offset);
	size_t slen = strlen(sym);
	uint64_t value = 0;
	int best = 0; /* 1 hidden version, 2 default version */
	for (size_t i = 1; i < nsyms; i++) {
		const Elf64_Sym *s = &syms[i];
		if (s->st_name >= strs->sh_size || strs->sh_size - s->st_name <= slen ||
		    memcmp(names + s->st_name, sym, slen + 1) || s->st_shndx == SHN_UNDEF ||
		    ELF64_ST_TYPE(s->st_info) != STT_FUNC)
			continue;
		int rank = vers && (vers[i] & 0x8000) ? 1 : 2;
		if (rank > best) {
			best = rank;
			value = s->st_value;
		}
	}
	if (!best) {
		snprintf(why, whylen, "%s does not define %s", lib->path, sym);
		rc = -ENOENT;
		goto out;
	}
	*addr = lib->bias - vbase + value;
	rc = 0;
	goto out;
bad:
	snprintf(why, whylen, "%s: malformed dynamic symbol table", lib->path);
	rc = -ENOEXEC;
out:
	munmap((void *)m, size);
	return rc;
}
