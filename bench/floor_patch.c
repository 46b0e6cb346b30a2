/*
 * The pause floor: a payload with no functions and apply / revert action
 * hooks that do nothing, so an apply is the bare rendezvous — signal every
 * thread, park it, release it — with no stack check and no text write.
 */
#include <xsplice/patch.h>

static int nothing(struct xsplice_payload *p)
{
	(void)p;
	return 0;
}
XSPLICE_APPLY_HOOK(nothing);
XSPLICE_REVERT_HOOK(nothing);
