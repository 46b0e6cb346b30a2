/*
 * The unwind tables the stack check needs, from the engine's point of view:
 * every loaded module (unwind.c) and the code of every payload, applied or
 * not, with the .eh_frame it was linked with.  Called outside the window.
 */
#include "agent/payload.h"
#include "agent/unwind.h"

int xs_unwind_prepare_engine(struct xs_err *err)
{
	int rc = xs_unwind_prepare(err);
	for (const struct xsplice_payload *p = xs_eng.head; p && !rc; p = p->next)
		rc = xs_unwind_add_code(p->l.text_start, p->l.text_end, p->l.eh_frame,
		                        p->l.eh_frame_size, err);
	return rc;
}
