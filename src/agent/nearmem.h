/*
 * Memory for a payload, near the module it patches, and its finalization.
 *
 *   RX  a memfd mapped PROT_READ|PROT_EXEC (MAP_SHARED) at its final
 *       address from the start; the linker writes through a second,
 *       writable mapping of the same memfd that is unmapped afterwards.  No
 *       page is ever writable and executable, and no mprotect ever adds
 *       PROT_EXEC (works under MemoryDenyWriteExecute).
 *   R   private anonymous, written by the linker, then mprotect PROT_READ.
 *   RW  private anonymous.
 *
 * The three areas are contiguous, in a gap of /proc/self/maps chosen by
 * the core (xs_near_find) within rel32 reach of the whole module.
 */
#ifndef XS_AGENT_NEARMEM_H
#define XS_AGENT_NEARMEM_H

#include <stddef.h>
#include <stdint.h>

#include "agent/maps.h"
#include "agent/modules.h"
#include "core/core.h"

struct xs_areas {
	uintptr_t addr[XS_AREA_COUNT];
	size_t size[XS_AREA_COUNT];
	uintptr_t base;
	size_t total;
	uint8_t *stage_rx; /* writable view of RX until finalize */
	int memfd;
	int final;
};

/* Outside the window.  Fills `rg` for xs_link_place. */
int xs_near_map(const struct xs_module *mod, const struct xs_layout *lay, const char *name,
                struct xs_maps *maps, struct xs_areas *a, struct xs_region rg[XS_AREA_COUNT],
                struct xs_err *err);
int xs_near_finalize(struct xs_areas *a, struct xs_err *err);
void xs_near_unmap(struct xs_areas *a);
/* 1 when addr lies in any of the areas */
int xs_near_contains(const struct xs_areas *a, uintptr_t addr);

/* .eh_frame registration with the unwinder the process uses (libgcc_s),
 * so that C++ exceptions and pthread_cancel unwind through payload code.
 * Outside the window.  0, or -ENOSYS when no unwinder could be found. */
int xs_eh_register(uintptr_t eh_frame, struct xs_err *err);
void xs_eh_deregister(uintptr_t eh_frame);

#endif
