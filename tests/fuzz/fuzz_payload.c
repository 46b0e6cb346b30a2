/*
 * libFuzzer harness over the whole core pipeline: xs_payload_verify, then
 * for accepted inputs xs_link_layout and xs_link_place on plain malloc'd
 * memory with a fake resolver, then a read of everything xs_linked points
 * to.  Built with -fsanitize=fuzzer,address,undefined: any out-of-bounds
 * access, leak or undefined operation is a crash.
 *
 * The resolver makes the three kinds of outcome reachable: names starting
 * with 'u' are unresolved, names starting with 'f' resolve far away (so
 * calls go through stubs and data references overflow), others resolve
 * next to the areas.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define FUZZ_MAX_AREAS (1u << 20) /* larger layouts are verified, not placed */

struct fuzz_host {
	uintptr_t near;
};

static int fuzz_resolve(void *ctx, const char *name, uintptr_t *addr)
{
	struct fuzz_host *h = ctx;

	if (name[0] == 'u')
		return -2;
	*addr = name[0] == 'f' ? (uintptr_t)0x7ff000000000 + (uint8_t)name[1] : h->near + 64;
	return 0;
}

/* Touch what the linked payload points to (names through the staging
 * copy), so that ASan checks it. */
static size_t walk_linked(const struct xs_linked *l, const uint8_t *mem, uintptr_t addr)
{
	size_t sum = 0;

	for (unsigned i = 0; i < l->nfuncs; i++)
		sum += strlen((const char *)mem + ((uintptr_t)l->funcs[i].name - addr)) +
		       l->funcs[i].expect_len;
	for (unsigned h = 0; h < XS_HOOK_COUNT; h++)
		for (unsigned i = 0; i < l->nhooks[h]; i++)
			sum += l->hooks[h][i] & 1;
	for (unsigned i = 0; i < l->nsymbols; i++)
		sum += strlen(l->symbols[i].name);
	return sum;
}

/*
 * Place on plain memory.  `addr` 0: the areas run where they are staged;
 * otherwise they are staged in `mem` but linked for run-time address
 * `addr` (as the agent does with a memfd), so every pointer check must
 * translate between the two.  `bias` 0: the target is next to the areas.
 */
static void place(const struct xs_elf *e, const struct xs_layout *lay, uintptr_t addr,
                  uintptr_t bias)
{
	struct xs_region rg[XS_AREA_COUNT];
	struct fuzz_host fh;
	struct xs_host host = {.ctx = &fh, .resolve = fuzz_resolve};
	struct xs_linked l;
	struct xs_err err;
	uint8_t *mem = aligned_alloc(4096, lay->total ? lay->total : 4096);
	size_t off = 0;
	volatile size_t sink;

	if (!mem)
		return;
	for (int a = 0; a < XS_AREA_COUNT; a++) {
		rg[a] = (struct xs_region){mem + off, (addr ? addr : (uintptr_t)mem) + off,
		                           lay->size[a]};
		off += lay->size[a];
	}
	fh.near = rg[0].addr;
	host.target_bias = bias ? bias : rg[0].addr - 0x100000;
	if (xs_link_place(e, rg, &host, &l, &err) == 0) {
		sink = walk_linked(&l, mem, rg[0].addr);
		(void)sink;
		xs_linked_free(&l);
	}
	free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_elf *e;
	struct xs_err err;
	struct xs_layout lay;
	size_t len;

	if (xs_payload_verify(data, size, &e, &err) != 0)
		return 0;
	(void)xs_elf_target_id(e);
	(void)xs_elf_modinfo(e, &len);
	if (xs_link_layout(e, 4096, &lay, &err) == 0 && lay.total <= FUZZ_MAX_AREAS) {
		place(e, &lay, 0, 0);
		/* linked for another address than where it is staged */
		place(e, &lay, (uintptr_t)0x7e0000000000, 0);
		/* and with the target far away: symref references overflow */
		place(e, &lay, 0, (uintptr_t)0x7f0000000000);
	}
	xs_elf_free(e);
	return 0;
}
