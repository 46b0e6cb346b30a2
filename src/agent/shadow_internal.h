/*
 * The shadow-variable store, as the rest of the agent sees it (the public
 * API is include/xsplice/shadow.h).  Everything here is hidden.
 */
#ifndef XS_AGENT_SHADOW_INTERNAL_H
#define XS_AGENT_SHADOW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The engine calls xs_shadow_window_begin() once every other thread is
 * parked and xs_shadow_window_end() before it releases them.  In between,
 * shadow calls only try the lock: a parked thread that holds it makes them
 * fail with EDEADLK instead of hanging the process.
 */
void xs_shadow_window_begin(void);
void xs_shadow_window_end(void);

/*
 * Shadow variables allocated by code in [start, end) — a payload's text, as
 * recorded from the allocating call's return address.
 *   free_owner: free them without destructors (payload unload, when asked);
 *   disown:     keep them but forget the owner (unload without freeing, so
 *               a later payload placed at the same addresses is not blamed);
 *   count_owner: how many there are.
 * Each returns a count, or a negative errno (-EDEADLK) when the store is
 * locked by the calling thread or, in the window, by a parked thread.
 */
long xs_shadow_free_owner(uintptr_t start, uintptr_t end);
long xs_shadow_disown(uintptr_t start, uintptr_t end);
long xs_shadow_count_owner(uintptr_t start, uintptr_t end);

/* Live shadow variables with this id / in all; a count or -EDEADLK. */
long xs_shadow_count(unsigned long id);
long xs_shadow_count_all(void);

/* For the state dump: one row per distinct id, ascending. */
struct xs_shadow_stat {
	unsigned long id;
	size_t count;
	size_t bytes; /* data bytes asked for, summed */
};
/* Fill up to max rows (the smallest ids when there are more); return the
 * number of rows filled, or -EDEADLK. */
long xs_shadow_stats(struct xs_shadow_stat *out, size_t max);

#endif
