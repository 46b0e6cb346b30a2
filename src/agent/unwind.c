/*
 * The unwinder (unwind.h): unwind tables of the modules and payloads, FDE
 * lookup, and the frame step.
 *
 * Tables.  Outside the window, xs_unwind_prepare() records for every module
 * dl_iterate_phdr reports its executable PT_LOAD ranges and the binary
 * search table of its .eh_frame_hdr (PT_GNU_EH_FRAME); xs_unwind_add_code()
 * sorts the FDEs of a payload's .eh_frame into a table of our own.  Inside
 * the window nothing is allocated: a PC is mapped to its code range, the
 * range to its table, the table to the FDE, and the FDE's CFA program is run
 * up to the PC.  A table is used only while the window's maps snapshot
 * shows its bytes mapped readable (a module may have been unloaded since).
 *
 * Plausibility.  A step is accepted only when the caller's stack pointer is
 * above ours on the same stack (or anywhere on a readable stack after a
 * signal frame, whose saved context may be on another stack), and the
 * return address is preceded by a call instruction or is a signal
 * trampoline.  Anything else is "lost": the caller scans conservatively.
 */
#include "agent/unwind.h"

#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "agent/unwind_int.h"

#define MAX_DEPTH 4096

struct uw_pair {
	uintptr_t loc, fde;
};

struct uw_table {
	uintptr_t eh_lo, eh_hi;        /* where CIEs and FDEs may be read */
	uintptr_t hdr, hdr_lo, hdr_hi; /* .eh_frame_hdr, bounds of its segment */
	uintptr_t tab;                 /* its search table (0: none) */
	size_t count;
	uint8_t tenc;
	unsigned esz;          /* bytes per table field */
	struct uw_pair *pairs; /* payloads: our sorted table */
	size_t npairs;
	uint32_t gen; /* window generation `ok` is for */
	int ok;
};

struct uw_code {
	uintptr_t lo, hi;
	unsigned table;
};

static struct {
	struct uw_table *t;
	size_t nt, capt;
	struct uw_code *c;
	size_t nc, capc;
	const struct xs_maps *maps;
	uint32_t gen;
} uw;

/* ---- tables (outside the window) ------------------------------------------ */

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(*v, ncap * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

static int new_table(unsigned *idx)
{
	if (grow((void **)&uw.t, &uw.capt, uw.nt, sizeof(*uw.t)))
		return -ENOMEM;
	memset(&uw.t[uw.nt], 0, sizeof(*uw.t));
	*idx = (unsigned)uw.nt++;
	return 0;
}

static int add_range(uintptr_t lo, uintptr_t hi, unsigned table)
{
	if (hi <= lo)
		return 0;
	if (grow((void **)&uw.c, &uw.capc, uw.nc, sizeof(*uw.c)))
		return -ENOMEM;
	uw.c[uw.nc++] = (struct uw_code){lo, hi, table};
	return 0;
}

/* The PT_LOAD segment of a module that holds addr. */
static int segment_of(const struct dl_phdr_info *info, uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && addr >= s && addr - s < ph->p_memsz) {
			*lo = s;
			*hi = s + ph->p_memsz;
			return 0;
		}
	}
	return -1;
}

/* Read the .eh_frame_hdr: where .eh_frame is, and the search table. */
static void parse_hdr(const struct dl_phdr_info *info, struct uw_table *t)
{
	struct uw_rd r = {t->hdr, t->hdr_hi, 0};
	if (uw_u8(&r) != 1)
		return;
	uint8_t eh_enc = uw_u8(&r), cnt_enc = uw_u8(&r), tenc = uw_u8(&r);
	uintptr_t eh = uw_enc(&r, eh_enc, t->hdr);
	uintptr_t lo, hi;
	if (r.bad || segment_of(info, eh, &lo, &hi))
		return;
	t->eh_lo = eh;
	t->eh_hi = hi;
	if (cnt_enc == PE_OMIT || tenc == PE_OMIT)
		return; /* no table: FDEs are searched one by one */
	size_t count = uw_enc(&r, cnt_enc, t->hdr);
	unsigned esz = uw_enc_size(tenc);
	if (r.bad || !esz || ((tenc & 0x70) && (tenc & 0x70) != PE_DATAREL))
		return;
	if (count > (t->hdr_hi - r.p) / (2 * esz))
		return;
	t->tab = r.p;
	t->count = count;
	t->tenc = tenc;
	t->esz = esz;
}

struct prep {
	int rc;
};

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct prep *pp = arg;
	unsigned ti;
	(void)size;
	if (new_table(&ti)) {
		pp->rc = -ENOMEM;
		return 1;
	}
	struct uw_table *t = &uw.t[ti];
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_GNU_EH_FRAME && !segment_of(info, s, &t->hdr_lo, &t->hdr_hi))
			t->hdr = s;
	}
	if (t->hdr)
		parse_hdr(info, t);
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    add_range(s, s + ph->p_memsz, ti)) {
			pp->rc = -ENOMEM;
			return 1;
		}
	}
	return 0;
}

static int by_lo(const void *a, const void *b)
{
	const struct uw_code *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int by_loc(const void *a, const void *b)
{
	const struct uw_pair *x = a, *y = b;
	return x->loc < y->loc ? -1 : x->loc > y->loc;
}

static void drop_tables(void)
{
	for (size_t i = 0; i < uw.nt; i++)
		free(uw.t[i].pairs);
	uw.nt = uw.nc = 0;
}

int xs_unwind_prepare(struct xs_err *err)
{
	struct prep pp = {0};
	drop_tables();
	dl_iterate_phdr(phdr_cb, &pp);
	if (pp.rc) {
		drop_tables();
		return xs_err_set(err, pp.rc, "out of memory for the unwind tables");
	}
	if (uw.nc)
		qsort(uw.c, uw.nc, sizeof(*uw.c), by_lo);
	return 0;
}

/* Every FDE of [eh, eh + size) into t->pairs. */
static int sort_fdes(struct uw_table *t)
{
	size_t cap = 0;
	uintptr_t at = t->eh_lo, next;
	int kind;
	while (at < t->eh_hi && (kind = uw_entry(at, t->eh_lo, t->eh_hi, &next)) >= 0 &&
	       kind != 2) {
		struct uw_fde f;
		if (kind == 0 && !uw_parse_fde(at, t->eh_lo, t->eh_hi, &f) && f.end > f.start) {
			if (grow((void **)&t->pairs, &cap, t->npairs, sizeof(*t->pairs)))
				return -ENOMEM;
			t->pairs[t->npairs++] = (struct uw_pair){f.start, at};
		}
		at = next;
	}
	if (t->npairs)
		qsort(t->pairs, t->npairs, sizeof(*t->pairs), by_loc);
	return 0;
}

int xs_unwind_add_code(uintptr_t lo, uintptr_t hi, uintptr_t eh, size_t eh_size, struct xs_err *err)
{
	unsigned ti;
	if (new_table(&ti))
		return xs_err_set(err, -ENOMEM, "out of memory for the unwind tables");
	struct uw_table *t = &uw.t[ti];
	if (eh && eh_size) {
		t->eh_lo = eh;
		t->eh_hi = eh + eh_size;
		if (sort_fdes(t))
			return xs_err_set(err, -ENOMEM, "out of memory for the unwind tables");
	}
	if (add_range(lo, hi, ti))
		return xs_err_set(err, -ENOMEM, "out of memory for the unwind tables");
	if (uw.nc)
		qsort(uw.c, uw.nc, sizeof(*uw.c), by_lo);
	return 0;
}

void xs_unwind_free(void)
{
	drop_tables();
	free(uw.t);
	free(uw.c);
	memset(&uw, 0, sizeof(uw));
}

/* ---- lookup (in the window) ---------------------------------------------------- */

void xs_unwind_begin(const struct xs_maps *m)
{
	uw.maps = m;
	uw.gen++;
}

/* Is [lo, hi) mapped readable in the snapshot? */
static int readable(uintptr_t lo, uintptr_t hi)
{
	while (lo < hi) {
		const struct xs_map *x = uw.maps ? xs_maps_find(uw.maps, lo) : NULL;
		if (!x || !(x->flags & XS_MAP_R))
			return 0;
		lo = x->hi;
	}
	return 1;
}

static const struct uw_table *table_for(uintptr_t pc)
{
	size_t lo = 0, hi = uw.nc;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pc < uw.c[mid].lo) {
			hi = mid;
		} else if (pc >= uw.c[mid].hi) {
			lo = mid + 1;
		} else {
			struct uw_table *t = &uw.t[uw.c[mid].table];
			if (t->gen != uw.gen) {
				t->gen = uw.gen;
				t->ok = t->eh_hi > t->eh_lo && readable(t->eh_lo, t->eh_hi) &&
				        (!t->tab || readable(t->hdr_lo, t->hdr_hi));
			}
			return t->ok ? t : NULL;
		}
	}
	return NULL;
}

/* The candidate FDE address for pc from the .eh_frame_hdr table. */
static int search_hdr(const struct uw_table *t, uintptr_t pc, uintptr_t *fde)
{
	size_t lo = 0, hi = t->count;
	struct uw_rd r;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		r = (struct uw_rd){t->tab + mid * 2 * t->esz, t->hdr_hi, 0};
		uintptr_t loc = uw_enc(&r, t->tenc, t->hdr);
		if (r.bad)
			return -1;
		if (loc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	r = (struct uw_rd){t->tab + (lo - 1) * 2 * t->esz, t->hdr_hi, 0};
	uw_enc(&r, t->tenc, t->hdr);
	*fde = uw_enc(&r, t->tenc, t->hdr);
	return r.bad ? -1 : 0;
}

static int search_pairs(const struct uw_table *t, uintptr_t pc, uintptr_t *fde)
{
	size_t lo = 0, hi = t->npairs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->pairs[mid].loc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	*fde = t->pairs[lo - 1].fde;
	return 0;
}

/* No search table: every FDE of the section, in order. */
static int search_linear(const struct uw_table *t, uintptr_t pc, struct uw_fde *f)
{
	uintptr_t at = t->eh_lo, next;
	int kind;
	while (at < t->eh_hi && (kind = uw_entry(at, t->eh_lo, t->eh_hi, &next)) >= 0 &&
	       kind != 2) {
		if (kind == 0 && !uw_parse_fde(at, t->eh_lo, t->eh_hi, f) && pc >= f->start &&
		    pc < f->end)
			return 0;
		at = next;
	}
	return -1;
}

static int find_fde(uintptr_t pc, struct uw_fde *f, const struct uw_table **tp)
{
	const struct uw_table *t = table_for(pc);
	uintptr_t at;
	int rc;
	if (!t)
		return -1;
	*tp = t;
	if (t->pairs)
		rc = search_pairs(t, pc, &at);
	else if (t->tab)
		rc = search_hdr(t, pc, &at);
	else
		return search_linear(t, pc, f);
	if (rc || uw_parse_fde(at, t->eh_lo, t->eh_hi, f))
		return -1;
	return pc >= f->start && pc < f->end ? 0 : -1;
}

/* ---- the cursor ------------------------------------------------------------------- */

static int lost(struct xs_uwcur *c, const char *why)
{
	c->why = why;
	return XS_UW_LOST;
}

/* The stack sp is on: its mapping and any read-write mappings right above. */
static int stack_of(struct xs_uwcur *c, uintptr_t sp)
{
	const struct xs_map *m = c->maps ? xs_maps_find(c->maps, sp) : NULL;
	const unsigned rw = XS_MAP_R | XS_MAP_W;
	if (!m || (m->flags & rw) != rw)
		return -1;
	c->stk_lo = m->lo;
	c->stk_hi = m->hi;
	for (const struct xs_map *end = c->maps->v + c->maps->n;
	     m + 1 < end && m[1].lo == c->stk_hi && (m[1].flags & rw) == rw; m++)
		c->stk_hi = m[1].hi;
	return 0;
}

int xs_unwind_init_regs(struct xs_uwcur *c, const uintptr_t reg[XS_UW_NREGS])
{
	memset(c, 0, sizeof(*c));
	memcpy(c->reg, reg, sizeof(c->reg));
	c->valid = (1u << XS_UW_NREGS) - 1;
	c->pc = reg[XS_UW_RIP];
	c->sp = reg[XS_UW_RSP];
	c->exact = 1;
	c->maps = uw.maps;
	if (stack_of(c, c->sp))
		return lost(c, "the stack pointer is in no read-write mapping");
	return 0;
}

int xs_unwind_init(struct xs_uwcur *c, const void *ucontext)
{
	const greg_t *g = ((const ucontext_t *)ucontext)->uc_mcontext.gregs;
	const uintptr_t reg[XS_UW_NREGS] = {
	    (uintptr_t)g[REG_RAX], (uintptr_t)g[REG_RDX], (uintptr_t)g[REG_RCX],
	    (uintptr_t)g[REG_RBX], (uintptr_t)g[REG_RSI], (uintptr_t)g[REG_RDI],
	    (uintptr_t)g[REG_RBP], (uintptr_t)g[REG_RSP], (uintptr_t)g[REG_R8],
	    (uintptr_t)g[REG_R9],  (uintptr_t)g[REG_R10], (uintptr_t)g[REG_R11],
	    (uintptr_t)g[REG_R12], (uintptr_t)g[REG_R13], (uintptr_t)g[REG_R14],
	    (uintptr_t)g[REG_R15], (uintptr_t)g[REG_RIP],
	};
	return xs_unwind_init_regs(c, reg);
}

/* psABI: rbx, rbp, r12-r15 survive calls; with no rule they keep their value */
static int callee_saved(unsigned i)
{
	return i == XS_UW_RBX || i == XS_UW_RBP || (i >= 12 && i <= 15);
}

/* Register i of the caller by rule x.  0 (valid or not in *ok), -1 error. */
static int recover(const struct xs_uwcur *c, const struct uw_rule *x, unsigned i, uintptr_t cfa,
                   const struct uw_mem *mem, uintptr_t *v, int *ok)
{
	uintptr_t a;
	*ok = 1;
	switch (x->how) {
	case UW_UNSPEC:
		if (i == XS_UW_RSP)
			return *v = cfa, 0;
		*ok = callee_saved(i) && (c->valid & (1u << i));
		return *v = c->reg[i], i == XS_UW_RIP ? -1 : 0;
	case UW_SAME:
		*ok = (c->valid >> i) & 1;
		return *v = c->reg[i], 0;
	case UW_OFFSET:
		return uw_read_word(mem, cfa + (uintptr_t)x->off, v);
	case UW_VALOFF:
		return *v = cfa + (uintptr_t)x->off, 0;
	case UW_REG:
		*ok = (c->valid >> x->reg) & 1;
		return *v = c->reg[x->reg], 0;
	case UW_EXPR:
		if (uw_eval(x->expr, x->expr_end, c->reg, c->valid, mem, 1, cfa, &a))
			return -1;
		return uw_read_word(mem, a, v);
	case UW_VALEXPR:
		return uw_eval(x->expr, x->expr_end, c->reg, c->valid, mem, 1, cfa, v);
	case UW_UNDEF:
	case UW_BAD:
	default:
		*ok = 0;
		return *v = 0, 0;
	}
}

/* Length of a ModRM-addressed operand from the ModRM byte on (ModRM, SIB,
 * displacement) in 64-bit mode. */
static unsigned modrm_len(const uint8_t *m)
{
	unsigned mod = m[0] >> 6, rm = m[0] & 7, n = 1;
	if (mod == 3)
		return 1;
	if (rm == 4)
		n++; /* SIB */
	if (mod == 1)
		return n + 1;
	if (mod == 2 || (mod == 0 && rm == 5) || (mod == 0 && rm == 4 && (m[1] & 7) == 5))
		return n + 4;
	return n;
}

/* Does a call instruction end at ra?  `call rel32` or `call r/m64`. */
__attribute__((no_sanitize_address)) static int after_call(uintptr_t ra)
{
	const struct xs_map *m = uw.maps ? xs_maps_find(uw.maps, ra - 1) : NULL;
	if (!m || !(m->flags & XS_MAP_R) || !(m->flags & XS_MAP_X))
		return 0;
	uintptr_t lo = ra - 8 < m->lo || ra < 8 ? m->lo : ra - 8;
	const volatile uint8_t *b = (const volatile uint8_t *)ra;
	if (ra - lo >= 5 && b[-5] == 0xe8)
		return 1;
	for (unsigned len = 2; len <= 7 && len <= ra - lo; len++) {
		uint8_t mr[2] = {b[-(int)len + 1], len >= 3 ? b[-(int)len + 2] : 0};
		if (b[-(int)len] == 0xff && ((mr[0] >> 3) & 7) == 2 && 1 + modrm_len(mr) == len)
			return 1;
	}
	return 0;
}

/* A return address: after a call, or a signal trampoline ('S' FDE). */
static int plausible_ra(uintptr_t ra)
{
	struct uw_fde f;
	const struct uw_table *t;
	if (after_call(ra))
		return 1;
	return !find_fde(ra - 1, &f, &t) && f.cie.signal;
}

int xs_unwind_step(struct xs_uwcur *c)
{
	struct uw_fde f;
	struct uw_row row;
	const struct uw_table *t;
	uintptr_t pc = c->exact ? c->pc : c->pc - 1, cfa, nreg[XS_UW_NREGS];
	uint32_t nvalid = 0;
	struct uw_mem mem = {c->stk_lo, c->stk_hi};
	if (c->depth >= MAX_DEPTH)
		return lost(c, "too many frames");
	if (find_fde(pc, &f, &t))
		return lost(c, "no unwind information for the PC");
	if (uw_row_at(&f, pc, t->eh_lo, t->eh_hi, &row))
		return lost(c, "malformed or unsupported CFI");
	if (row.cfa_expr) {
		if (uw_eval(row.expr, row.expr_end, c->reg, c->valid, &mem, 0, 0, &cfa))
			return lost(c, "CFA expression failed");
	} else {
		if (!((c->valid >> row.cfa_reg) & 1))
			return lost(c, "the CFA register is unknown");
		cfa = c->reg[row.cfa_reg] + (uintptr_t)row.cfa_off;
	}
	for (unsigned i = 0; i < XS_UW_NREGS; i++) {
		int ok;
		if (recover(c, &row.r[i], i, cfa, &mem, &nreg[i], &ok))
			return lost(c, "a saved register cannot be read");
		nvalid |= (uint32_t)ok << i;
	}
	if (row.r[XS_UW_RIP].how == UW_UNDEF)
		return XS_UW_END;
	if (!((nvalid >> XS_UW_RIP) & 1) || !((nvalid >> XS_UW_RSP) & 1))
		return lost(c, "the return address or stack pointer is unknown");
	if (!nreg[XS_UW_RIP])
		return XS_UW_END;
	struct xs_uwcur n = *c;
	if (f.cie.signal) {
		/* the interrupted context: any stack, any instruction */
		if (stack_of(&n, nreg[XS_UW_RSP]))
			return lost(c, "the interrupted stack is in no read-write mapping");
	} else {
		if (nreg[XS_UW_RSP] <= c->sp || nreg[XS_UW_RSP] > c->stk_hi)
			return lost(c, "the caller's stack pointer is not above this frame's");
		if (!plausible_ra(nreg[XS_UW_RIP]))
			return lost(c, "the return address does not follow a call");
	}
	memcpy(n.reg, nreg, sizeof(nreg));
	n.valid = nvalid;
	n.pc = nreg[XS_UW_RIP];
	n.sp = nreg[XS_UW_RSP];
	n.exact = f.cie.signal;
	n.depth++;
	n.why = NULL;
	*c = n;
	return XS_UW_NEXT;
}
