/*
 * The runtime API of include/xsplice/patch.h, called by payload code and
 * hooks.
 *
 * xsplice_param() finds the calling payload from its return address, so it
 * walks the payload list while the control thread may upload or unload.
 * The list is only ever appended to or unlinked from with atomic stores;
 * walkers announce themselves in one of two reader counters chosen by an
 * epoch, and unload flips the epoch and waits for the old counter to drain
 * before it frees the payload (a small grace period, as in SRCU).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <xsplice/patch.h>

#include "agent/payload.h"

static _Atomic unsigned epoch;
static _Atomic long readers[2];

static unsigned read_lock(void)
{
	for (;;) {
		unsigned e = atomic_load(&epoch) & 1;
		atomic_fetch_add(&readers[e], 1);
		if ((atomic_load(&epoch) & 1) == e)
			return e;
		atomic_fetch_sub(&readers[e], 1);
	}
}

static void read_unlock(unsigned e)
{
	atomic_fetch_sub(&readers[e], 1);
}

int xs_sdk_unlink_wait(void)
{
	unsigned old = atomic_fetch_add(&epoch, 1) & 1;
	struct timespec ts = {0, 100000};
	for (int i = 0; atomic_load(&readers[old]); i++) {
		if (i > 20000) /* 2 s: a walker is stopped; never free */
			return -1;
		if (i < 100)
			sched_yield();
		else
			nanosleep(&ts, NULL);
	}
	return 0;
}

/* The child of fork() has only the forking thread, which is not walking
 * the list: walkers counted in the parent are not its own. */
void xs_sdk_atfork_child(void)
{
	atomic_store(&readers[0], 0);
	atomic_store(&readers[1], 0);
}

XSPLICE_API const char *xsplice_payload_name(const struct xsplice_payload *p)
{
	return p ? p->name : NULL;
}

XSPLICE_API int xsplice_payload_rc(const struct xsplice_payload *p)
{
	return p ? p->rc : -EINVAL;
}

XSPLICE_API unsigned xsplice_payload_nfuncs(const struct xsplice_payload *p)
{
	return p ? p->l.nfuncs : 0;
}

XSPLICE_API const char *xsplice_func_name(const struct xsplice_payload *p, unsigned i)
{
	return p && i < p->l.nfuncs ? xs_payload_fname(p, i) : NULL;
}

XSPLICE_API int xsplice_func_applied(const struct xsplice_payload *p, unsigned i)
{
	return p && i < p->l.nfuncs ? p->fs[i].applied : 0;
}

XSPLICE_API void xsplice_func_set_applied(struct xsplice_payload *p, unsigned i, int applied)
{
	if (p && i < p->l.nfuncs)
		p->fs[i].applied = !!applied;
}

/* Only inside the window (apply / revert action hooks): -EPERM elsewhere. */
XSPLICE_API int xsplice_func_apply(struct xsplice_payload *p, unsigned i)
{
	if (!p || i >= p->l.nfuncs)
		return -EINVAL;
	return xs_func_write(p, i);
}

XSPLICE_API int xsplice_func_revert(struct xsplice_payload *p, unsigned i)
{
	if (!p || i >= p->l.nfuncs)
		return -EINVAL;
	return xs_func_unwrite(p, i);
}

static const char *lookup(const char *kv, size_t len, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = kv; p && p < kv + len; p += strlen(p) + 1)
		if (!strncmp(p, key, kl) && p[kl] == '=')
			return p + kl + 1;
	return NULL;
}

XSPLICE_API const char *xsplice_payload_param(const struct xsplice_payload *p, const char *key)
{
	return p && key ? lookup(p->params, p->params_len, key) : NULL;
}

XSPLICE_API const char *xsplice_param(const char *key)
{
	uintptr_t ra = (uintptr_t)__builtin_return_address(0);
	const char *v = NULL;
	if (!key)
		return NULL;
	unsigned e = read_lock();
	for (struct xsplice_payload *p =
	         atomic_load((struct xsplice_payload * _Atomic *)&xs_eng.head);
	     p; p = atomic_load((struct xsplice_payload * _Atomic *)&p->next))
		if (xs_near_contains(&p->areas, ra)) {
			v = lookup(p->params, p->params_len, key);
			break;
		}
	read_unlock(e);
	return v;
}
