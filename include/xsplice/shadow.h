/*
 * xsplice shadow variables — attach new data to an existing object without
 * changing its layout.
 *
 * A patch that needs a new field in a structure the running program already
 * allocates cannot change that structure: every object in memory, and all
 * the unpatched code that touches it, still uses the old layout.  Instead
 * the patch hangs a "shadow" block off the object's address:
 *
 *     #include <xsplice/patch.h>
 *     #include <xsplice/shadow.h>
 *     #define SV_RETRIES 1                   // one id per new field
 *
 *     static int conn_read_fixed(struct conn *c) {
 *             int *retries = xsplice_shadow_get_or_alloc(c, SV_RETRIES,
 *                                     sizeof(*retries), NULL, NULL);
 *             if (retries && ++*retries > 3)
 *                     return -1;
 *             ...
 *     }
 *     static void conn_free_fixed(struct conn *c) {
 *             xsplice_shadow_free(c, SV_RETRIES, NULL);
 *             ...
 *     }
 *
 * A shadow variable is keyed by (obj, id): obj is any address (it is never
 * dereferenced), id a number the patch author chooses.  The data block is
 * zero-filled and aligned to 16 bytes; it stays valid until freed.  The
 * functions are exported by the agent (libxsplice.so); payload code calls
 * them like any other function.
 *
 * Threads: every call is thread-safe (one internal lock).  The constructor
 * and destructor run with that lock held: they must not call the shadow
 * functions themselves (such a call fails with errno EDEADLK rather than
 * hanging) and should be short.
 *
 * Hooks: pre-/post-apply and pre-/post-revert hooks run outside the quiesce
 * window and may use every call.  Hooks that run inside the window (load,
 * unload, apply/revert actions, per-thread actions) may use them too: the
 * data lives in memory the agent maps itself (never malloc), so no lock a
 * parked thread could hold is involved — except the shadow lock itself.  If
 * a parked thread was interrupted in the middle of a shadow call, a call made
 * in the window fails instead of waiting forever: get / alloc return NULL
 * with errno EDEADLK, free / free_all do nothing and set errno to EDEADLK.
 * The constructor / destructor you pass then run inside the window too,
 * under the same rules as the hook.
 *
 * Ownership: each shadow variable remembers the code address its allocation
 * was called from.  Reverting a payload leaves its shadow variables alone (a
 * re-apply finds them again).  Unloading it frees the ones its code
 * allocated when the payload asks for it with the metadata
 * `shadow_free=1` (XSPLICE_META(shadow_free, "1") or
 * `xsplice-pack --meta shadow_free=1`) — without calling any destructor,
 * since the payload's code is going away; otherwise they stay, for a later
 * payload to use or free.  A tail call (`return xsplice_shadow_alloc(...)`)
 * records the caller's caller instead; assign the result before returning
 * if that matters.  `xsplice dump` shows the count per id and per payload.
 */
#ifndef XSPLICE_SHADOW_H
#define XSPLICE_SHADOW_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef XSPLICE_API
#ifdef XSPLICE_WEAK_API
/* xsplice-cc defines XSPLICE_WEAK_API under xsplice-build: the project's own
 * link of a patched source that calls the agent then succeeds (the binary is
 * never run); the payload resolves the calls against the agent at load. */
#define XSPLICE_API __attribute__((weak, visibility("default")))
#else
#define XSPLICE_API __attribute__((visibility("default")))
#endif
#endif

/* Constructor: fill a fresh (zeroed) shadow block; 0 on success, anything
 * else makes the allocation fail and leaves nothing behind. */
typedef int (*xsplice_shadow_ctor_fn)(void *obj, void *shadow, void *arg);
/* Destructor: release what the block refers to (the block itself is freed
 * by the agent afterwards). */
typedef void (*xsplice_shadow_dtor_fn)(void *obj, void *shadow);

/* The shadow data of (obj, id), or NULL when there is none. */
XSPLICE_API void *xsplice_shadow_get(const void *obj, unsigned long id);

/*
 * Create the shadow variable (obj, id) with `size` zeroed bytes (size may be
 * 0: the block then only marks the object), run ctor(obj, data, arg) on it
 * if ctor is not NULL, and return the data.  NULL, with errno set, when
 * (obj, id) already exists (EEXIST), memory is short (ENOMEM), the
 * constructor failed (EINVAL, or -rc when it returned a negative errno), or
 * the call would deadlock (EDEADLK, see above).
 */
XSPLICE_API void *xsplice_shadow_alloc(const void *obj, unsigned long id, size_t size,
				       xsplice_shadow_ctor_fn ctor, void *arg);

/* The existing shadow data of (obj, id), or a new block made as by
 * xsplice_shadow_alloc (the constructor runs only in that case).  Racing
 * callers all get the same block; the constructor runs once. */
XSPLICE_API void *xsplice_shadow_get_or_alloc(const void *obj, unsigned long id, size_t size,
					      xsplice_shadow_ctor_fn ctor, void *arg);

/* Free the shadow variable (obj, id) if it exists, calling dtor(obj, data)
 * first when dtor is not NULL. */
XSPLICE_API void xsplice_shadow_free(const void *obj, unsigned long id,
				     xsplice_shadow_dtor_fn dtor);

/* Free every shadow variable with this id (whatever the object), calling
 * dtor on each first when dtor is not NULL. */
XSPLICE_API void xsplice_shadow_free_all(unsigned long id, xsplice_shadow_dtor_fn dtor);

#ifdef __cplusplus
}
#endif
#endif /* XSPLICE_SHADOW_H */
