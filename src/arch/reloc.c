/*
 * Generic relocation arithmetic (musl-style): the ISA's table says which
 * kind of computation a type is; this file computes it, checks that the
 * value fits the field and writes it little endian.
 */
#include <errno.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/reloc_table.h"

unsigned xs_arch_reloc_info(uint32_t type)
{
	const struct xs_reloc_desc *d = xs_reloc_desc(type);

	return d ? d->flags : 0;
}

size_t xs_arch_reloc_width(uint32_t type)
{
	const struct xs_reloc_desc *d = xs_reloc_desc(type);

	return d ? d->width : 0;
}

static void put_le(uint8_t *field, uint64_t v, size_t width)
{
	for (size_t i = 0; i < width; i++)
		field[i] = (uint8_t)(v >> (8 * i));
}

/* Unsigned 64-bit arithmetic wraps as the psABI's modular arithmetic does;
 * the range checks below then look at the value as the field will hold it. */
int xs_arch_reloc_apply(const struct xs_reloc_args *r, uint8_t *field, int64_t *value)
{
	const struct xs_reloc_desc *d = xs_reloc_desc(r->type);
	uint64_t v;

	*value = 0;
	if (!d)
		return -ENOTSUP;
	switch (d->kind) {
	case XS_RK_NONE:
		return 0;
	case XS_RK_ABS64:
	case XS_RK_ABS32U:
	case XS_RK_ABS32S:
		v = r->S + (uint64_t)r->A;
		break;
	case XS_RK_PC32:
	case XS_RK_PC64:
		v = r->S + (uint64_t)r->A - r->P;
		break;
	case XS_RK_GOTPC32:
		v = r->G + (uint64_t)r->A - r->P;
		break;
	default:
		return -ENOTSUP;
	}
	*value = (int64_t)v;
	if (d->kind == XS_RK_ABS32U && v > UINT32_MAX)
		return -ERANGE;
	if ((d->kind == XS_RK_ABS32S || d->kind == XS_RK_PC32 || d->kind == XS_RK_GOTPC32) &&
	    ((int64_t)v < INT32_MIN || (int64_t)v > INT32_MAX))
		return -ERANGE;
	put_le(field, v, d->width);
	return 0;
}
