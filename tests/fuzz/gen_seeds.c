/*
 * Writes the fuzzer's seed corpus: valid payloads built with elfgen that
 * between them use every section role, note, relocation type and funcs
 * entry kind the format has.  Usage: gen_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xsplice/payload.h>

#include "elfgen.h"

static void write_seed(const char *dir, const char *name, struct eg *g)
{
	struct eg_out o;
	char path[512];
	FILE *f;

	eg_build(g, &o);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(o.buf, 1, o.len, f) != o.len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	eg_out_free(&o);
	eg_free(g);
}

static void seed_rich(const char *dir)
{
	static const char info[] = "name=seed\0version=1\0";
	struct eg g;
	struct eg_min m;
	/* a real .eh_frame: a "zR" CIE and one FDE (pc_begin at 28, relocated) */
	static const uint8_t eh[40] = {16, 0, 0,    0,    0,  0, 0, 0, 1,  'z', 'R', 0, 1, 0x78,
	                               16, 1, 0x1b, 0,    0,  0, 16, 0, 0, 0, 24,  0,  0, 0,
	                               0,  0, 0,    0,    1,  0, 0,  0, 0, 0, 0,   0};
	uint8_t note[96];
	unsigned s;

	eg_minimal(&g, &m);
	eg_add_sec(&g, XSPLICE_SEC_DEPENDS, SHT_NOTE, 0, 4, note,
	           eg_note(note, "dependsonthis", 13));
	eg_add_sec(&g, XSPLICE_SEC_BUILD_ID, SHT_NOTE, SHF_ALLOC, 4, note,
	           eg_note(note, "own-id", 6));
	eg_add_sec(&g, XSPLICE_SEC_MODINFO, SHT_PROGBITS, SHF_ALLOC, 1, info, sizeof(info) - 1);
	s = eg_add_sec(&g, ".eh_frame", SHT_X86_64_UNWIND, SHF_ALLOC, 8, eh, sizeof(eh));
	eg_add_rel(&g, s, 28, m.sym_text, R_X86_64_PC32, 0);
	eg_add_hook(&g, XSPLICE_SEC_HOOK_LOAD, m.sym_new);
	eg_add_hook(&g, XSPLICE_SEC_HOOK_PREAPPLY, m.sym_new);
	eg_add_hook(&g, XSPLICE_SEC_PERTHREAD, m.sym_new);
	write_seed(dir, "rich.xsplice", &g);
}

/* one relocation of each supported type into a .data.t section */
static void seed_relocs(const char *dir)
{
	static const uint32_t types[] = {
	    R_X86_64_NONE,      R_X86_64_64,           R_X86_64_PC32, R_X86_64_PLT32,
	    R_X86_64_32,        R_X86_64_32S,          R_X86_64_PC64, R_X86_64_GOTPCREL,
	    R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX};
	struct eg g;
	struct eg_min m;
	uint8_t zero[8 * 10] = {0};
	unsigned s, far, near;

	eg_minimal(&g, &m);
	s = eg_add_sec(&g, ".data.t", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8, zero, sizeof(zero));
	far = eg_add_sym(&g, "far_fn", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	near = eg_add_sym(&g, "near_obj", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	eg_add_sym(&g, "weak_unres", STB_WEAK, STT_NOTYPE, SHN_UNDEF, 0, 0);
	eg_add_sym(&g, "abs", STB_GLOBAL, STT_NOTYPE, SHN_ABS, 0x1000, 0);
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		eg_add_rel(&g, s, 8 * i, i % 2 ? far : near, types[i], (int64_t)i - 4);
	eg_add_rel(&g, s, 0, g.nsym - 2, R_X86_64_64, 0);
	write_seed(dir, "relocs.xsplice", &g);
}

static void seed_nop_and_hooks_only(const char *dir)
{
	struct eg g;
	struct eg_min m;
	struct xsplice_func *f;

	eg_minimal(&g, &m);
	f = (struct xsplice_func *)g.sec[m.funcs].data;
	f->new_size = 5;
	f->flags = XSPLICE_FUNC_INLINE;
	f->expect.enabled = 1;
	f->expect.len = 5;
	memcpy(f->expect.data, "\x0f\x1f\x44\x00\x00", 5);
	g.rel[1].sec = m.data;
	write_seed(dir, "nop.xsplice", &g);

	eg_minimal(&g, &m);
	eg_set_data(&g, m.funcs, NULL, 0);
	g.nrel = 0;
	eg_add_hook(&g, XSPLICE_SEC_HOOK_APPLY, m.sym_new);
	eg_add_hook(&g, XSPLICE_SEC_HOOK_REVERT, m.sym_new);
	write_seed(dir, "hooks-only.xsplice", &g);
}

int main(int argc, char **argv)
{
	struct eg g;
	struct eg_min m;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	eg_minimal(&g, &m);
	write_seed(argv[1], "minimal.xsplice", &g);
	seed_rich(argv[1]);
	seed_relocs(argv[1]);
	seed_nop_and_hooks_only(argv[1]);
	return 0;
}
