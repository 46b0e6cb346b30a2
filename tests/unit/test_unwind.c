/*
 * Unit tests for the unwinder of the stack check (src/agent/unwind*.c).
 *
 * Real frames: a chain of noinline functions (tests/unit/unwind_chain.c,
 * built -O2 with and without frame pointers) calls a leaf that takes a
 * getcontext() snapshot and unwinds the live stack from it; the walk must
 * find exactly the return addresses the functions recorded, agree with
 * glibc's backtrace() frame for frame, and end cleanly at the outermost
 * frame - on the main thread, on another thread, from inside a signal
 * handler (through the signal frame, also on a sigaltstack), and from the
 * ucontext the kernel gives the handler (what the agent does).
 *
 * Hand-made CFI: a synthetic .eh_frame exercising the CFA instructions is
 * checked against a fake stack; truncated and randomly damaged copies of
 * it, and garbage register states, must give "lost" or a bounded result,
 * never a crash (the tests run under AddressSanitizer and UBSan, and the
 * damaged .eh_frame copies live in exact-size heap blocks).
 */
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cmocka.h>

#include "agent/maps.h"
#include "agent/unwind.h"
#include "unwind_chain.h"

#define RA() ((uintptr_t)__builtin_return_address(0))
#define MAXF 128

static struct xs_maps maps;

struct walk {
	uintptr_t pc[MAXF], sp[MAXF];
	int n;
	int end;
	const char *why;
};

static int setup(void **state)
{
	struct xs_err err;
	(void)state;
	if (xs_maps_prepare(&maps, &err) || xs_unwind_prepare(&err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	xs_unwind_free();
	xs_maps_free(&maps);
	return 0;
}

static void fresh_maps(void)
{
	int rc = xs_maps_read(&maps);
	if (rc == -ENOSPC) {
		struct xs_err err;
		xs_maps_prepare(&maps, &err);
		rc = xs_maps_read(&maps);
	}
	assert_int_equal(rc, 0);
	xs_unwind_begin(&maps);
}

static void walk_from(struct xs_uwcur *c, struct walk *w)
{
	w->n = 0;
	w->pc[w->n] = c->pc;
	w->sp[w->n++] = c->sp;
	for (;;) {
		int r = xs_unwind_step(c);
		if (r != XS_UW_NEXT) {
			w->end = r;
			w->why = c->why;
			return;
		}
		if (w->n < MAXF) {
			w->pc[w->n] = c->pc;
			w->sp[w->n++] = c->sp;
		}
	}
}

static void print_walk(const char *what, const struct walk *w, void *const *bt, int nbt)
{
	fprintf(stderr, "%s: %d frames, end %d (%s)\n", what, w->n, w->end, w->why ? w->why : "-");
	for (int i = 0; i < w->n || i < nbt; i++)
		fprintf(stderr, "  #%d walk %#lx  backtrace %#lx\n", i,
		        i < w->n ? (unsigned long)w->pc[i] : 0, i < nbt ? (unsigned long)bt[i] : 0);
}

/* The walk holds leaf_ra then r->ra[0..3] as consecutive frames from `from`. */
static int find_chain(const struct walk *w, const struct chain_rec *r, uintptr_t leaf_ra)
{
	for (int i = 0; i + 4 < w->n; i++) {
		if (w->pc[i] != leaf_ra)
			continue;
		for (int k = 0; k < 4; k++)
			if (w->pc[i + 1 + k] != r->ra[k])
				return -1;
		return i;
	}
	return -1;
}

/* ---- a leaf that unwinds its own live stack from getcontext() ------------- */

static struct {
	struct walk w;
	void *bt[MAXF];
	int nbt;
	uintptr_t leaf_ra;
	int init_rc;
} g;

__attribute__((noinline)) static void leaf_ctx(struct chain_rec *r)
{
	ucontext_t uc;
	struct xs_uwcur c;
	(void)r;
	g.leaf_ra = RA();
	getcontext(&uc);
	g.nbt = backtrace(g.bt, MAXF);
	fresh_maps();
	g.init_rc = xs_unwind_init(&c, &uc);
	if (!g.init_rc)
		walk_from(&c, &g.w);
	__asm__ volatile("" ::: "memory");
}

/* From frame 1 on, the walk and backtrace() list the same return addresses
 * down to the same outermost frame.  backtrace()'s first entries are its
 * own call site (and an interceptor's under ASan): skip to frame 1. */
static void check_against_backtrace(const char *what)
{
	int j = 0;
	while (j < g.nbt && (g.w.n < 2 || (uintptr_t)g.bt[j] != g.w.pc[1]))
		j++;
	int ok = g.w.end == XS_UW_END && j < g.nbt && g.nbt - j == g.w.n - 1;
	for (int i = 1; ok && i < g.w.n; i++)
		ok = g.w.pc[i] == (uintptr_t)g.bt[j + i - 1];
	if (!ok)
		print_walk(what, &g.w, g.bt, g.nbt);
	assert_true(ok);
}

static void run_chain(int (*chain)(struct chain_rec *, int), const char *what)
{
	struct chain_rec r = {.leaf = leaf_ctx};
	memset(&g, 0, sizeof(g));
	chain(&r, 5);
	assert_int_equal(g.init_rc, 0);
	if (g.w.n < 6 || g.w.pc[1] != g.leaf_ra || find_chain(&g.w, &r, g.leaf_ra) != 1)
		print_walk(what, &g.w, g.bt, g.nbt);
	assert_true(g.w.n >= 6);
	assert_int_equal(find_chain(&g.w, &r, g.leaf_ra), 1);
	for (int i = 1; i < g.w.n; i++)
		assert_true(g.w.sp[i] > g.w.sp[i - 1]);
	check_against_backtrace(what);
}

static void chain_with_frame_pointers(void **state)
{
	(void)state;
	run_chain(fp_chain, "fp");
}

static void chain_without_frame_pointers(void **state)
{
	(void)state;
	run_chain(nofp_chain, "nofp");
}

static void *thread_main(void *arg)
{
	(void)arg;
	run_chain(nofp_chain, "thread nofp");
	run_chain(fp_chain, "thread fp");
	return NULL;
}

/* Another thread: the outermost frame is glibc's clone entry (no caller). */
static void chain_on_another_thread(void **state)
{
	pthread_t t;
	(void)state;
	assert_int_equal(pthread_create(&t, NULL, thread_main, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* ---- signal frames ------------------------------------------------------------ */

static struct {
	struct walk from_uc; /* from the kernel's ucontext (interrupted state) */
	int uc_rc;
	uintptr_t leaf_ra;
	uintptr_t alt_lo, alt_hi;
	int on_alt;
} sg;

static void handler(int sig, siginfo_t *si, void *ucv)
{
	struct xs_uwcur c;
	ucontext_t uc;
	(void)sig;
	(void)si;
	getcontext(&uc);
	g.nbt = backtrace(g.bt, MAXF);
	stack_t ss;
	sigaltstack(NULL, &ss);
	sg.on_alt = !!(ss.ss_flags & SS_ONSTACK);
	fresh_maps();
	/* as the agent does: from the interrupted state */
	sg.uc_rc = xs_unwind_init(&c, ucv);
	if (!sg.uc_rc)
		walk_from(&c, &sg.from_uc);
	/* and through the handler's own frames and the signal frame */
	g.init_rc = xs_unwind_init(&c, &uc);
	if (!g.init_rc)
		walk_from(&c, &g.w);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void leaf_raise(struct chain_rec *r)
{
	(void)r;
	sg.leaf_ra = RA();
	raise(SIGUSR1);
	__asm__ volatile("" ::: "memory");
}

static void signal_case(int (*chain)(struct chain_rec *, int), int altstack, const char *what)
{
	struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO}, old;
	stack_t ss = {0}, oss;
	struct chain_rec r = {.leaf = leaf_raise};
	memset(&g, 0, sizeof(g));
	memset(&sg, 0, sizeof(sg));
	if (altstack) {
		ss.ss_size = 256 * 1024;
		ss.ss_sp = malloc(ss.ss_size);
		assert_non_null(ss.ss_sp);
		assert_int_equal(sigaltstack(&ss, &oss), 0);
		sa.sa_flags |= SA_ONSTACK;
	}
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	chain(&r, 9);
	sigaction(SIGUSR1, &old, NULL);
	if (altstack) {
		ss.ss_flags = SS_DISABLE;
		sigaltstack(&ss, NULL);
		free(ss.ss_sp);
	}
	assert_int_equal(sg.on_alt, altstack);
	/* from the interrupted state: the chain, then a clean end */
	assert_int_equal(sg.uc_rc, 0);
	if (find_chain(&sg.from_uc, &r, sg.leaf_ra) < 0 || sg.from_uc.end != XS_UW_END)
		print_walk(what, &sg.from_uc, NULL, 0);
	assert_true(find_chain(&sg.from_uc, &r, sg.leaf_ra) >= 0);
	assert_int_equal(sg.from_uc.end, XS_UW_END);
	/* from inside the handler: through the signal frame, same frames */
	assert_int_equal(g.init_rc, 0);
	assert_true(find_chain(&g.w, &r, sg.leaf_ra) > 0);
	check_against_backtrace(what);
}

static void through_signal_frame(void **state)
{
	(void)state;
	signal_case(nofp_chain, 0, "signal");
	signal_case(fp_chain, 0, "signal fp");
}

static void through_signal_frame_on_altstack(void **state)
{
	(void)state;
	signal_case(nofp_chain, 1, "altstack");
}

/* ---- hand-made CFI --------------------------------------------------------------- */

/* A fake function at FAKE_PC (no module there); its CFI describes
 *   +0 entry: CFA rsp+8, RA at CFA-8        +2  push rbp: CFA rsp+16, rbp at CFA-16
 *   +6 CFA rbp+16                            +8  rbx at CFA-24, r12 at CFA-32
 *   +18 remember; CFA rsp+8; restore rbp     +20 restore_state (rbp-based again)
 *   +25 r13 in r14                           +28 CFA = rbp+16 (expression),
 *       rbx at *(rbp-8) (expression), r15 = CFA+5 (val_expression) */
#define FAKE_PC ((uintptr_t)0x10000000)
#define FAKE_LEN 64

static const uint8_t cie_bytes[] = {
    0,    0,    0,   0, /* length, filled in */
    0,    0,    0,   0, /* CIE id */
    1,    'z',  'R', 0, /* version, augmentation */
    1,    0x78, 16,     /* caf 1, daf -8, RA column 16 */
    1,    0x00,         /* augmentation data: FDE pointers absptr */
    0x0c, 7,    8,      /* def_cfa rsp, 8 */
    0x90, 1,            /* offset r16, CFA-8 */
    0,    0,            /* nop padding */
};

static const uint8_t fde_prog[] = {
    0x41, 0x0e, 0x10, 0x86, 0x02,       /* +1: def_cfa_offset 16; rbp at CFA-16 */
    0x43, 0x0d, 0x06,                   /* +4: def_cfa_register rbp */
    0x44, 0x11, 0x03, 0x03, 0x8c, 0x04, /* +8: rbx CFA-24 (sf); r12 CFA-32 */
    0x4a, 0x0a, 0x0c, 0x07, 0x08, 0xc6, /* +18: remember; def_cfa rsp 8; restore rbp */
    0x42, 0x0b,                         /* +20: restore_state */
    0x45, 0x09, 0x0d, 0x0e,             /* +25: r13 in r14 */
    0x43, 0x0f, 0x02, 0x76, 0x10,       /* +28: CFA = breg6 + 16 */
    0x10, 0x03, 0x02, 0x76, 0x78,       /* rbx at breg6 - 8 */
    0x16, 0x0f, 0x02, 0x23, 0x05,       /* r15 = CFA + 5 */
    0,    0,
};

struct synth {
	uint8_t *buf;
	size_t len, fde_end;
};

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void synth_build(struct synth *s)
{
	size_t cie = sizeof(cie_bytes), fde_hdr = 4 + 4 + 8 + 8 + 1;
	size_t fde = fde_hdr + sizeof(fde_prog);
	s->len = cie + fde + 4;
	s->buf = calloc(1, s->len);
	assert_non_null(s->buf);
	memcpy(s->buf, cie_bytes, cie);
	put32(s->buf, (uint32_t)(cie - 4));
	uint8_t *f = s->buf + cie;
	put32(f, (uint32_t)(fde - 4));
	put32(f + 4, (uint32_t)(cie + 4)); /* back to the CIE from this field */
	uint64_t start = FAKE_PC, range = FAKE_LEN;
	memcpy(f + 8, &start, 8);
	memcpy(f + 16, &range, 8);
	f[24] = 0; /* augmentation data length */
	memcpy(f + fde_hdr, fde_prog, sizeof(fde_prog));
	s->fde_end = cie + fde;
}

/* An exact-size heap copy of the first len bytes, registered for FAKE_PC. */
static uint8_t *install(const uint8_t *bytes, size_t len)
{
	struct xs_err err;
	uint8_t *copy = len ? malloc(len) : NULL;
	if (len)
		memcpy(copy, bytes, len);
	assert_int_equal(xs_unwind_prepare(&err), 0);
	assert_int_equal(
	    xs_unwind_add_code(FAKE_PC, FAKE_PC + FAKE_LEN, (uintptr_t)copy, len, &err), 0);
	fresh_maps();
	return copy;
}

/* A real return address (a call precedes it), for the fake frame's caller. */
__attribute__((noinline)) static uintptr_t my_ra(void)
{
	return RA();
}

struct fake {
	uintptr_t *stk; /* stk[0..3]: r12, rbx, old rbp, RA */
	uintptr_t reg[XS_UW_NREGS];
	uintptr_t ra;
};

static void fake_init(struct fake *f, unsigned off)
{
	f->stk = calloc(64, sizeof(uintptr_t));
	assert_non_null(f->stk);
	f->ra = my_ra();
	f->stk[0] = 0x1212, f->stk[1] = 0xb0b0, f->stk[2] = 0x5555, f->stk[3] = f->ra;
	for (unsigned i = 0; i < XS_UW_NREGS; i++)
		f->reg[i] = 0x1000 + i;
	f->reg[XS_UW_RIP] = FAKE_PC + off;
	f->reg[14] = 0x1414;
	/* rsp as the code at `off` has it */
	f->reg[XS_UW_RSP] = (uintptr_t)&f->stk[off == 0 || (off >= 18 && off < 20) ? 3
	                                       : off < 6                           ? 2
	                                                                           : 0];
	f->reg[XS_UW_RBP] = off >= 6 ? (uintptr_t)&f->stk[2] : 0x6666;
	fresh_maps(); /* the fake stack may be in a new mapping */
}

static void synthetic_cfi(void **state)
{
	struct synth s;
	(void)state;
	synth_build(&s);
	uint8_t *copy = install(s.buf, s.len);
	const unsigned offs[] = {0, 2, 6, 8, 18, 20, 25, 28, 63};
	for (unsigned k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		unsigned off = offs[k];
		struct fake f;
		struct xs_uwcur c;
		fake_init(&f, off);
		assert_int_equal(xs_unwind_init_regs(&c, f.reg), 0);
		int r = xs_unwind_step(&c);
		if (r != XS_UW_NEXT)
			fprintf(stderr, "offset %u: %d (%s)\n", off, r, c.why);
		assert_int_equal(r, XS_UW_NEXT);
		assert_int_equal(c.pc, f.ra);
		assert_int_equal(c.sp, (uintptr_t)&f.stk[4]);
		assert_false(c.exact);
		/* rbp: saved from +2 on, except in the epilogue (+18: same value) */
		if (off == 0 || off == 18)
			assert_int_equal(c.reg[XS_UW_RBP], f.reg[XS_UW_RBP]);
		else
			assert_int_equal(c.reg[XS_UW_RBP], 0x5555);
		if (off >= 8 && off != 18) {
			assert_int_equal(c.reg[XS_UW_RBX], 0xb0b0);
			assert_int_equal(c.reg[12], 0x1212);
		}
		if (off >= 25)
			assert_int_equal(c.reg[13], 0x1414);
		if (off >= 28)
			assert_int_equal(c.reg[15], (uintptr_t)&f.stk[4] + 5);
		/* caller-saved registers are not known in the caller */
		assert_false(c.valid & (1u << 0));
		free(f.stk);
	}
	free(copy);
	free(s.buf);
}

/* Every proper prefix of the section that cuts the FDE: lost, no crash. */
static void truncated_eh_frame(void **state)
{
	struct synth s;
	(void)state;
	synth_build(&s);
	for (size_t len = 0; len <= s.len; len++) {
		uint8_t *copy = install(s.buf, len);
		struct fake f;
		struct xs_uwcur c;
		fake_init(&f, 8);
		assert_int_equal(xs_unwind_init_regs(&c, f.reg), 0);
		int r = xs_unwind_step(&c);
		if (len < s.fde_end) {
			assert_int_equal(r, XS_UW_LOST);
			assert_non_null(c.why);
			assert_int_equal(c.pc, FAKE_PC + 8); /* still at the lost frame */
		} else {
			assert_int_equal(r, XS_UW_NEXT);
		}
		free(f.stk);
		free(copy);
	}
	free(s.buf);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Damaged copies: random bytes changed; any result, no crash, and a walk
 * that ends (lost or end) within bounds. */
static void garbage_eh_frame(void **state)
{
	struct synth s;
	(void)state;
	synth_build(&s);
	for (int it = 0; it < 3000; it++) {
		uint8_t *m = malloc(s.len);
		memcpy(m, s.buf, s.len);
		for (int k = 1 + (int)(rnd() % 4); k > 0; k--)
			m[rnd() % s.len] = (uint8_t)rnd();
		size_t len = rnd() % 4 ? s.len : rnd() % s.len;
		uint8_t *copy = install(m, len);
		struct fake f;
		struct xs_uwcur c;
		fake_init(&f, (unsigned)(rnd() % FAKE_LEN));
		assert_int_equal(xs_unwind_init_regs(&c, f.reg), 0);
		int r, steps = 0;
		while ((r = xs_unwind_step(&c)) == XS_UW_NEXT && steps < 10000)
			steps++;
		assert_true(r == XS_UW_LOST || r == XS_UW_END);
		assert_true(steps < 10000);
		free(f.stk);
		free(copy);
		free(m);
	}
	free(s.buf);
}

/* Garbage registers over real code and a real stack: no crash, walk ends. */
static void garbage_registers(void **state)
{
	struct xs_err err;
	uintptr_t base = (uintptr_t)&garbage_registers;
	uintptr_t here;
	(void)state;
	assert_int_equal(xs_unwind_prepare(&err), 0);
	fresh_maps();
	for (int it = 0; it < 20000; it++) {
		uintptr_t reg[XS_UW_NREGS];
		struct xs_uwcur c;
		for (unsigned i = 0; i < XS_UW_NREGS; i++)
			reg[i] = rnd() % 2 ? (uintptr_t)&here + (rnd() % 4096) - 2048 : rnd();
		reg[XS_UW_RIP] = rnd() % 4 ? base + (rnd() % 65536) - 32768 : rnd();
		reg[XS_UW_RSP] = (uintptr_t)&here - (rnd() % 512);
		if (xs_unwind_init_regs(&c, reg))
			continue;
		int r, steps = 0;
		while ((r = xs_unwind_step(&c)) == XS_UW_NEXT && steps < 10000)
			steps++;
		assert_true(r == XS_UW_LOST || r == XS_UW_END);
	}
}

/* A PC where no code is known, and a stack pointer in no mapping. */
static void unknown_code_and_stack(void **state)
{
	struct xs_err err;
	uintptr_t here = 0, reg[XS_UW_NREGS] = {0};
	struct xs_uwcur c;
	(void)state;
	assert_int_equal(xs_unwind_prepare(&err), 0);
	fresh_maps();
	reg[XS_UW_RSP] = (uintptr_t)&here;
	reg[XS_UW_RIP] = 0x20000000;
	assert_int_equal(xs_unwind_init_regs(&c, reg), 0);
	assert_int_equal(xs_unwind_step(&c), XS_UW_LOST);
	assert_non_null(strstr(c.why, "no unwind information"));
	assert_int_equal(c.pc, 0x20000000);
	reg[XS_UW_RSP] = 16;
	assert_int_equal(xs_unwind_init_regs(&c, reg), XS_UW_LOST);
	/* code registered without unwind information is lost too */
	assert_int_equal(xs_unwind_add_code(0x20000000, 0x20001000, 0, 0, &err), 0);
	reg[XS_UW_RSP] = (uintptr_t)&here;
	assert_int_equal(xs_unwind_init_regs(&c, reg), 0);
	assert_int_equal(xs_unwind_step(&c), XS_UW_LOST);
	/* no maps snapshot at all: nothing is read */
	xs_unwind_begin(NULL);
	assert_int_equal(xs_unwind_init_regs(&c, reg), XS_UW_LOST);
}

/* The kernel's answer for one address (PROCMAP_QUERY) is the snapshot's
 * mapping; an address in no mapping is -ENOENT.  On a kernel without the
 * ioctl the query says so, and the stack check reads the snapshot. */
static void query_agrees_with_snapshot(void **state)
{
	(void)state;
	struct xs_map got;
	int local = 0;
	void *heap = malloc(64);
	char *gone = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(gone != MAP_FAILED);
	munmap(gone, 4096);
	fresh_maps();
	xs_maps_hold(&maps);
	assert_true(xs_held_valid(&maps.held));
	int rc = xs_maps_query(&maps, (uintptr_t)&local, &got);
	if (rc) {
		assert_true(rc == -ENOTTY || rc == -EINVAL);
		assert_true(maps.no_query);
		assert_int_equal(xs_maps_query(&maps, (uintptr_t)&local, &got), -ENOTTY);
		xs_maps_unhold(&maps);
		free(heap);
		skip();
	}
	const uintptr_t addrs[] = {(uintptr_t)&local, (uintptr_t)heap,
	                           (uintptr_t)&query_agrees_with_snapshot, (uintptr_t)&maps};
	for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		const struct xs_map *want = xs_maps_find(&maps, addrs[i]);
		assert_non_null(want);
		assert_int_equal(xs_maps_query(&maps, addrs[i], &got), 0);
		assert_int_equal(got.lo, want->lo);
		assert_int_equal(got.hi, want->hi);
		const unsigned perm = XS_MAP_R | XS_MAP_W | XS_MAP_X | XS_MAP_SHARED;
		assert_int_equal(got.flags & perm, want->flags & perm);
	}
	assert_null(xs_maps_find(&maps, (uintptr_t)gone));
	assert_int_equal(xs_maps_query(&maps, (uintptr_t)gone, &got), -ENOENT);
	xs_maps_unhold(&maps);
	assert_false(maps.held.open);
	/* not held: no query */
	assert_int_equal(xs_maps_query(&maps, (uintptr_t)&local, &got), -ENOTTY);
	free(heap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(chain_with_frame_pointers),
	    cmocka_unit_test(chain_without_frame_pointers),
	    cmocka_unit_test(chain_on_another_thread),
	    cmocka_unit_test(through_signal_frame),
	    cmocka_unit_test(through_signal_frame_on_altstack),
	    cmocka_unit_test(synthetic_cfi),
	    cmocka_unit_test(truncated_eh_frame),
	    cmocka_unit_test(garbage_eh_frame),
	    cmocka_unit_test(garbage_registers),
	    cmocka_unit_test(unknown_code_and_stack),
	    cmocka_unit_test(query_agrees_with_snapshot),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
