/*
 * Layout and placement: which section goes to which area, alignment, page
 * separation, GOT and stub counts; symbol resolution (symrefs, resolver,
 * weak, unresolved); the checks on the relocated funcs / hooks; global
 * symbols, .eh_frame and the text range; and the minimal payload actually
 * executed from memory, near its caller (direct call) and far from it
 * (through a stub).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/arch.h"
#include "ut.h"

#define BASE ((uintptr_t)0x10000000)
#define BIAS ((uintptr_t)0x20000000)
#define FAR_FN ((uintptr_t)0x7ff012345670)
#define NEAR_OBJ ((uintptr_t)0x10800000)

static void host_std(struct ut_host *h)
{
	ut_host_init(h, BIAS);
	ut_host_add(h, "ext_fn", FAR_FN);
	ut_host_add(h, "counter", NEAR_OBJ);
}

/* build, verify, place at BASE; asserts each step succeeds */
static void link_ok(struct ut_payload *p, struct xs_elf **e, struct ut_host *h,
                    struct ut_placed *pl)
{
	struct xs_err err = {0};
	int rc;

	eg_build(&p->g, &p->o);
	*e = UT_VERIFY_OK(&p->o);
	rc = ut_place(*e, BASE, h, pl, &err);
	if (rc)
		fail_msg("place failed: %d %s", rc, err.msg);
	assert_true(ut_guards_ok(pl));
}

static void link_refused(struct ut_payload *p, struct ut_host *h, int code, const char *msg)
{
	struct xs_err err = {0};
	struct ut_placed pl;
	struct xs_elf *e;
	int rc;

	eg_build(&p->g, &p->o);
	e = UT_VERIFY_OK(&p->o);
	rc = ut_place(e, BASE, h, &pl, &err);
	if (rc != code || err.code != code || !strstr(err.msg, msg))
		fail_msg("expected %d \"%s\", got %d \"%s\"", code, msg, rc, err.msg);
	/* on failure nothing is returned and nothing outside the areas written */
	assert_null(pl.l.funcs);
	assert_int_equal(pl.l.nsymbols, 0);
	assert_true(ut_guards_ok(&pl));
	ut_placed_free(&pl);
	xs_elf_free(e);
}

static void done(struct ut_payload *p, struct xs_elf *e, struct ut_placed *pl)
{
	ut_placed_free(pl);
	xs_elf_free(e);
	ut_payload_free(p);
}

/* ---- layout ------------------------------------------------------------------------- */

static void layout_minimal(void **state)
{
	struct ut_payload p;
	struct xs_layout lay;
	struct xs_err err = {0};
	struct xs_elf *e;

	(void)state;
	ut_min(&p);
	e = UT_VERIFY_OK(&p.o);
	assert_int_equal(xs_link_layout(e, 4096, &lay, &err), 0);
	for (int a = 0; a < XS_AREA_COUNT; a++)
		assert_int_equal(lay.size[a], 4096);
	assert_int_equal(lay.total, 3 * 4096);
	assert_int_equal(lay.ngot, 1);   /* counter */
	assert_int_equal(lay.nstubs, 1); /* ext_fn */
	assert_int_equal(xs_link_layout(e, 65536, &lay, &err), 0);
	assert_int_equal(lay.size[XS_AREA_RX], 65536);
	assert_int_equal(lay.total, 3 * 65536);
	assert_int_equal(xs_link_layout(e, 3000, &lay, &err), -EINVAL);
	assert_string_equal(err.msg, "page size 3000 is not a power of two");
	xs_elf_free(e);
	ut_payload_free(&p);
}

static void layout_big_sections_span_pages(void **state)
{
	struct ut_payload p;
	struct xs_layout lay;
	struct xs_err err = {0};
	struct xs_elf *e;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, ".bss.big", SHT_NOBITS, SHF_ALLOC | SHF_WRITE, 64, NULL, 3 * 4096 + 1);
	eg_add_sec(&p.g, ".rodata.big", SHT_PROGBITS, SHF_ALLOC, 8, NULL, 5000);
	eg_build(&p.g, &p.o);
	e = UT_VERIFY_OK(&p.o);
	assert_int_equal(xs_link_layout(e, 4096, &lay, &err), 0);
	assert_int_equal(lay.size[XS_AREA_RX], 4096);
	assert_int_equal(lay.size[XS_AREA_R], 2 * 4096);  /* 7 + 5000 + GOT */
	assert_int_equal(lay.size[XS_AREA_RW], 4 * 4096); /* 16 + 16 + 80 + 12289 */
	xs_elf_free(e);
	ut_payload_free(&p);
}

static void layout_alignment_above_page(void **state)
{
	struct ut_payload p;
	struct xs_layout lay;
	struct xs_err err = {0};
	struct xs_elf *e;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, ".data.page", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 4096, NULL, 8);
	eg_build(&p.g, &p.o);
	e = UT_VERIFY_OK(&p.o);
	assert_int_equal(xs_link_layout(e, 4096, &lay, &err), 0);
	assert_int_equal(xs_link_layout(e, 1024, &lay, &err), -ENOTSUP);
	assert_string_equal(err.msg,
	                    "a section asks for alignment 0x1000, more than the 0x400-byte page");
	xs_elf_free(e);
	ut_payload_free(&p);
}

static void layout_sections_to_areas(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;
	unsigned al;
	uintptr_t rx = BASE, r = BASE + 4096, rw = BASE + 8192;

	(void)state;
	eg_minimal(&p.g, &p.m);
	al = eg_add_sec(&p.g, ".data.al", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 256, "x", 1);
	eg_add_sym(&p.g, "aligned", STB_GLOBAL, STT_OBJECT, al, 0, 1);
	eg_add_sym(&p.g, "in_bss", STB_GLOBAL, STT_OBJECT, p.m.bss, 8, 8);
	eg_add_sym(&p.g, "in_data", STB_GLOBAL, STT_OBJECT, p.m.data, 0, 8);
	eg_add_sym(&p.g, "in_ro", STB_GLOBAL, STT_OBJECT, p.m.rodata, 0, 7);
	host_std(&h);
	link_ok(&p, &e, &h, &pl);
	assert_int_equal(pl.rg[XS_AREA_R].addr, r);
	/* .text first in RX, the stub after it, 16-aligned */
	assert_int_equal(ut_sym_addr(&pl, "new_fn"), rx);
	assert_int_equal(pl.l.funcs[0].new_addr, rx);
	assert_int_equal(pl.l.text_start, rx);
	assert_int_equal(pl.l.text_end, rx + 32 + XS_ARCH_STUB_SIZE);
	/* read-only data in R, then the GOT */
	assert_int_equal(ut_sym_addr(&pl, "in_ro"), r);
	assert_int_equal((uintptr_t)pl.l.funcs[0].name, r);
	/* writable and NOBITS in RW, in section order, aligned */
	assert_int_equal(ut_sym_addr(&pl, "in_data"), rw);
	assert_int_equal(ut_sym_addr(&pl, "in_bss"), rw + 16 + 8);
	assert_int_equal(ut_sym_addr(&pl, "aligned"), rw + 256);
	done(&p, e, &pl);
}

static void layout_empty_area(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;

	(void)state;
	eg_minimal(&p.g, &p.m);
	p.g.sec[p.m.rodata].flags |= SHF_WRITE; /* no read-only section ... */
	p.g.nrel--;                             /* ... and no GOT: R is empty */
	host_std(&h);
	link_ok(&p, &e, &h, &pl);
	assert_int_equal(pl.lay.size[XS_AREA_R], 0);
	assert_int_equal(pl.lay.ngot, 0);
	assert_int_equal(pl.lay.total, 2 * 4096);
	done(&p, e, &pl);
}

/* ---- placement ------------------------------------------------------------------------ */

static void place_fills_got_stub_and_tables(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;
	const uint8_t *code;
	uint64_t got;
	int32_t rel;

	(void)state;
	eg_minimal(&p.g, &p.m);
	host_std(&h);
	link_ok(&p, &e, &h, &pl);
	code = ut_stage_of(&pl, BASE);
	/* call ext_fn: far, so through the stub right after the code */
	memcpy(&rel, code + 2, 4);
	assert_int_equal(BASE + 6 + rel, BASE + 32);
	assert_int_equal(xs_arch_stub_target(code + 32), FAR_FN);
	/* padding between code and stub is int3 */
	for (int i = EG_NEW_FN_SIZE; i < 32; i++)
		assert_int_equal(code[i], XS_ARCH_CODE_FILL);
	/* mov counter@GOTPCREL(%rip): the GOT slot after .rodata.str (8-aligned) */
	memcpy(&rel, code + 11, 4);
	assert_int_equal(BASE + 15 + rel, BASE + 4096 + 8);
	memcpy(&got, ut_stage_of(&pl, BASE + 4096 + 8), 8);
	assert_int_equal(got, NEAR_OBJ);
	/* the funcs entry, read back relocated */
	assert_int_equal(pl.l.nfuncs, 1);
	assert_string_equal(pl.l.funcs[0].name == (const char *)(BASE + 4096) ? "ok" : "bad", "ok");
	assert_int_equal(pl.l.funcs[0].old_addr, BIAS + EG_OLD_FN_OFFSET);
	assert_int_equal(pl.l.funcs[0].new_size, EG_NEW_FN_SIZE);
	assert_int_equal(pl.l.funcs[0].expect_len, 0);
	assert_int_equal(pl.l.funcs[0].flags, 0);
	done(&p, e, &pl);
}

static void place_nobits_zeroed(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;
	const uint8_t *bss;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sym(&p.g, "b", STB_GLOBAL, STT_OBJECT, p.m.bss, 0, 16);
	host_std(&h);
	link_ok(&p, &e, &h, &pl); /* the staging buffer was 0xa5 before */
	bss = ut_stage_of(&pl, ut_sym_addr(&pl, "b"));
	for (int i = 0; i < 16; i++)
		assert_int_equal(bss[i], 0);
	done(&p, e, &pl);
}

static void place_unresolved(void **state)
{
	struct ut_payload p;
	struct ut_host h;

	(void)state;
	eg_minimal(&p.g, &p.m);
	ut_host_init(&h, BIAS);
	ut_host_add(&h, "counter", NEAR_OBJ);
	link_refused(&p, &h, -ENOENT, "unresolved symbol 'ext_fn'");
	ut_payload_free(&p);
}

static void place_no_resolver(void **state)
{
	struct ut_payload p;
	struct ut_host h;

	(void)state;
	eg_minimal(&p.g, &p.m);
	ut_host_init(&h, BIAS);
	h.h.resolve = NULL;
	link_refused(&p, &h, -ENOENT, "unresolved symbol '");
	ut_payload_free(&p);
}

static void place_weak_unresolved_is_zero(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;
	uint64_t got;

	(void)state;
	eg_minimal(&p.g, &p.m);
	p.g.sym[p.m.sym_counter].info = ELF64_ST_INFO(STB_WEAK, STT_NOTYPE);
	ut_host_init(&h, BIAS);
	ut_host_add(&h, "ext_fn", FAR_FN);
	link_ok(&p, &e, &h, &pl);
	memcpy(&got, ut_stage_of(&pl, BASE + 4096 + 8), 8);
	assert_int_equal(got, 0);
	done(&p, e, &pl);
}

static void place_symref_wins(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;

	(void)state;
	eg_minimal(&p.g, &p.m);
	host_std(&h);
	ut_host_add(&h, "old_fn", 0x1111);
	link_ok(&p, &e, &h, &pl);
	assert_int_equal(pl.l.funcs[0].old_addr, BIAS + EG_OLD_FN_OFFSET);
	assert_int_equal(h.calls, 2); /* ext_fn and counter, never old_fn */
	done(&p, e, &pl);
}

static void place_region_too_small(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;
	struct xs_err err = {0};
	struct xs_region rg[XS_AREA_COUNT];

	(void)state;
	eg_minimal(&p.g, &p.m);
	host_std(&h);
	link_ok(&p, &e, &h, &pl);
	xs_linked_free(&pl.l);
	memcpy(rg, pl.rg, sizeof(rg));
	rg[XS_AREA_RX].size = 40; /* code + stub need 48 */
	assert_int_equal(xs_link_place(e, rg, &h.h, &pl.l, &err), -EINVAL);
	assert_string_equal(err.msg, "RX area: 40 bytes given, the payload needs 48");
	rg[XS_AREA_RX].size = 4096;
	rg[XS_AREA_RW].stage = NULL;
	assert_int_equal(xs_link_place(e, rg, &h.h, &pl.l, &err), -EINVAL);
	assert_string_equal(err.msg, "RW area: 0 bytes given, the payload needs 112");
	rg[XS_AREA_RW] = pl.rg[XS_AREA_RW];
	rg[XS_AREA_RW].addr += 4; /* .bss wants 16 */
	assert_int_equal(xs_link_place(e, rg, &h.h, &pl.l, &err), -EINVAL);
	assert_string_equal(err.msg, "RW area: address 0x10002004 is not aligned to 0x10");
	done(&p, e, &pl);
}

/* ---- checks on the relocated tables ----------------------------------------------------- */

static void func_name_outside_payload(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	unsigned abs;

	(void)state;
	eg_minimal(&p.g, &p.m);
	abs = eg_add_sym(&p.g, "somewhere", STB_GLOBAL, STT_OBJECT, SHN_ABS, 0x1000, 0);
	p.g.rel[0].sym = abs;
	host_std(&h);
	link_refused(&p, &h, -ENOEXEC,
	             "funcs entry 0: name pointer 0x1000 is not inside the payload");
	ut_payload_free(&p);
}

static void func_name_unterminated(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	char s[200];

	(void)state;
	memset(s, 'a', sizeof(s));
	eg_minimal(&p.g, &p.m);
	eg_set_data(&p.g, p.m.rodata, s, sizeof(s));
	host_std(&h);
	link_refused(&p, &h, -ENOEXEC,
	             "funcs entry 0: name is not NUL-terminated within 128 bytes");
	ut_payload_free(&p);
}

/* the name's bytes run to the end of the used area without a NUL */
static void func_name_runs_off_area(void **state)
{
	struct ut_payload p;
	struct ut_host h;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_set_data(&p.g, p.m.rodata, "abc", 3);
	p.g.nrel--; /* no GOT: .rodata.str is all of R */
	host_std(&h);
	link_refused(&p, &h, -ENOEXEC,
	             "funcs entry 0: name is not NUL-terminated within 128 bytes");
	ut_payload_free(&p);
}

static void func_new_addr_not_code(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	unsigned d;

	(void)state;
	eg_minimal(&p.g, &p.m);
	d = eg_add_sym(&p.g, "data_obj", STB_GLOBAL, STT_OBJECT, p.m.data, 0, 8);
	p.g.rel[1].sym = d;
	host_std(&h);
	link_refused(
	    &p, &h, -ENOEXEC,
	    "funcs entry 0 (old_fn): new_addr 0x10002000 + new_size 0x15 is not inside the "
	    "payload's code");
	ut_payload_free(&p);
}

static void func_new_size_past_code(void **state)
{
	struct ut_payload p;
	struct ut_host h;

	(void)state;
	eg_minimal(&p.g, &p.m);
	((struct xsplice_func *)p.g.sec[p.m.funcs].data)->new_size = 49;
	host_std(&h);
	link_refused(&p, &h, -ENOEXEC, "new_addr 0x10000000 + new_size 0x31 is not inside");
	ut_payload_free(&p);
}

static void func_old_addr_zero(void **state)
{
	struct ut_payload p;
	struct ut_host h;

	(void)state;
	eg_minimal(&p.g, &p.m);
	((struct xsplice_symref *)p.g.sec[p.m.symrefs].data)->offset = 0;
	host_std(&h);
	h.h.target_bias = 0;
	link_refused(&p, &h, -ENOEXEC, "funcs entry 0 (old_fn): old_addr resolved to 0");
	ut_payload_free(&p);
}

static void func_old_addr_in_payload(void **state)
{
	struct ut_payload p;
	struct ut_host h;

	(void)state;
	eg_minimal(&p.g, &p.m);
	p.g.rel[2].sym = p.m.sym_new;
	host_std(&h);
	link_refused(&p, &h, -ENOEXEC,
	             "funcs entry 0 (old_fn): old_addr 0x10000000 is inside the payload itself, "
	             "not in the target");
	ut_payload_free(&p);
}

static void nop_entry_linked(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;
	struct xsplice_func *f;

	(void)state;
	eg_minimal(&p.g, &p.m);
	f = (struct xsplice_func *)p.g.sec[p.m.funcs].data;
	f->new_size = 3;
	f->old_size = 40;
	f->expect.enabled = 1;
	f->expect.len = 3;
	memcpy(f->expect.data, "\x55\x48\x89", 3);
	p.g.rel[1].sec = p.m.data; /* no new_addr relocation: a NOP patch */
	host_std(&h);
	link_ok(&p, &e, &h, &pl);
	assert_int_equal(pl.l.funcs[0].new_addr, 0);
	assert_int_equal(pl.l.funcs[0].new_size, 3);
	assert_int_equal(pl.l.funcs[0].old_size, 40);
	assert_int_equal(pl.l.funcs[0].expect_len, 3);
	assert_memory_equal(pl.l.funcs[0].expect, "\x55\x48\x89", 3);
	done(&p, e, &pl);
}

static void hooks_linked(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;
	unsigned s, f2;

	(void)state;
	eg_minimal(&p.g, &p.m);
	f2 = eg_add_sym(&p.g, "hook2", STB_LOCAL, STT_FUNC, p.m.text, 20, 1);
	eg_add_hook(&p.g, XSPLICE_SEC_HOOK_LOAD, p.m.sym_new);
	s = eg_add_hook(&p.g, XSPLICE_SEC_PERTHREAD, p.m.sym_new);
	eg_set_data(&p.g, s, NULL, 16);
	eg_add_rel(&p.g, s, 8, f2, R_X86_64_64, 0);
	host_std(&h);
	link_ok(&p, &e, &h, &pl);
	assert_int_equal(pl.l.nhooks[XS_HOOK_LOAD], 1);
	assert_int_equal(pl.l.hooks[XS_HOOK_LOAD][0], BASE);
	assert_int_equal(pl.l.nhooks[XS_HOOK_PERTHREAD], 2);
	assert_int_equal(pl.l.hooks[XS_HOOK_PERTHREAD][1], BASE + 20);
	assert_int_equal(pl.l.nhooks[XS_HOOK_UNLOAD], 0);
	assert_null(pl.l.hooks[XS_HOOK_UNLOAD]);
	done(&p, e, &pl);
}

static void hook_outside_code(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	unsigned d;

	(void)state;
	eg_minimal(&p.g, &p.m);
	d = eg_add_sym(&p.g, "data_obj", STB_GLOBAL, STT_OBJECT, p.m.data, 0, 8);
	eg_add_hook(&p.g, XSPLICE_SEC_HOOK_POSTREVERT, d);
	host_std(&h);
	link_refused(&p, &h, -ENOEXEC,
	             "section 8 (.xsplice.hooks.postrevert): hook 0 points to 0x10002000, outside "
	             "the payload's code");
	ut_payload_free(&p);
}

static void symbols_exported(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sym(&p.g, "local_fn", STB_LOCAL, STT_FUNC, p.m.text, 0, 4);
	eg_add_sym(&p.g, "weak_obj", STB_WEAK, STT_OBJECT, p.m.data, 8, 8);
	eg_add_sym(&p.g, "abs_sym", STB_GLOBAL, STT_NOTYPE, SHN_ABS, 0x4242, 0);
	host_std(&h);
	link_ok(&p, &e, &h, &pl);
	/* the payload's bytes may go away: names are copies */
	eg_out_free(&p.o);
	assert_int_equal(pl.l.nsymbols, 3);
	assert_string_equal(pl.l.symbols[0].name, "new_fn");
	assert_int_equal(pl.l.symbols[0].addr, BASE);
	assert_int_equal(pl.l.symbols[0].size, EG_NEW_FN_SIZE);
	assert_int_equal(pl.l.symbols[0].type, STT_FUNC);
	assert_string_equal(pl.l.symbols[1].name, "weak_obj");
	assert_int_equal(pl.l.symbols[1].addr, BASE + 8192 + 8);
	assert_string_equal(pl.l.symbols[2].name, "abs_sym");
	assert_int_equal(pl.l.symbols[2].addr, 0x4242);
	assert_int_equal(ut_sym_addr(&pl, "local_fn"), 0);
	done(&p, e, &pl);
}

/* A real .eh_frame: one CIE ("zR", pcrel|sdata4 addresses) and one FDE
 * whose pc_begin (offset 28) is relocated against the text. */
static const uint8_t eh_good[40] = {
    16, 0, 0, 0, 0, 0, 0, 0,                  /* CIE: length, id 0 */
    1, 'z', 'R', 0, 1, 0x78, 16, 1, 0x1b, 0, 0, 0, /* v1, aug, align, ra, R */
    16, 0, 0, 0, 24, 0, 0, 0,                 /* FDE: length, CIE pointer */
    0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,       /* pc_begin, pc_range 1, aug 0 */
};

static int link_eh(const uint8_t *eh, size_t n, struct ut_placed *pl, struct xs_elf **e,
		   struct ut_payload *p, struct xs_err *err)
{
	struct ut_host h;
	eg_minimal(&p->g, &p->m);
	unsigned s = eg_add_sec(&p->g, ".eh_frame", SHT_X86_64_UNWIND, SHF_ALLOC, 8, eh, n);
	eg_add_rel(&p->g, s, 28, p->m.sym_text, R_X86_64_PC32, 0);
	host_std(&h);
	memset(err, 0, sizeof(*err));
	eg_build(&p->g, &p->o);
	*e = UT_VERIFY_OK(&p->o);
	int rc = ut_place(*e, BASE, &h, pl, err);
	assert_true(ut_guards_ok(pl));
	return rc;
}

static void eh_frame_placed(void **state)
{
	struct ut_payload p;
	struct ut_placed pl;
	struct xs_elf *e;
	struct xs_err err;
	int32_t pc;

	(void)state;
	assert_int_equal(link_eh(eh_good, sizeof(eh_good), &pl, &e, &p, &err), 0);
	/* R: .rodata.str (7 bytes), .eh_frame at 8, then the GOT */
	assert_int_equal(pl.l.eh_frame, BASE + 4096 + 8);
	assert_int_equal(pl.l.eh_frame_size, sizeof(eh_good));
	memcpy(&pc, ut_stage_of(&pl, pl.l.eh_frame + 28), 4);
	assert_int_equal(pl.l.eh_frame + 28 + pc, BASE);
	done(&p, e, &pl);
}

/* Each broken .eh_frame is refused before anything could register it. */
static void eh_frame_malformed_refused(void **state)
{
	static const struct {
		size_t at;
		uint8_t val;
		const char *msg;
	} cases[] = {
	    {0, 200, "runs past the section"},         /* CIE length */
	    {8, 7, "unknown version"},                 /* CIE version */
	    {10, 'Q', "unknown augmentation"},         /* 'zQ' */
	    {16, 0x55, "address encoding"},            /* R: not pcrel/absptr */
	    {24, 60, "points before the section"},     /* FDE CIE pointer */
	    {24, 20, "its CIE has a bad length"},     /* FDE -> inside the CIE */
	    {24, 4, "does not point at a CIE"},       /* FDE -> the FDE itself */
	    {32, 0x80, "outside the payload"},         /* pc_range huge */
	    {20, 200, "runs past the section"},        /* FDE length */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t eh[sizeof(eh_good)];
		struct ut_payload p;
		struct ut_placed pl;
		struct xs_elf *e;
		struct xs_err err;
		memcpy(eh, eh_good, sizeof(eh));
		eh[cases[i].at] = cases[i].val;
		if (cases[i].at == 32) /* a range of 0x80000080 bytes */
			eh[35] = 0x80;
		assert_int_equal(link_eh(eh, sizeof(eh), &pl, &e, &p, &err), -EINVAL);
		if (!strstr(err.msg, ".eh_frame") || !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: unexpected message: %s", i, err.msg);
		done(&p, e, &pl);
	}
}

static void debug_relocs_not_applied(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_elf *e;
	unsigned dbg, nowhere;

	(void)state;
	eg_minimal(&p.g, &p.m);
	dbg = eg_add_sec(&p.g, ".debug_info", SHT_PROGBITS, 0, 1, NULL, 16);
	nowhere = eg_add_sym(&p.g, "nowhere", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	eg_add_rel(&p.g, dbg, 0, nowhere, R_X86_64_64, 0);
	host_std(&h);
	link_ok(&p, &e, &h, &pl);
	assert_int_equal(h.calls, 2);
	done(&p, e, &pl);
}

/* ---- run it ----------------------------------------------------------------------------- */

int counter = 100;
int ext_fn(void);
int ext_fn(void)
{
	return 7;
}

static int maps_read(struct xs_range *m, size_t max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	size_t n = 0;

	assert_non_null(f);
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			m[n++] = (struct xs_range){lo, hi};
	}
	fclose(f);
	return (int)n;
}

/* Link the minimal payload at `want` (MAP_FIXED_NOREPLACE), make it RX / R
 * / RW and call new_fn: ext_fn() + counter.  Returns the call target of the
 * `call ext_fn` instruction. */
static uintptr_t run_at(uintptr_t want)
{
	struct ut_payload p;
	struct ut_host h;
	struct xs_layout lay;
	struct xs_region rg[XS_AREA_COUNT];
	struct xs_linked l;
	struct xs_err err = {0};
	struct xs_elf *e;
	uint8_t *mem;
	size_t off = 0;
	int32_t rel;
	uintptr_t target;
	int (*fn)(void);

	ut_min(&p);
	e = UT_VERIFY_OK(&p.o);
	assert_int_equal(xs_link_layout(e, 4096, &lay, &err), 0);
	mem = mmap((void *)want, lay.total, PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	assert_true(mem == (uint8_t *)want);
	for (int a = 0; a < XS_AREA_COUNT; a++) {
		rg[a] = (struct xs_region){mem + off, (uintptr_t)mem + off, lay.size[a]};
		off += lay.size[a];
	}
	ut_host_init(&h, 0x1000);
	ut_host_add(&h, "ext_fn", (uintptr_t)&ext_fn);
	ut_host_add(&h, "counter", (uintptr_t)&counter);
	if (xs_link_place(e, rg, &h.h, &l, &err))
		fail_msg("place: %s", err.msg);
	assert_int_equal(mprotect(rg[XS_AREA_RX].stage, rg[XS_AREA_RX].size, PROT_READ | PROT_EXEC),
	                 0);
	assert_int_equal(mprotect(rg[XS_AREA_R].stage, rg[XS_AREA_R].size, PROT_READ), 0);
	fn = (int (*)(void))l.funcs[0].new_addr;
	counter = 100;
	assert_int_equal(fn(), 107);
	counter = 200;
	assert_int_equal(fn(), 207);
	memcpy(&rel, (uint8_t *)l.funcs[0].new_addr + 2, 4);
	target = want + 6 + rel;
	if (target != (uintptr_t)&ext_fn) /* through a stub, to ext_fn */
		assert_int_equal(xs_arch_stub_target((const uint8_t *)target), (uintptr_t)&ext_fn);
	xs_linked_free(&l);
	munmap(mem, lay.total);
	xs_elf_free(e);
	ut_payload_free(&p);
	return target;
}

static void runs_near_with_direct_call(void **state)
{
	static struct xs_range maps[4096];
	uintptr_t lo = (uintptr_t)&ext_fn & ~(uintptr_t)4095, at, target;
	struct xs_err err = {0};
	int n = maps_read(maps, 4096);

	(void)state;
	assert_int_equal(xs_near_find(maps, (size_t)n, lo, lo + 4096, 3 * 4096, 4096, &at, &err),
	                 0);
	target = run_at(at);
	assert_int_equal(target, (uintptr_t)&ext_fn); /* in reach: no stub */
}

static void runs_far_through_stub(void **state)
{
	uintptr_t at = ((uintptr_t)&ext_fn + (8ull << 30)) & ~(uintptr_t)0xfffff, target;

	(void)state;
	target = run_at(at);
	assert_int_equal(target, at + 32); /* the stub after the 21 bytes of code */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(layout_minimal),
	    cmocka_unit_test(layout_big_sections_span_pages),
	    cmocka_unit_test(layout_alignment_above_page),
	    cmocka_unit_test(layout_sections_to_areas),
	    cmocka_unit_test(layout_empty_area),
	    cmocka_unit_test(place_fills_got_stub_and_tables),
	    cmocka_unit_test(place_nobits_zeroed),
	    cmocka_unit_test(place_unresolved),
	    cmocka_unit_test(place_no_resolver),
	    cmocka_unit_test(place_weak_unresolved_is_zero),
	    cmocka_unit_test(place_symref_wins),
	    cmocka_unit_test(place_region_too_small),
	    cmocka_unit_test(func_name_outside_payload),
	    cmocka_unit_test(func_name_unterminated),
	    cmocka_unit_test(func_name_runs_off_area),
	    cmocka_unit_test(func_new_addr_not_code),
	    cmocka_unit_test(func_new_size_past_code),
	    cmocka_unit_test(func_old_addr_zero),
	    cmocka_unit_test(func_old_addr_in_payload),
	    cmocka_unit_test(nop_entry_linked),
	    cmocka_unit_test(hooks_linked),
	    cmocka_unit_test(hook_outside_code),
	    cmocka_unit_test(symbols_exported),
	    cmocka_unit_test(eh_frame_placed),
	    cmocka_unit_test(eh_frame_malformed_refused),
	    cmocka_unit_test(debug_relocs_not_applied),
	    cmocka_unit_test(runs_near_with_direct_call),
	    cmocka_unit_test(runs_far_through_stub),
	};

	return cmocka_run_group_tests_name("link: layout and placement", tests, NULL, NULL);
}
