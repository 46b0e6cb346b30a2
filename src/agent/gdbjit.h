/* Debuggers: GDB's JIT interface for payloads (gdbjit.c). */
#ifndef XS_AGENT_GDBJIT_H
#define XS_AGENT_GDBJIT_H

struct xsplice_payload;

/* Register p (an in-memory ELF with its functions and .eh_frame) with a
 * debugger attached now or later; unregister it before its memory goes. */
void xs_gdbjit_add(struct xsplice_payload *p);
void xs_gdbjit_remove(struct xsplice_payload *p);

#endif
