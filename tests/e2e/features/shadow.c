/*
 * A shadow variable adds a field to the nodes of the target's live list:
 * node_touch() now also counts how often each node was touched, without
 * changing struct node.  node_free() frees the shadow with the node.
 */
#include <stdlib.h>
#include <xsplice/patch.h>
#include <xsplice/shadow.h>
#include "ftarget.h"

#define SV_TOUCHES 0x5eedul

struct touches {
	long count;
	long key; /* the node's key when the shadow was made */
};

static int touches_ctor(void *obj, void *shadow, void *arg)
{
	struct touches *t = shadow;

	(void)arg;
	t->key = ((struct node *)obj)->key;
	return 0;
}

static void touches_dtor(void *obj, void *shadow)
{
	(void)obj, (void)shadow;
	shadow_dtors++;
}

static long node_touch_counted(struct node *n)
{
	struct touches *t = xsplice_shadow_get_or_alloc(n, SV_TOUCHES, sizeof(*t), touches_ctor,
							NULL);

	if (!t || t->key != n->key)
		return -1;
	t->count++;
	return n->value * 1000 + t->count;
}

static void node_free_shadowed(struct node *n)
{
	xsplice_shadow_free(n, SV_TOUCHES, touches_dtor);
	free(n);
}

XSPLICE_REPLACE(node_touch, node_touch_counted);
XSPLICE_REPLACE(node_free, node_free_shadowed);
