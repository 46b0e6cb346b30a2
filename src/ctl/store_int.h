/* libxsplicectl: the patch store as the client sees it (store.c), shared
 * with sync and status (fleet.c). */
#ifndef XS_CTL_STORE_INT_H
#define XS_CTL_STORE_INT_H

#include <stddef.h>

#include "common/store.h"
#include "ctl/ctl_internal.h"

#define XS_HEXID_MAX (2 * 64 + 1)

struct xs_stored {
	char name[XS_STORE_NAME_MAX + 1];
	char id[XS_HEXID_MAX], target[XS_HEXID_MAX], depends[XS_HEXID_MAX]; /* lowercase hex */
	char *modinfo; /* key=value\0... (malloc'd copy) */
	size_t modinfo_len;
	void *data; /* the payload bytes */
	size_t len;
};

struct xs_store {
	char dir[4096];
	struct xs_stored *v; /* in dependency order (build-id chains) */
	size_t n;
};

/* Read and verify every payload of the store, in dependency order.  A
 * missing store is empty.  0, or a negative errno with h's message set. */
int xs_store_load(xsctl *h, struct xs_store *s);
void xs_store_release(struct xs_store *s);
const struct xs_stored *xs_store_find(const struct xs_store *s, const char *name);

#endif
