/*
 * Shadow variables from hooks that run inside the quiesce window: the load
 * hook tags every node already in the target's list, the unload hook frees
 * every tag.  node_touch() returns the tag (-1 for an untagged node).
 */
#include <xsplice/patch.h>
#include <xsplice/shadow.h>
#include "ftarget.h"

#define SV_TAG 0x7a6ul

static int tag_ctor(void *obj, void *shadow, void *arg)
{
	(void)arg;
	*(long *)shadow = 7 * ((struct node *)obj)->key;
	return 0;
}

static void tag_dtor(void *obj, void *shadow)
{
	(void)obj, (void)shadow;
	shadow_dtors++;
}

static void tag_all(void)
{
	long n = 0;

	for (struct node *p = nodes; p; p = p->next)
		n += xsplice_shadow_alloc(p, SV_TAG, sizeof(long), tag_ctor, NULL) != NULL;
	trace_int("tagged", n);
}

static void untag_all(void)
{
	xsplice_shadow_free_all(SV_TAG, tag_dtor);
	trace("untagged");
}

static long node_touch_tag(struct node *n)
{
	long *tag = xsplice_shadow_get(n, SV_TAG);

	return tag ? *tag : -1;
}

XSPLICE_REPLACE(node_touch, node_touch_tag);
XSPLICE_LOAD_HOOK(tag_all);
XSPLICE_UNLOAD_HOOK(untag_all);
