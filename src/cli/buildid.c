/* The GNU build-id of an ELF file, from its PT_NOTE segments. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define NOTE_MAX (1u << 20)

static int note_build_id(const unsigned char *p, size_t len, char *hex, size_t n)
{
	size_t off = 0;
	while (off + sizeof(Elf64_Nhdr) <= len) {
		const Elf64_Nhdr *nh = (const void *)(p + off);
		size_t name = (nh->n_namesz + 3u) & ~3u, desc = (nh->n_descsz + 3u) & ~3u;
		size_t body = off + sizeof(*nh);
		if (name > len - body || desc > len - body - name)
			return -EINVAL;
		if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
		    !memcmp(p + body, "GNU", 4) && nh->n_descsz && nh->n_descsz * 2 < n) {
			for (size_t i = 0; i < nh->n_descsz; i++)
				sprintf(hex + 2 * i, "%02x", p[body + name + i]);
			return 0;
		}
		off = body + name + desc;
	}
	return -ENOENT;
}

static int scan_notes(int fd, const Elf64_Ehdr *eh, char *hex, size_t n)
{
	int rc = -ENOENT;
	for (unsigned i = 0; i < eh->e_phnum && rc; i++) {
		Elf64_Phdr ph;
		off_t at = (off_t)(eh->e_phoff + (uint64_t)i * sizeof(ph));
		if (pread(fd, &ph, sizeof(ph), at) != sizeof(ph))
			return -EIO;
		if (ph.p_type != PT_NOTE || ph.p_filesz == 0 || ph.p_filesz > NOTE_MAX)
			continue;
		unsigned char *buf = malloc(ph.p_filesz);
		if (!buf)
			return -ENOMEM;
		if (pread(fd, buf, ph.p_filesz, (off_t)ph.p_offset) == (ssize_t)ph.p_filesz)
			rc = note_build_id(buf, ph.p_filesz, hex, n);
		free(buf);
	}
	return rc;
}

int cli_build_id(const char *path, char *hex, size_t n)
{
	Elf64_Ehdr eh;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = -ENOEXEC;
	if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr))
		rc = scan_notes(fd, &eh, hex, n);
	close(fd);
	return rc;
}
