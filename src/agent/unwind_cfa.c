/*
 * CIE/FDE parsing, the CFA program and DWARF expressions (unwind_int.h).
 *
 * Written from the DWARF 4 "Call Frame Information" chapter, the LSB's
 * .eh_frame description and the x86-64 psABI.  Every read goes through a
 * bounded cursor; whatever we do not know is an error, never a guess.
 */
#include "agent/unwind_int.h"

#include <string.h>

/* ---- bounded reads --------------------------------------------------------- */

static int take(struct uw_rd *r, void *out, size_t n)
{
	if (r->bad || r->p > r->end || r->end - r->p < n) {
		r->bad = 1;
		memset(out, 0, n);
		return -1;
	}
	memcpy(out, (const void *)r->p, n);
	r->p += n;
	return 0;
}

uint8_t uw_u8(struct uw_rd *r)
{
	uint8_t v;
	take(r, &v, 1);
	return v;
}

uint16_t uw_u16(struct uw_rd *r)
{
	uint16_t v;
	take(r, &v, 2);
	return v;
}

uint32_t uw_u32(struct uw_rd *r)
{
	uint32_t v;
	take(r, &v, 4);
	return v;
}

uint64_t uw_u64(struct uw_rd *r)
{
	uint64_t v;
	take(r, &v, 8);
	return v;
}

uint64_t uw_uleb(struct uw_rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = uw_u8(r);
		if (r->bad || shift >= 64) {
			r->bad = 1;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
}

int64_t uw_sleb(struct uw_rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = uw_u8(r);
		if (r->bad || shift >= 64) {
			r->bad = 1;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			shift += 7;
			if (shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			return (int64_t)v;
		}
	}
}

unsigned uw_enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
	case PE_SIGNED:
		return 8;
	case PE_UDATA4:
	case PE_SDATA4:
		return 4;
	case PE_UDATA2:
	case PE_SDATA2:
		return 2;
	default:
		return 0;
	}
}

uintptr_t uw_enc(struct uw_rd *r, uint8_t enc, uintptr_t datarel)
{
	uintptr_t at = r->p, base = 0;
	uint64_t v;
	if (enc == PE_OMIT) {
		r->bad = 1;
		return 0;
	}
	switch (enc & 0x0f) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
	case PE_SIGNED:
		v = uw_u64(r);
		break;
	case PE_ULEB:
		v = uw_uleb(r);
		break;
	case PE_SLEB:
		v = (uint64_t)uw_sleb(r);
		break;
	case PE_UDATA2:
		v = uw_u16(r);
		break;
	case PE_SDATA2:
		v = (uint64_t)(int64_t)(int16_t)uw_u16(r);
		break;
	case PE_UDATA4:
		v = uw_u32(r);
		break;
	case PE_SDATA4:
		v = (uint64_t)(int64_t)(int32_t)uw_u32(r);
		break;
	default:
		r->bad = 1;
		return 0;
	}
	switch (enc & 0x70) {
	case 0:
		break;
	case PE_PCREL:
		base = at;
		break;
	case PE_DATAREL:
		if (!datarel)
			r->bad = 1;
		base = datarel;
		break;
	default: /* textrel, funcrel, aligned: never emitted for x86-64 */
		r->bad = 1;
		return 0;
	}
	return (uintptr_t)(base + v);
}

/* ---- CIE and FDE ------------------------------------------------------------- */

/*
 * The header of the entry at `at`: its end in *end, and the cursor after the
 * CIE id / CIE pointer field, whose value is in *id (address of the field in
 * *id_at).  0, or -1 (malformed), or 1 for the zero terminator.
 */
static int entry_head(uintptr_t at, uintptr_t lo, uintptr_t hi, struct uw_rd *r, uintptr_t *end,
                      uint64_t *id, uintptr_t *id_at)
{
	if (at < lo || at >= hi)
		return -1;
	*r = (struct uw_rd){at, hi, 0};
	uint64_t len = uw_u32(r);
	int wide = len == 0xffffffffu;
	if (r->bad)
		return -1;
	if (len == 0)
		return 1;
	if (wide)
		len = uw_u64(r);
	if (r->bad || len > hi - r->p)
		return -1;
	*end = r->p + len;
	r->end = *end;
	*id_at = r->p;
	*id = wide ? uw_u64(r) : uw_u32(r);
	return r->bad ? -1 : 0;
}

int uw_entry(uintptr_t at, uintptr_t lo, uintptr_t hi, uintptr_t *next)
{
	struct uw_rd r;
	uintptr_t end, id_at;
	uint64_t id;
	int rc = entry_head(at, lo, hi, &r, &end, &id, &id_at);
	if (rc)
		return rc < 0 ? -1 : 2;
	*next = end;
	return id == 0;
}

/* The augmentation data of a 'z' CIE: R, P, L, S in string order. */
static int cie_augment(struct uw_rd *r, const char *aug, struct uw_cie *c)
{
	uint64_t n = uw_uleb(r);
	if (r->bad || n > r->end - r->p)
		return -1;
	struct uw_rd a = {r->p, r->p + n, 0};
	r->p += n;
	for (const char *s = aug + 1; *s; s++) {
		switch (*s) {
		case 'R':
			c->fde_enc = uw_u8(&a);
			break;
		case 'L':
			c->lsda_enc = uw_u8(&a);
			break;
		case 'P': /* the personality routine is not needed: skip it */
			uw_enc(&a, uw_u8(&a) & 0x0f, 0);
			break;
		case 'S':
			c->signal = 1;
			break;
		default: /* unknown: R may follow it, so give up */
			return -1;
		}
		if (a.bad)
			return -1;
	}
	return 0;
}

static int parse_cie(uintptr_t at, uintptr_t lo, uintptr_t hi, struct uw_cie *c)
{
	struct uw_rd r;
	uintptr_t end, id_at;
	uint64_t id;
	char aug[8];
	unsigned n = 0;
	if (entry_head(at, lo, hi, &r, &end, &id, &id_at) || id != 0)
		return -1;
	memset(c, 0, sizeof(*c));
	uint8_t version = uw_u8(&r);
	if (version != 1 && version != 3 && version != 4)
		return -1;
	for (;;) {
		uint8_t ch = uw_u8(&r);
		if (r.bad || n == sizeof(aug))
			return -1;
		aug[n++] = (char)ch;
		if (!ch)
			break;
	}
	if (aug[0] && aug[0] != 'z')
		return -1; /* "eh" and other pre-'z' forms */
	if (version == 4 && (uw_u8(&r) != 8 || uw_u8(&r) != 0))
		return -1; /* address size, segment selector size */
	c->caf = uw_uleb(&r);
	c->daf = uw_sleb(&r);
	uint64_t ra = version == 1 ? uw_u8(&r) : uw_uleb(&r);
	if (r.bad || ra != XS_UW_RIP)
		return -1;
	c->fde_enc = PE_ABSPTR;
	c->lsda_enc = PE_OMIT;
	if (aug[0] == 'z') {
		c->has_z = 1;
		if (cie_augment(&r, aug, c))
			return -1;
	}
	c->insns = r.p;
	c->insns_end = end;
	return r.bad ? -1 : 0;
}

int uw_parse_fde(uintptr_t at, uintptr_t lo, uintptr_t hi, struct uw_fde *f)
{
	struct uw_rd r;
	uintptr_t end, id_at;
	uint64_t id;
	if (entry_head(at, lo, hi, &r, &end, &id, &id_at) || id == 0 || id > id_at - lo)
		return -1;
	if (parse_cie(id_at - (uintptr_t)id, lo, hi, &f->cie))
		return -1;
	f->start = uw_enc(&r, f->cie.fde_enc, 0);
	uintptr_t range = uw_enc(&r, f->cie.fde_enc & 0x0f, 0);
	if (f->cie.has_z) {
		uint64_t n = uw_uleb(&r);
		if (r.bad || n > r.end - r.p)
			return -1;
		r.p += n;
	}
	if (r.bad || range > UINTPTR_MAX - f->start)
		return -1;
	f->end = f->start + range;
	f->insns = r.p;
	f->insns_end = end;
	return 0;
}

/* ---- the CFA program ------------------------------------------------------------ */

#define STATE_DEPTH 8

struct prog {
	const struct uw_fde *f;
	uintptr_t pc; /* execute while loc <= pc */
	uintptr_t loc;
	uintptr_t lo, hi;
	const struct uw_row *init; /* after the CIE's instructions (restore) */
	struct uw_row saved[STATE_DEPTH];
	unsigned nsaved;
};

/* offset * data alignment factor, wrapping (garbage must not be UB) */
static int64_t factor(uint64_t v, int64_t daf)
{
	return (int64_t)(v * (uint64_t)daf);
}

static struct uw_rule *rule(struct uw_row *row, uint64_t reg, struct uw_rule *sink)
{
	/* rules for other register files (xmm, x87, ...) are parsed and dropped */
	return reg < XS_UW_NREGS ? &row->r[reg] : sink;
}

static int set_rule(struct uw_row *row, uint64_t reg, uint8_t how, int64_t off)
{
	struct uw_rule sink, *x = rule(row, reg, &sink);
	*x = (struct uw_rule){.how = how, .off = off};
	return 0;
}

/* 1: stop (the next row starts after pc), 0: advanced. */
static int advance(struct prog *p, uint64_t delta)
{
	uint64_t d = delta * p->f->cie.caf;
	if (p->f->cie.caf && d / p->f->cie.caf != delta)
		return 1;
	if (p->loc > p->pc || d > p->pc - p->loc)
		return 1;
	p->loc += d;
	return 0;
}

static int block(struct uw_rd *r, uintptr_t *expr, uintptr_t *end)
{
	uint64_t n = uw_uleb(r);
	if (r->bad || n > r->end - r->p)
		return -1;
	*expr = r->p;
	*end = r->p + n;
	r->p += n;
	return 0;
}

/* One extended (low 6 bits 0) instruction.  0, 1 stop, -1 error. */
static int extended(struct prog *p, struct uw_rd *r, uint8_t op, struct uw_row *row)
{
	const struct uw_cie *c = &p->f->cie;
	struct uw_rule sink, *x;
	uint64_t reg, u;
	switch (op) {
	case 0x00: /* nop */
		return 0;
	case 0x01: { /* set_loc */
		uintptr_t to = uw_enc(r, c->fde_enc, 0);
		if (r->bad || to < p->loc)
			return -1;
		if (to > p->pc)
			return 1;
		p->loc = to;
		return 0;
	}
	case 0x02: /* advance_loc1 */
		return advance(p, uw_u8(r));
	case 0x03: /* advance_loc2 */
		return advance(p, uw_u16(r));
	case 0x04: /* advance_loc4 */
		return advance(p, uw_u32(r));
	case 0x05: /* offset_extended */
		reg = uw_uleb(r);
		return set_rule(row, reg, UW_OFFSET, factor(uw_uleb(r), c->daf));
	case 0x06: /* restore_extended */
		reg = uw_uleb(r);
		*rule(row, reg, &sink) = reg < XS_UW_NREGS ? p->init->r[reg] : sink;
		return 0;
	case 0x07: /* undefined */
		return set_rule(row, uw_uleb(r), UW_UNDEF, 0);
	case 0x08: /* same_value */
		return set_rule(row, uw_uleb(r), UW_SAME, 0);
	case 0x09: /* register */
		reg = uw_uleb(r);
		u = uw_uleb(r);
		x = rule(row, reg, &sink);
		*x = (struct uw_rule){.how = u < XS_UW_NREGS ? UW_REG : UW_BAD, .reg = (uint8_t)u};
		return 0;
	case 0x0a: /* remember_state */
		if (p->nsaved == STATE_DEPTH)
			return -1;
		p->saved[p->nsaved++] = *row;
		return 0;
	case 0x0b: /* restore_state: the CFA rule too, as GCC's epilogues expect */
		if (!p->nsaved)
			return -1;
		*row = p->saved[--p->nsaved];
		return 0;
	case 0x0c: /* def_cfa */
		reg = uw_uleb(r);
		row->cfa_off = (int64_t)uw_uleb(r);
		goto cfa_reg;
	case 0x0d: /* def_cfa_register */
		reg = uw_uleb(r);
		goto cfa_reg;
	case 0x0e: /* def_cfa_offset */
		row->cfa_off = (int64_t)uw_uleb(r);
		return row->cfa_expr ? -1 : 0;
	case 0x0f: /* def_cfa_expression */
		row->cfa_expr = 1;
		return block(r, &row->expr, &row->expr_end);
	case 0x10: /* expression */
	case 0x16: /* val_expression */
		reg = uw_uleb(r);
		x = rule(row, reg, &sink);
		x->how = op == 0x10 ? UW_EXPR : UW_VALEXPR;
		return block(r, &x->expr, &x->expr_end);
	case 0x11: /* offset_extended_sf */
		reg = uw_uleb(r);
		return set_rule(row, reg, UW_OFFSET, factor((uint64_t)uw_sleb(r), c->daf));
	case 0x12: /* def_cfa_sf */
		reg = uw_uleb(r);
		row->cfa_off = factor((uint64_t)uw_sleb(r), c->daf);
		goto cfa_reg;
	case 0x13: /* def_cfa_offset_sf */
		row->cfa_off = factor((uint64_t)uw_sleb(r), c->daf);
		return row->cfa_expr ? -1 : 0;
	case 0x14: /* val_offset */
		reg = uw_uleb(r);
		return set_rule(row, reg, UW_VALOFF, factor(uw_uleb(r), c->daf));
	case 0x15: /* val_offset_sf */
		reg = uw_uleb(r);
		return set_rule(row, reg, UW_VALOFF, factor((uint64_t)uw_sleb(r), c->daf));
	case 0x2e: /* GNU_args_size */
		uw_uleb(r);
		return 0;
	case 0x2f: /* GNU_negative_offset_extended */
		reg = uw_uleb(r);
		return set_rule(row, reg, UW_OFFSET, factor(-uw_uleb(r), c->daf));
	default:
		return -1;
	}
cfa_reg:
	if (reg >= XS_UW_NREGS)
		return -1;
	row->cfa_expr = 0;
	row->cfa_reg = (uint8_t)reg;
	return 0;
}

/* Run [from, to) on row.  0, or -1 on error. */
static int run(struct prog *p, uintptr_t from, uintptr_t to, struct uw_row *row)
{
	if (from > to || from < p->lo || to > p->hi)
		return -1;
	struct uw_rd r = {from, to, 0};
	while (r.p < r.end) {
		uint8_t op = uw_u8(&r);
		uint8_t low = op & 0x3f;
		int rc = 0;
		switch (op >> 6) {
		case 1: /* advance_loc */
			rc = advance(p, low);
			break;
		case 2: /* offset */
			set_rule(row, low, UW_OFFSET, factor(uw_uleb(&r), p->f->cie.daf));
			break;
		case 3: /* restore */
			if (low < XS_UW_NREGS)
				row->r[low] = p->init->r[low];
			break;
		default:
			rc = extended(p, &r, op, row);
		}
		if (r.bad || rc < 0)
			return -1;
		if (rc > 0)
			return 0;
	}
	return 0;
}

int uw_row_at(const struct uw_fde *f, uintptr_t pc, uintptr_t lo, uintptr_t hi, struct uw_row *row)
{
	struct uw_row init;
	struct prog p = {.f = f, .pc = pc, .loc = f->start, .lo = lo, .hi = hi, .init = &init};
	if (pc < f->start || pc >= f->end)
		return -1;
	memset(&init, 0, sizeof(init));
	init.cfa_reg = XS_UW_RSP;
	/* the CIE's instructions never advance past the start; run them as if
	 * at the FDE's first address */
	if (run(&p, f->cie.insns, f->cie.insns_end, &init) || p.nsaved)
		return -1;
	*row = init;
	p.loc = f->start;
	return run(&p, f->insns, f->insns_end, row);
}

/* ---- DWARF expressions ------------------------------------------------------------ */

__attribute__((no_sanitize_address)) int uw_read_word(const struct uw_mem *m, uintptr_t addr,
                                                      uintptr_t *out)
{
	if ((addr & 7) || addr < m->lo || addr > m->hi || m->hi - addr < 8)
		return -1;
	/* stack memory: another thread's frames, not our objects */
	*out = *(const volatile uintptr_t *)addr;
	return 0;
}

#define EXPR_DEPTH 16
#define EXPR_STEPS 256

struct estack {
	uintptr_t v[EXPR_DEPTH];
	unsigned n;
};

static int push(struct estack *s, uintptr_t v)
{
	if (s->n == EXPR_DEPTH)
		return -1;
	s->v[s->n++] = v;
	return 0;
}

static int binop(struct estack *s, uint8_t op)
{
	if (s->n < 2)
		return -1;
	uintptr_t b = s->v[--s->n], a = s->v[s->n - 1], v;
	intptr_t sa = (intptr_t)a, sb = (intptr_t)b;
	switch (op) {
	case 0x1a: /* and */
		v = a & b;
		break;
	case 0x1b: /* div */
		if (!b || (sa == INTPTR_MIN && sb == -1))
			return -1;
		v = (uintptr_t)(sa / sb);
		break;
	case 0x1c: /* minus */
		v = a - b;
		break;
	case 0x1d: /* mod */
		if (!b)
			return -1;
		v = a % b;
		break;
	case 0x1e: /* mul */
		v = a * b;
		break;
	case 0x21: /* or */
		v = a | b;
		break;
	case 0x22: /* plus */
		v = a + b;
		break;
	case 0x24: /* shl */
		v = b >= 64 ? 0 : a << b;
		break;
	case 0x25: /* shr */
		v = b >= 64 ? 0 : a >> b;
		break;
	case 0x26: /* shra */
		v = (uintptr_t)(b >= 64 ? (sa < 0 ? -1 : 0) : sa >> b);
		break;
	case 0x27: /* xor */
		v = a ^ b;
		break;
	case 0x29: /* eq */
		v = sa == sb;
		break;
	case 0x2a: /* ge */
		v = sa >= sb;
		break;
	case 0x2b: /* gt */
		v = sa > sb;
		break;
	case 0x2c: /* le */
		v = sa <= sb;
		break;
	case 0x2d: /* lt */
		v = sa < sb;
		break;
	case 0x2e: /* ne */
		v = sa != sb;
		break;
	default:
		return -1;
	}
	s->v[s->n - 1] = v;
	return 0;
}

static int breg(struct estack *s, uint64_t reg, int64_t off, const uintptr_t *regs, uint32_t valid)
{
	if (reg >= XS_UW_NREGS || !(valid & (1u << reg)))
		return -1;
	return push(s, regs[reg] + (uintptr_t)off);
}

/* Stack manipulation, constants and unary operators.  0, 1 unknown, -1. */
static int simple(struct estack *s, struct uw_rd *r, uint8_t op)
{
	uintptr_t t;
	switch (op) {
	case 0x08: /* const1u */
		return push(s, uw_u8(r));
	case 0x09: /* const1s */
		return push(s, (uintptr_t)(int64_t)(int8_t)uw_u8(r));
	case 0x0a: /* const2u */
		return push(s, uw_u16(r));
	case 0x0b: /* const2s */
		return push(s, (uintptr_t)(int64_t)(int16_t)uw_u16(r));
	case 0x0c: /* const4u */
		return push(s, uw_u32(r));
	case 0x0d: /* const4s */
		return push(s, (uintptr_t)(int64_t)(int32_t)uw_u32(r));
	case 0x0e: /* const8u */
	case 0x0f: /* const8s */
		return push(s, uw_u64(r));
	case 0x10: /* constu */
		return push(s, uw_uleb(r));
	case 0x11: /* consts */
		return push(s, (uintptr_t)uw_sleb(r));
	case 0x96: /* nop */
		return 0;
	}
	if (op >= 0x30 && op <= 0x4f) /* lit0..31 */
		return push(s, op - 0x30u);
	if (!s->n)
		return -1;
	uintptr_t *top = &s->v[s->n - 1];
	switch (op) {
	case 0x12: /* dup */
		return push(s, *top);
	case 0x13: /* drop */
		s->n--;
		return 0;
	case 0x14: /* over */
		return s->n < 2 ? -1 : push(s, s->v[s->n - 2]);
	case 0x15: /* pick */
		t = uw_u8(r);
		return t >= s->n ? -1 : push(s, s->v[s->n - 1 - t]);
	case 0x16: /* swap */
		if (s->n < 2)
			return -1;
		t = *top, *top = s->v[s->n - 2], s->v[s->n - 2] = t;
		return 0;
	case 0x17: /* rot */
		if (s->n < 3)
			return -1;
		t = *top, *top = s->v[s->n - 2], s->v[s->n - 2] = s->v[s->n - 3];
		s->v[s->n - 3] = t;
		return 0;
	case 0x19: /* abs */
		*top = (intptr_t)*top < 0 ? -*top : *top;
		return 0;
	case 0x1f: /* neg */
		*top = -*top;
		return 0;
	case 0x20: /* not */
		*top = ~*top;
		return 0;
	case 0x23: /* plus_uconst */
		*top += uw_uleb(r);
		return 0;
	}
	return 1;
}

int uw_eval(uintptr_t expr, uintptr_t end, const uintptr_t *regs, uint32_t valid,
            const struct uw_mem *mem, int has_push, uintptr_t pushv, uintptr_t *out)
{
	struct estack s = {.n = 0};
	struct uw_rd r = {expr, end, 0};
	if (has_push)
		push(&s, pushv);
	for (unsigned steps = 0; r.p < r.end; steps++) {
		uint8_t op = uw_u8(&r);
		int rc;
		if (steps == EXPR_STEPS)
			return -1;
		if (op >= 0x70 && op <= 0x8f) { /* breg0..31 */
			rc = breg(&s, op - 0x70u, uw_sleb(&r), regs, valid);
		} else if (op == 0x92) { /* bregx */
			uint64_t reg = uw_uleb(&r);
			rc = breg(&s, reg, uw_sleb(&r), regs, valid);
		} else if (op == 0x06) { /* deref */
			rc = s.n ? uw_read_word(mem, s.v[s.n - 1], &s.v[s.n - 1]) : -1;
		} else if (op == 0x2f || op == 0x28) { /* skip, bra */
			int16_t d = (int16_t)uw_u16(&r);
			int jump = op == 0x2f;
			if (!jump) {
				if (!s.n)
					return -1;
				jump = s.v[--s.n] != 0;
			}
			uintptr_t to = r.p + (uintptr_t)(intptr_t)d;
			if (jump && (to < expr || to > end))
				return -1;
			if (jump)
				r.p = to;
			rc = 0;
		} else if ((op >= 0x1a && op <= 0x1e) || op == 0x21 || op == 0x22 ||
		           (op >= 0x24 && op <= 0x27) || (op >= 0x29 && op <= 0x2e)) {
			rc = binop(&s, op);
		} else {
			rc = simple(&s, &r, op);
		}
		if (rc || r.bad)
			return -1;
	}
	if (!s.n)
		return -1;
	*out = s.v[s.n - 1];
	return 0;
}
