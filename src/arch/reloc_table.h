/*
 * Private to src/arch: each ISA provides xs_reloc_table, indexed by its ELF
 * relocation type (holes are entries with a NULL name), and the generic code
 * in src/arch/reloc.c does the lookups and the arithmetic.
 */
#ifndef XS_ARCH_RELOC_TABLE_H
#define XS_ARCH_RELOC_TABLE_H

#include "arch/arch.h"

struct xs_reloc_desc {
	const char *name; /* NULL: not supported */
	enum xs_reloc_kind kind;
	uint8_t width;  /* bytes written */
	unsigned flags; /* XS_RELOC_* */
};

extern const struct xs_reloc_desc xs_reloc_table[];
extern const size_t xs_reloc_table_len;

/* the descriptor of a supported type, NULL otherwise */
static inline const struct xs_reloc_desc *xs_reloc_desc(uint32_t type)
{
	if (type >= xs_reloc_table_len || !xs_reloc_table[type].name)
		return NULL;
	return &xs_reloc_table[type];
}

#endif
