/*
 * The link test: this program is the target.  It is built unstripped (so
 * xsplice-pack can read its symbols) and run stripped.  It links the SDK
 * example payload (examples/sdk/fix.c, packed against this executable) into
 * itself with the core linker, exactly as the agent will, minus the switch:
 *
 *   verify -> layout -> near placement (/proc/self/maps) -> mmap ->
 *   place (target_bias from dl_iterate_phdr, dlsym for libc) -> mprotect
 *
 * and then calls the payload's parse_qty_fixed directly, next to the
 * original parse_qty, for each argument:
 *
 *   linktest PAYLOAD [max=N | INPUT]...
 *   -> "target <build-id>", "old_addr ok", then per INPUT
 *      "INPUT old=<old result> new=<new result>"
 *
 * The new code calls the target's static clamp() and reads its static
 * max_qty (app.c), and calls strtol() from libc.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/core.h"
#include "app.h" /* examples/sdk */

/*
 * Same name as app.c's static clamp(), so the payload must say which one it
 * means; and a different result (always lo - 1), so that a payload linked
 * to this one instead would visibly return wrong values.
 */
__attribute__((used, noinline)) static int clamp(int v, int lo, int hi)
{
	(void)v;
	(void)hi;
	return lo - 1;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "linktest: %s: %s\n", what, msg);
	exit(1);
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die(path, strerror(errno));
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	void *buf = malloc(*len ? *len : 1);
	if (!buf || fread(buf, 1, *len, f) != *len)
		die(path, "short read");
	fclose(f);
	return buf;
}

/* ---- this executable: bias, address range, build-id ------------------------ */

struct self {
	uintptr_t bias, lo, hi;
	const uint8_t *id;
	size_t idlen;
};

static void note_id(struct self *s, const uint8_t *p, size_t len)
{
	for (size_t off = 0; off + 12 <= len;) {
		const Elf64_Nhdr *n = (const Elf64_Nhdr *)(p + off);
		size_t name = (n->n_namesz + 3) & ~3u, desc = (n->n_descsz + 3) & ~3u;
		if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
		    !memcmp(p + off + 12, "GNU", 4)) {
			s->id = p + off + 12 + name;
			s->idlen = n->n_descsz;
		}
		off += 12 + name + desc;
	}
}

/* The first object dl_iterate_phdr reports is the main executable. */
static int first_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct self *s = arg;
	(void)size;
	s->bias = info->dlpi_addr;
	s->lo = UINTPTR_MAX;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD) {
			s->lo = a < s->lo ? a : s->lo;
			s->hi = a + ph->p_memsz > s->hi ? a + ph->p_memsz : s->hi;
		} else if (ph->p_type == PT_NOTE) {
			note_id(s, (const uint8_t *)a, ph->p_memsz);
		}
	}
	return 1;
}

/* ---- where the payload goes ---------------------------------------------------- */

static struct xs_range *read_maps(size_t *n)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		die("/proc/self/maps", strerror(errno));
	size_t cap = 64;
	struct xs_range *r = malloc(cap * sizeof(*r));
	char line[512];
	*n = 0;
	while (r && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (*n == cap)
			r = realloc(r, (cap *= 2) * sizeof(*r));
		if (r)
			r[(*n)++] = (struct xs_range){lo, hi};
	}
	fclose(f);
	if (!r)
		die("maps", "out of memory");
	return r;
}

static int resolve(void *ctx, const char *name, uintptr_t *addr)
{
	(void)ctx;
	void *p = dlsym(RTLD_DEFAULT, name);
	if (!p)
		return -ENOENT;
	*addr = (uintptr_t)p;
	return 0;
}

/* Link the payload next to this executable; returns the linked tables. */
static void link_payload(const void *bytes, size_t len, const struct self *me,
                         struct xs_linked *out)
{
	struct xs_err err = {0};
	struct xs_elf *elf;
	struct xs_layout lay;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), nmaps;
	if (xs_payload_verify(bytes, len, &elf, &err))
		die("verify", err.msg);
	struct xs_note tid = xs_elf_target_id(elf);
	if (tid.len != me->idlen || memcmp(tid.id, me->id, tid.len))
		die("payload", "packed for another build-id than this executable");
	if (xs_link_layout(elf, page, &lay, &err))
		die("layout", err.msg);
	struct xs_range *maps = read_maps(&nmaps);
	uintptr_t at;
	if (xs_near_find(maps, nmaps, me->lo, me->hi, lay.total, page, &at, &err))
		die("near", err.msg);
	free(maps);
	uint8_t *mem = mmap((void *)at, lay.total, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (mem == MAP_FAILED || mem != (uint8_t *)at)
		die("mmap", strerror(errno));
	struct xs_region rg[XS_AREA_COUNT];
	size_t off = 0;
	for (int a = 0; a < XS_AREA_COUNT; a++) {
		rg[a] = (struct xs_region){mem + off, at + off, lay.size[a]};
		off += lay.size[a];
	}
	struct xs_host host = {.target_bias = me->bias, .resolve = resolve};
	if (xs_link_place(elf, rg, &host, out, &err))
		die("place", err.msg);
	static const int prot[XS_AREA_COUNT] = {PROT_READ | PROT_EXEC, PROT_READ,
	                                        PROT_READ | PROT_WRITE};
	for (int a = 0; a < XS_AREA_COUNT; a++)
		if (lay.size[a] && mprotect(rg[a].stage, lay.size[a], prot[a]))
			die("mprotect", strerror(errno));
	xs_elf_free(elf);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage", "linktest PAYLOAD [max=N | INPUT]...");
	struct self me = {0};
	dl_iterate_phdr(first_module, &me);
	if (!me.idlen)
		die("self", "this executable has no build-id");
	size_t len;
	void *bytes = read_file(argv[1], &len);
	struct xs_linked l;
	link_payload(bytes, len, &me, &l);

	printf("target ");
	for (size_t i = 0; i < me.idlen; i++)
		printf("%02x", me.id[i]);
	printf("\n");
	const struct xs_func *f = NULL;
	for (unsigned i = 0; i < l.nfuncs; i++)
		if (!strcmp(l.funcs[i].name, "parse_qty"))
			f = &l.funcs[i];
	if (!f)
		die("payload", "no entry replaces parse_qty");
	if (f->old_addr == (uintptr_t)parse_qty)
		printf("old_addr ok\n");
	int (*fixed)(const char *) = (int (*)(const char *))f->new_addr;
	for (int i = 2; i < argc; i++) {
		if (!strncmp(argv[i], "max=", 4)) {
			set_max_qty(atoi(argv[i] + 4));
			continue;
		}
		printf("%s old=%d new=%d\n", argv[i], parse_qty(argv[i]), fixed(argv[i]));
	}
	/* keep our own clamp() alive: it is what makes app.c's ambiguous */
	return clamp(0, 1, 0);
}
