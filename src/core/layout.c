/*
 * Layout: which area each allocated section goes to, at which offset, and
 * where the GOT and the call stubs go.  Computed once at verify time; it
 * does not depend on the page size because each area starts page aligned
 * and no section asks for more than XS_MAX_SECTION_ALIGN.
 *
 *   RX  executable sections, then the call stubs
 *   R   read-only allocated sections, then the GOT (made read-only by the
 *       host once the linker has written it)
 *   RW  writable and SHT_NOBITS sections (NOBITS zeroed)
 */
#include <errno.h>
#include <stdlib.h>

#include "arch/arch.h"
#include "core/elf_int.h"

static enum xs_area area_of(const Elf64_Shdr *h)
{
	if (h->sh_flags & SHF_EXECINSTR)
		return XS_AREA_RX;
	if ((h->sh_flags & SHF_WRITE) || h->sh_type == SHT_NOBITS)
		return XS_AREA_RW;
	return XS_AREA_R;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* reserve n bytes aligned to a in area `ar`; returns the offset */
static uint64_t reserve(struct xs_elf *e, enum xs_area ar, uint64_t n, uint64_t a)
{
	uint64_t off;

	if (a < 1)
		a = 1;
	if (a > e->align[ar])
		e->align[ar] = a;
	off = align_up(e->used[ar], a);
	e->used[ar] = off + n;
	return off;
}

/* symbol index of every GOT slot / stub, in slot order */
static int index_slots(struct xs_elf *e, struct xs_err *err)
{
	e->got_sym = calloc(e->ngot + 1u, sizeof(*e->got_sym));
	e->stub_sym = calloc(e->nstubs + 1u, sizeof(*e->stub_sym));
	if (!e->got_sym || !e->stub_sym)
		return xs_err_set(err, -ENOMEM, "out of memory for the GOT and stubs");
	for (unsigned k = 0; k < e->nsyms; k++) {
		if (e->syms[k].got >= 0)
			e->got_sym[e->syms[k].got] = k;
		if (e->syms[k].stub >= 0)
			e->stub_sym[e->syms[k].stub] = k;
	}
	return 0;
}

int xs_layout_compute(struct xs_elf *e, struct xs_err *err)
{
	for (unsigned i = 1; i < e->nsec; i++) {
		struct xs_sec *s = &e->sec[i];

		if (!s->alloc)
			continue;
		s->area = area_of(&s->h);
		/* .eh_frame gets 4 zero bytes after it: the terminator that
		 * __register_frame walks to (a linker adds it from crtend.o) */
		s->off =
		    reserve(e, s->area, s->h.sh_size + (i == e->special[XS_SP_EH_FRAME] ? 4 : 0),
		            s->h.sh_addralign);
	}
	/* sizes are bounded by XSPLICE_MAX_ALLOC_SIZE, counts by the number of
	 * relocations: none of this can wrap */
	e->stub_off = reserve(e, XS_AREA_RX, (uint64_t)e->nstubs * XS_ARCH_STUB_SIZE,
	                      e->nstubs ? XS_ARCH_STUB_ALIGN : 1);
	e->got_off = reserve(e, XS_AREA_R, (uint64_t)e->ngot * 8, e->ngot ? 8 : 1);
	return index_slots(e, err);
}

int xs_link_layout(const struct xs_elf *e, size_t page_size, struct xs_layout *out,
                   struct xs_err *err)
{
	if (page_size == 0 || (page_size & (page_size - 1)))
		return xs_err_set(err, -EINVAL, "page size %zu is not a power of two", page_size);
	out->total = 0;
	for (int a = 0; a < XS_AREA_COUNT; a++) {
		if (e->align[a] > page_size)
			return xs_err_set(err, -ENOTSUP,
			                  "a section asks for alignment 0x%lx, more than the "
			                  "0x%zx-byte page",
			                  (unsigned long)e->align[a], page_size);
		out->size[a] = align_up(e->used[a], page_size);
		out->total += out->size[a];
	}
	out->ngot = e->ngot;
	out->nstubs = e->nstubs;
	return 0;
}
