/*
 * The process's loaded modules (the executable and its shared objects) as
 * dl_iterate_phdr reports them: load bias, address range, path, GNU
 * build-id.  Refreshed outside the quiesce window only (dl_iterate_phdr
 * takes the dynamic loader's lock).
 */
#ifndef XS_AGENT_MODULES_H
#define XS_AGENT_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct xs_module {
	char *path;       /* absolute when known */
	uintptr_t bias;   /* dlpi_addr */
	uintptr_t lo, hi; /* span of the PT_LOAD segments */
	uint8_t id[XSPLICE_BUILD_ID_MAX];
	unsigned idlen; /* 0: no build-id note */
	int is_main;
	/* the module's static TLS block: its offset from the thread pointer,
	 * the same in every thread (only the executable's, for now) */
	int has_tls;
	intptr_t tls_tpoff;
};

int xs_modules_refresh(struct xs_err *err);
unsigned xs_modules_count(void);
const struct xs_module *xs_module_at(unsigned i);
const struct xs_module *xs_module_main(void);
const struct xs_module *xs_module_by_id(const uint8_t *id, unsigned len);
/* Executable module whose PT_LOAD span holds addr, or NULL. */
const struct xs_module *xs_module_by_addr(uintptr_t addr);
/* Lowercase hex of a build-id into out (2 * len + 1 bytes); "(none)" for 0. */
const char *xs_hex_id(const uint8_t *id, unsigned len, char *out, size_t cap);

#endif
