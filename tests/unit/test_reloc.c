/*
 * One test per relocation type through the whole pipeline (verify, layout,
 * place at a chosen run-time address): the value written into the field,
 * and the overflow detected and named.  Plus GOT / stub sharing and the
 * arch table itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "ut.h"

#define BASE ((uintptr_t)0x10000000)
#define FIELD_OFF 4
#define FAR ((uintptr_t)0x7ff000000000)

struct rt {
	struct ut_payload p;
	struct xs_elf *e;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_err err;
	unsigned sec;   /* the section holding the field */
	uintptr_t P;    /* run-time address of the field */
	uint8_t *field; /* its staged bytes */
	int rc;
};

/*
 * The minimal payload plus a 16-byte section (`code` selects .text.t, whose
 * bytes are nop;nop;nop;call rel32 so the field at 4 is a call operand, or
 * else .data.t filled with 0x11) with one relocation of `type` at offset 4
 * against the undefined symbol "x", which the host resolves to S, or (with
 * symref) which is a target symbol at target_bias + S.
 */
static void rt_run(struct rt *t, uint32_t type, uintptr_t S, int64_t A, int code, int symref)
{
	static const uint8_t call[16] = {0x90, 0x90, 0x90, 0xe8};
	uint8_t fill[16];
	unsigned x;

	memset(t, 0, sizeof(*t));
	memset(fill, 0x11, sizeof(fill));
	eg_minimal(&t->p.g, &t->p.m);
	t->sec = code ? eg_add_sec(&t->p.g, ".text.t", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 16,
	                           call, 16)
	              : eg_add_sec(&t->p.g, ".data.t", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 16,
	                           fill, 16);
	eg_add_sym(&t->p.g, "slot", STB_GLOBAL, STT_OBJECT, t->sec, FIELD_OFF, 8);
	x = eg_add_sym(&t->p.g, "x", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	eg_add_rel(&t->p.g, t->sec, FIELD_OFF, x, type, A);
	ut_host_init(&t->h, 0);
	ut_host_add(&t->h, "ext_fn", BASE + 0x100000);
	ut_host_add(&t->h, "counter", BASE + 0x100000);
	if (symref) {
		struct xsplice_symref r[2] = {{t->p.m.sym_old, 0, 0x1230}, {x, 0, S}};

		eg_set_data(&t->p.g, t->p.m.symrefs, r, sizeof(r));
		t->h.h.target_bias = 0;
	} else {
		ut_host_add(&t->h, "x", S);
	}
	eg_build(&t->p.g, &t->p.o);
	t->e = UT_VERIFY_OK(&t->p.o);
	t->rc = ut_place(t->e, BASE, &t->h, &t->pl, &t->err);
	assert_true(ut_guards_ok(&t->pl));
	if (t->rc == 0) {
		t->P = ut_sym_addr(&t->pl, "slot");
		t->field = ut_stage_of(&t->pl, t->P);
	}
}

static void rt_done(struct rt *t)
{
	ut_placed_free(&t->pl);
	xs_elf_free(t->e);
	ut_payload_free(&t->p);
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void rt_overflow(struct rt *t, const char *msg)
{
	if (t->rc != -ERANGE || !strstr(t->err.msg, msg))
		fail_msg("expected -ERANGE \"%s\", got %d \"%s\"", msg, t->rc, t->err.msg);
}

/* ---- per type ---------------------------------------------------------------------------- */

static void r_none(void **state)
{
	struct rt t;

	(void)state;
	rt_run(&t, R_X86_64_NONE, 0x1234, 0, 0, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal(rd64(t.field), 0x1111111111111111ull); /* untouched */
	rt_done(&t);
}

/* R_X86_64_NONE needs no symbol value: an unresolvable one is fine */
static void r_none_unresolved(void **state)
{
	struct ut_payload p;
	struct ut_host h;
	struct ut_placed pl;
	struct xs_err err = {0};
	struct xs_elf *e;
	unsigned y;

	(void)state;
	eg_minimal(&p.g, &p.m);
	y = eg_add_sym(&p.g, "nowhere", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	eg_add_rel(&p.g, p.m.data, 0, y, R_X86_64_NONE, 0);
	eg_build(&p.g, &p.o);
	e = UT_VERIFY_OK(&p.o);
	ut_host_init(&h, 0);
	ut_host_add(&h, "ext_fn", BASE + 0x100000);
	ut_host_add(&h, "counter", BASE + 0x100000);
	assert_int_equal(ut_place(e, BASE, &h, &pl, &err), 0);
	assert_int_equal(h.calls, 2);
	ut_placed_free(&pl);
	xs_elf_free(e);
	ut_payload_free(&p);
}

static void r_64(void **state)
{
	struct rt t;

	(void)state;
	rt_run(&t, R_X86_64_64, 0x123456789abc, 0x10, 0, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal(rd64(t.field), 0x123456789accull);
	assert_int_equal(rd32(t.field + 8), 0x11111111); /* only 8 bytes written */
	rt_done(&t);
	rt_run(&t, R_X86_64_64, ~(uintptr_t)0, 2, 0, 0); /* modular: never overflows */
	assert_int_equal(t.rc, 0);
	assert_int_equal(rd64(t.field), 1);
	rt_done(&t);
}

static void r_pc32(void **state)
{
	struct rt t;

	(void)state;
	rt_run(&t, R_X86_64_PC32, BASE + 0x40000000, -4, 0, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal((int32_t)rd32(t.field), (int64_t)(BASE + 0x40000000 - 4 - t.P));
	rt_done(&t);
	rt_run(&t, R_X86_64_PC32, 0x1000, -4, 0, 0); /* backwards */
	assert_int_equal(t.rc, 0);
	assert_int_equal((int32_t)rd32(t.field), (int64_t)0x1000 - 4 - (int64_t)t.P);
	rt_done(&t);
}

static void r_pc32_overflow(void **state)
{
	struct rt t;

	(void)state;
	/* .data.t is at BASE + 0x2070 in RW; the field at +4 */
	rt_run(&t, R_X86_64_PC32, BASE + 0x2074 + 0x80000000ull, 0, 0, 0);
	rt_overflow(&t, "relocation R_X86_64_PC32 against 'x' at section 8 (.data.t)+0x4 "
	                "overflows: value 0x80000000 does not fit its 4-byte field");
	rt_done(&t);
	rt_run(&t, R_X86_64_PC32, BASE + 0x2074 + 0x7fffffffull, 0, 0, 0); /* the last that fits */
	assert_int_equal(t.rc, 0);
	assert_int_equal(rd32(t.field), 0x7fffffff);
	rt_done(&t);
}

static void r_pc32_far_call_via_stub(void **state)
{
	struct rt t;
	uintptr_t stub;

	(void)state;
	rt_run(&t, R_X86_64_PC32, FAR, -4, 1, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.pl.lay.nstubs, 2); /* ext_fn and x */
	stub = t.P + 4 + (int32_t)rd32(t.field);
	assert_int_equal(xs_arch_stub_target(ut_stage_of(&t.pl, stub)), FAR);
	rt_done(&t);
}

static void r_pc32_far_target_symbol(void **state)
{
	struct rt t;

	(void)state;
	/* a target symbol (symref) never gets a stub: the host places the
	 * payload near the target, so a far one is an error */
	rt_run(&t, R_X86_64_PC32, FAR, -4, 1, 1);
	assert_int_equal(t.pl.lay.nstubs, 1);
	rt_overflow(&t, "relocation R_X86_64_PC32 against 'x' at section 8 (.text.t)+0x4 "
	                "overflows");
	rt_done(&t);
}

static void r_plt32(void **state)
{
	struct rt t;

	(void)state;
	rt_run(&t, R_X86_64_PLT32, BASE + 0x1000, -4, 1, 0); /* near: direct */
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.P + 4 + (int32_t)rd32(t.field), BASE + 0x1000);
	rt_done(&t);
	rt_run(&t, R_X86_64_PLT32, FAR + 0x40, -4, 0, 0); /* far, even in data: stub */
	assert_int_equal(t.rc, 0);
	assert_int_equal(xs_arch_stub_target(ut_stage_of(&t.pl, t.P + 4 + (int32_t)rd32(t.field))),
	                 FAR + 0x40);
	rt_done(&t);
}

static void r_plt32_overflow(void **state)
{
	struct rt t;

	(void)state;
	rt_run(&t, R_X86_64_PLT32, FAR, -4, 1, 1);
	rt_overflow(&t, "relocation R_X86_64_PLT32 against 'x' at section 8 (.text.t)+0x4 "
	                "overflows: value 0x7fefefffffd8 does not fit its 4-byte field");
	rt_done(&t);
}

static void r_32(void **state)
{
	struct rt t;

	(void)state;
	rt_run(&t, R_X86_64_32, 0xfffffff0, 0xf, 0, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal(rd32(t.field), 0xffffffff);
	assert_int_equal(rd32(t.field + 4), 0x11111111);
	rt_done(&t);
	rt_run(&t, R_X86_64_32, 0xfffffff0, 0x10, 0, 0);
	rt_overflow(&t, "relocation R_X86_64_32 against 'x' at section 8 (.data.t)+0x4 overflows: "
	                "value 0x100000000 does not fit its 4-byte field");
	rt_done(&t);
	rt_run(&t, R_X86_64_32, 0, -1, 0, 0); /* negative does not zero-extend */
	rt_overflow(&t, "value 0xffffffffffffffff does not fit");
	rt_done(&t);
}

static void r_32s(void **state)
{
	struct rt t;

	(void)state;
	rt_run(&t, R_X86_64_32S, 0x7fffffff, 0, 0, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal(rd32(t.field), 0x7fffffff);
	rt_done(&t);
	rt_run(&t, R_X86_64_32S, (uintptr_t)-0x80000000ll, 0, 0, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal(rd32(t.field), 0x80000000);
	rt_done(&t);
	rt_run(&t, R_X86_64_32S, 0x80000000, 0, 0, 0);
	rt_overflow(&t, "relocation R_X86_64_32S against 'x' at section 8 (.data.t)+0x4 overflows: "
	                "value 0x80000000");
	rt_done(&t);
	rt_run(&t, R_X86_64_32S, (uintptr_t)-0x80000001ll, 0, 0, 0);
	rt_overflow(&t, "value 0xffffffff7fffffff does not fit");
	rt_done(&t);
}

static void r_pc64(void **state)
{
	struct rt t;

	(void)state;
	rt_run(&t, R_X86_64_PC64, FAR, 8, 0, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal(rd64(t.field), FAR + 8 - t.P);
	rt_done(&t);
	rt_run(&t, R_X86_64_PC64, 0, 0, 0, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal(rd64(t.field), (uint64_t)0 - t.P);
	rt_done(&t);
}

static void got_type(uint32_t type)
{
	struct rt t;
	uintptr_t slot;

	rt_run(&t, type, FAR + 0x99, -4, 0, 0);
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.pl.lay.ngot, 2); /* counter and x */
	slot = t.P + 4 + (int32_t)rd32(t.field);
	assert_true(slot >= t.pl.rg[XS_AREA_R].addr &&
	            slot < t.pl.rg[XS_AREA_R].addr + t.pl.rg[XS_AREA_R].size);
	assert_int_equal(rd64(ut_stage_of(&t.pl, slot)), FAR + 0x99);
	rt_done(&t);
}

static void r_gotpcrel(void **state)
{
	(void)state;
	got_type(R_X86_64_GOTPCREL);
}

static void r_gotpcrelx(void **state)
{
	(void)state;
	got_type(R_X86_64_GOTPCRELX);
}

static void r_rex_gotpcrelx(void **state)
{
	(void)state;
	got_type(R_X86_64_REX_GOTPCRELX);
}

/* the GOT sits in R, 4 GiB away from RW here: the displacement overflows */
static void r_gotpcrel_overflow(void **state)
{
	struct rt t;
	struct xs_region rg[XS_AREA_COUNT];
	struct xs_linked l;

	(void)state;
	rt_run(&t, R_X86_64_GOTPCREL, FAR, -4, 0, 0);
	assert_int_equal(t.rc, 0);
	memcpy(rg, t.pl.rg, sizeof(rg));
	rg[XS_AREA_R].addr += 4ull << 30;
	assert_int_equal(xs_link_place(t.e, rg, &t.h.h, &l, &t.err), -ERANGE);
	assert_non_null(strstr(t.err.msg, "relocation R_X86_64_REX_GOTPCRELX against 'counter' at "
	                                  "section 1 (.text)+0xb overflows"));
	rt_done(&t);
}

/* ---- GOT and stub sharing ------------------------------------------------------------------ */

static void got_and_stubs_per_symbol(void **state)
{
	struct ut_payload p;
	struct xs_layout lay;
	struct xs_err err = {0};
	struct xs_elf *e;
	uint8_t code[32] = {0xe8, 0, 0, 0, 0, 0xe8, 0, 0, 0, 0, 0x8d, 0, 0, 0, 0};
	unsigned s, y;

	(void)state;
	eg_minimal(&p.g, &p.m);
	s = eg_add_sec(&p.g, ".text.more", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 16, code, 32);
	y = eg_add_sym(&p.g, "y", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	eg_add_rel(&p.g, s, 1, p.m.sym_ext, R_X86_64_PLT32, -4);         /* same stub as .text */
	eg_add_rel(&p.g, s, 6, y, R_X86_64_PC32, -4);                    /* call: a stub */
	eg_add_rel(&p.g, s, 11, y, R_X86_64_PC32, -4);                   /* lea: not a branch */
	eg_add_rel(&p.g, s, 16, p.m.sym_new, R_X86_64_PLT32, -4);        /* defined: no stub */
	eg_add_rel(&p.g, s, 20, p.m.sym_old, R_X86_64_PLT32, -4);        /* target: no stub */
	eg_add_rel(&p.g, s, 24, p.m.sym_counter, R_X86_64_GOTPCREL, -4); /* same GOT slot */
	eg_add_rel(&p.g, s, 28, y, R_X86_64_GOTPCRELX, -4);              /* a second slot */
	eg_build(&p.g, &p.o);
	e = UT_VERIFY_OK(&p.o);
	assert_int_equal(xs_link_layout(e, 4096, &lay, &err), 0);
	assert_int_equal(lay.nstubs, 2);
	assert_int_equal(lay.ngot, 2);
	xs_elf_free(e);
	ut_payload_free(&p);
}

/* ---- thread-local variables of the target ------------------------------------------------- */

#define TLS_BLOCK ((intptr_t)-0x80) /* the module's TLS block, from the thread pointer */

/*
 * The common end of the TLS payloads below: the symrefs (old_fn, and "x" =
 * symbol x with `flags` at TLS offset `off`), a host offering the target's
 * static TLS block at TLS_BLOCK when `block`, then verify and place; the
 * field is the start of global symbol `at`.  Returns the verify or place
 * result.
 */
static int tls_finish(struct rt *t, unsigned x, uint32_t flags, uint64_t off, int block,
                      const char *at)
{
	struct xsplice_symref r[2] = {{t->p.m.sym_old, 0, 0x1230}, {x, flags, off}};

	eg_set_data(&t->p.g, t->p.m.symrefs, r, sizeof(r));
	ut_host_init(&t->h, 0);
	ut_host_add(&t->h, "ext_fn", BASE + 0x100000);
	ut_host_add(&t->h, "counter", BASE + 0x100000);
	t->h.h.target_tls = block;
	t->h.h.target_tls_tpoff = TLS_BLOCK;
	eg_build(&t->p.g, &t->p.o);
	t->rc = xs_payload_verify(t->p.o.buf, t->p.o.len, &t->e, &t->err);
	if (t->rc)
		return t->rc;
	t->rc = ut_place(t->e, BASE, &t->h, &t->pl, &t->err);
	assert_true(ut_guards_ok(&t->pl));
	if (t->rc == 0) {
		t->P = ut_sym_addr(&t->pl, at);
		t->field = ut_stage_of(&t->pl, t->P);
	}
	return t->rc;
}

/*
 * The minimal payload plus .text.t (16 bytes of 0x11) with one relocation of
 * `type` at offset 4 against "x", an undefined symbol of type `stype` with a
 * symref of `flags` at TLS offset `off`; the host offers the target's static
 * TLS block at TLS_BLOCK when `block`.  Returns the verify or place result.
 */
static int tls_run(struct rt *t, uint32_t type, int64_t A, unsigned stype, uint32_t flags,
                   uint64_t off, int block)
{
	uint8_t fill[16];
	unsigned x;

	memset(t, 0, sizeof(*t));
	memset(fill, 0x11, sizeof(fill));
	eg_minimal(&t->p.g, &t->p.m);
	t->sec =
	    eg_add_sec(&t->p.g, ".text.t", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 16, fill, 16);
	eg_add_sym(&t->p.g, "slot", STB_GLOBAL, STT_OBJECT, t->sec, FIELD_OFF, 8);
	x = eg_add_sym(&t->p.g, "x", STB_GLOBAL, stype, SHN_UNDEF, 0, 0);
	eg_add_rel(&t->p.g, t->sec, FIELD_OFF, x, type, A);
	return tls_finish(t, x, flags, off, block, "slot");
}

static void tls_expect(struct rt *t, int rc, const char *msg)
{
	if (t->rc != rc || !strstr(t->err.msg, msg))
		fail_msg("expected %d \"%s\", got %d \"%s\"", rc, msg, t->rc, t->err.msg);
}

/* local-exec: the field is the variable's offset from the thread pointer */
static void r_tpoff32(void **state)
{
	struct rt t;

	(void)state;
	assert_int_equal(tls_run(&t, R_X86_64_TPOFF32, 0, STT_TLS, XSPLICE_SYMREF_TLS, 0x18, 1), 0);
	assert_int_equal((int32_t)rd32(t.field), TLS_BLOCK + 0x18);
	assert_int_equal(rd32(t.field + 4), 0x11111111); /* only 4 bytes written */
	rt_done(&t);
	assert_int_equal(tls_run(&t, R_X86_64_TPOFF32, 4, STT_TLS, XSPLICE_SYMREF_TLS, 0x18, 1), 0);
	assert_int_equal((int32_t)rd32(t.field), TLS_BLOCK + 0x1c); /* an addend: a member */
	rt_done(&t);
}

static void r_tpoff32_overflow(void **state)
{
	struct rt t;

	(void)state;
	tls_run(&t, R_X86_64_TPOFF32, 0, STT_TLS, XSPLICE_SYMREF_TLS, 0x100000000ull, 1);
	tls_expect(&t, -ERANGE, "relocation R_X86_64_TPOFF32 against 'x'");
	rt_done(&t);
}

/* initial-exec: a GOT slot holds the offset, the field reaches the slot */
static void r_gottpoff(void **state)
{
	struct rt t;
	uintptr_t slot;
	uint64_t v;

	(void)state;
	assert_int_equal(tls_run(&t, R_X86_64_GOTTPOFF, -4, STT_TLS, XSPLICE_SYMREF_TLS, 0x28, 1),
	                 0);
	assert_int_equal(t.pl.lay.ngot, 2); /* counter's and x's */
	slot = t.P + (uintptr_t)(intptr_t)(int32_t)rd32(t.field) + 4;
	memcpy(&v, ut_stage_of(&t.pl, slot), 8);
	assert_int_equal((int64_t)v, TLS_BLOCK + 0x28);
	rt_done(&t);
}

/* a host without the module's static TLS block: refused, nothing guessed */
static void tls_no_block(void **state)
{
	struct rt t;

	(void)state;
	tls_run(&t, R_X86_64_TPOFF32, 0, STT_TLS, XSPLICE_SYMREF_TLS, 0x18, 0);
	tls_expect(&t, -ENOTSUP,
	           "'x' is a thread-local variable of the target, but the target "
	           "module has no static TLS block");
	rt_done(&t);
}

/* TLS relocations only against the target's TLS variables, and those only
 * through TLS relocations; the symref flag and the symbol type agree */
static void tls_mismatches(void **state)
{
	struct rt t;

	(void)state;
	tls_run(&t, R_X86_64_TPOFF32, 0, STT_NOTYPE, 0, 0x18, 1);
	tls_expect(&t, -ENOEXEC,
	           "relocation 0 (R_X86_64_TPOFF32 at offset 0x4) needs a "
	           "thread-local variable of the target, but 'x' is not one");
	rt_done(&t);
	tls_run(&t, R_X86_64_PC32, -4, STT_TLS, XSPLICE_SYMREF_TLS, 0x18, 1);
	tls_expect(&t, -ENOEXEC,
	           "relocation 0 (R_X86_64_PC32 at offset 0x4) uses the "
	           "thread-local 'x' as if it were an address");
	rt_done(&t);
	tls_run(&t, R_X86_64_GOTPCREL, -4, STT_TLS, XSPLICE_SYMREF_TLS, 0x18, 1);
	tls_expect(&t, -ENOEXEC, "uses the thread-local 'x' as if it were an address");
	rt_done(&t);
	tls_run(&t, R_X86_64_TPOFF32, 0, STT_TLS, 0, 0x18, 1);
	tls_expect(&t, -ENOEXEC,
	           "entry 1 ('x'): the symbol is STT_TLS but the entry is not "
	           "marked thread-local");
	rt_done(&t);
	tls_run(&t, R_X86_64_PC32, -4, STT_NOTYPE, XSPLICE_SYMREF_TLS, 0x18, 1);
	tls_expect(&t, -ENOEXEC,
	           "entry 1 ('x'): marked thread-local but the symbol is not STT_TLS");
	rt_done(&t);
}

/*
 * General-dynamic: .text.t holds the psABI sequence (data16 lea x@tlsgd(%rip),
 * %rdi; data16 data16 rex64 call __tls_get_addr) with TLSGD at 4 and the
 * call's relocation (`call_type`, 0: none) at 12 against __tls_get_addr,
 * which no one resolves: the linker must not need it.  `bad` is a byte
 * index of the sequence to corrupt (-1: none).
 */
static int gd_run(struct rt *t, uint32_t call_type, int64_t A, int bad)
{
	uint8_t seq[16] = {0x66, 0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0x66, 0x66, 0x48, 0xe8, 0, 0, 0, 0};
	unsigned x, g;

	if (bad >= 0)
		seq[bad] ^= 0xff;
	memset(t, 0, sizeof(*t));
	eg_minimal(&t->p.g, &t->p.m);
	t->sec =
	    eg_add_sec(&t->p.g, ".text.t", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 16, seq, 16);
	eg_add_sym(&t->p.g, "seq", STB_GLOBAL, STT_FUNC, t->sec, 0, 16);
	x = eg_add_sym(&t->p.g, "x", STB_GLOBAL, STT_TLS, SHN_UNDEF, 0, 0);
	g = eg_add_sym(&t->p.g, "__tls_get_addr", STB_GLOBAL, STT_NOTYPE, SHN_UNDEF, 0, 0);
	eg_add_rel(&t->p.g, t->sec, 4, x, R_X86_64_TLSGD, A);
	if (call_type)
		eg_add_rel(&t->p.g, t->sec, 12, g, call_type, -4);
	return tls_finish(t, x, XSPLICE_SYMREF_TLS, 0x20, 1, "seq");
}

static void r_tlsgd_relaxed(void **state)
{
	/* mov %fs:0,%rax; lea tpoff(%rax),%rax */
	static const uint8_t le[12] = {0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0x48, 0x8d, 0x80};
	uint32_t call_types[2] = {R_X86_64_PLT32, R_X86_64_PC32};
	struct rt t;

	(void)state;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(gd_run(&t, call_types[i], -4, -1), 0);
		assert_memory_equal(t.field, le, sizeof(le));
		assert_int_equal((int32_t)rd32(t.field + 12), TLS_BLOCK + 0x20);
		assert_int_equal(t.pl.lay.nstubs, 1); /* ext_fn's only: no stub for the call */
		assert_int_equal(t.h.calls, 2);       /* __tls_get_addr never looked up */
		rt_done(&t);
	}
}

/* anything but the exact sequence is refused, never half rewritten */
static void r_tlsgd_refused(void **state)
{
	struct rt t;

	(void)state;
	gd_run(&t, 0, -4, -1);
	tls_expect(&t, -ENOTSUP,
	           "relocation 0 (R_X86_64_TLSGD at offset 0x4) is not in the "
	           "general-dynamic code sequence");
	rt_done(&t);
	for (int bad = 0; bad < 12; bad += (bad == 3 ? 5 : 1)) {
		gd_run(&t, R_X86_64_PLT32, -4, bad);
		tls_expect(&t, -ENOTSUP, "is not in the general-dynamic code sequence");
		rt_done(&t);
	}
	gd_run(&t, R_X86_64_PLT32, 0, -1);
	tls_expect(&t, -ENOTSUP, "is not in the general-dynamic code sequence");
	rt_done(&t);
	gd_run(&t, R_X86_64_GOTPCRELX, -4, -1); /* call *__tls_get_addr@GOTPCREL: not relaxed */
	tls_expect(&t, -ENOTSUP, "is not in the general-dynamic code sequence");
	rt_done(&t);
}

/* ---- the arch table ------------------------------------------------------------------------- */

static void arch_table(void **state)
{
	struct xs_reloc_args a = {.type = R_X86_64_DTPOFF64};
	uint8_t f[8] = {0};
	int64_t v;

	(void)state;
	assert_int_equal(xs_arch_reloc_width(R_X86_64_64), 8);
	assert_int_equal(xs_arch_reloc_width(R_X86_64_PC64), 8);
	assert_int_equal(xs_arch_reloc_width(R_X86_64_32S), 4);
	assert_int_equal(xs_arch_reloc_width(R_X86_64_NONE), 0);
	assert_int_equal(xs_arch_reloc_width(R_X86_64_TPOFF32), 4);
	assert_int_equal(xs_arch_reloc_width(R_X86_64_DTPOFF64), 0);
	assert_string_equal(xs_arch_reloc_name(R_X86_64_REX_GOTPCRELX), "R_X86_64_REX_GOTPCRELX");
	assert_string_equal(xs_arch_reloc_name(R_X86_64_GOTTPOFF), "R_X86_64_GOTTPOFF");
	assert_string_equal(xs_arch_reloc_name(9999), "unknown");
	assert_int_equal(xs_arch_reloc_info(R_X86_64_PLT32), XS_RELOC_KNOWN | XS_RELOC_MAY_STUB);
	assert_int_equal(xs_arch_reloc_info(R_X86_64_GOTPCRELX),
	                 XS_RELOC_KNOWN | XS_RELOC_NEEDS_GOT);
	assert_int_equal(xs_arch_reloc_info(R_X86_64_64), XS_RELOC_KNOWN);
	assert_int_equal(xs_arch_reloc_info(R_X86_64_TPOFF32), XS_RELOC_KNOWN | XS_RELOC_TLS);
	assert_int_equal(xs_arch_reloc_info(R_X86_64_GOTTPOFF),
	                 XS_RELOC_KNOWN | XS_RELOC_NEEDS_GOT | XS_RELOC_TLS);
	assert_int_equal(xs_arch_reloc_info(R_X86_64_DTPOFF64), 0);
	assert_int_equal(xs_arch_reloc_apply(&a, f, &v), -ENOTSUP);
	a.type = 4000000;
	assert_int_equal(xs_arch_reloc_apply(&a, f, &v), -ENOTSUP);
}

static void arch_is_branch(void **state)
{
	static const uint8_t sec[8] = {0xe8, 0, 0, 0, 0, 0x8d, 0, 0};

	(void)state;
	assert_true(xs_arch_reloc_is_branch(R_X86_64_PLT32, sec, 8, 3));
	assert_true(xs_arch_reloc_is_branch(R_X86_64_PC32, sec, 8, 1));
	assert_false(xs_arch_reloc_is_branch(R_X86_64_PC32, sec, 8, 6));
	assert_false(xs_arch_reloc_is_branch(R_X86_64_PC32, sec, 8, 0)); /* no opcode before */
	assert_false(xs_arch_reloc_is_branch(R_X86_64_PC32, sec, 8, 9)); /* past the end */
	assert_false(xs_arch_reloc_is_branch(R_X86_64_64, sec, 8, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(r_none),
	    cmocka_unit_test(r_none_unresolved),
	    cmocka_unit_test(r_64),
	    cmocka_unit_test(r_pc32),
	    cmocka_unit_test(r_pc32_overflow),
	    cmocka_unit_test(r_pc32_far_call_via_stub),
	    cmocka_unit_test(r_pc32_far_target_symbol),
	    cmocka_unit_test(r_plt32),
	    cmocka_unit_test(r_plt32_overflow),
	    cmocka_unit_test(r_32),
	    cmocka_unit_test(r_32s),
	    cmocka_unit_test(r_pc64),
	    cmocka_unit_test(r_gotpcrel),
	    cmocka_unit_test(r_gotpcrelx),
	    cmocka_unit_test(r_rex_gotpcrelx),
	    cmocka_unit_test(r_gotpcrel_overflow),
	    cmocka_unit_test(got_and_stubs_per_symbol),
	    cmocka_unit_test(r_tpoff32),
	    cmocka_unit_test(r_tpoff32_overflow),
	    cmocka_unit_test(r_gottpoff),
	    cmocka_unit_test(tls_no_block),
	    cmocka_unit_test(tls_mismatches),
	    cmocka_unit_test(r_tlsgd_relaxed),
	    cmocka_unit_test(r_tlsgd_refused),
	    cmocka_unit_test(arch_table),
	    cmocka_unit_test(arch_is_branch),
	};

	return cmocka_run_group_tests_name("relocations", tests, NULL, NULL);
}
