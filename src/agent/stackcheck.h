/*
 * The stack check of the quiesce window: is any parked thread executing in,
 * or about to return into, code that is being switched away from?
 *
 * Precise where it can be, conservative where it cannot.  A thread whose PC
 * is in a range is busy.  Otherwise its stack is unwound with the DWARF CFI
 * of the modules and payloads (unwind.h), from the registers its signal
 * interrupted, through signal frames: the return address of every frame is
 * checked (and the byte before it: a call that ends a function), and the
 * interrupted PC of a frame a signal stopped.  Stale words in the unused
 * parts of live frames - an idle thread's old return addresses - are not
 * frames and do not count.  Where the walk cannot go on (no CFI for a PC,
 * CFI we do not understand, an implausible step), every 8-byte word from
 * that frame's SP (minus the 128-byte red zone) to the top of its stack
 * mapping counts as a return address, as do the stacks that words on a
 * sigaltstack point into.  So a refusal may still be needless (it is
 * retried); a missed frame, which would crash the program, is not.
 *
 * The word scan runs first, as a filter: a thread whose stack holds no word
 * in any range is clear without unwinding (not on a sigaltstack, where the
 * walk may reach stacks the scan does not).
 */
#ifndef XS_AGENT_STACKCHECK_H
#define XS_AGENT_STACKCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/maps.h"

struct xs_srange {
	uintptr_t lo, hi;  /* [lo, hi) */
	const char *what;  /* the function (or payload text) named in messages */
	const char *owner; /* payload name, NULL for the program's own code */
};

/* Outside the window: sorted, merged copy of the ranges to look up. */
struct xs_sranges {
	struct xs_srange *v;
	size_t n, cap;
};

int xs_sranges_add(struct xs_sranges *s, uintptr_t lo, uintptr_t hi, const char *what,
                   const char *owner);
void xs_sranges_sort(struct xs_sranges *s);
void xs_sranges_reset(struct xs_sranges *s);
void xs_sranges_free(struct xs_sranges *s);

/* Is addr in one of the (sorted) ranges?  Async-signal-safe, read-only:
 * the quiesce handler's "avoid" test (xs_quiesce_set_avoid). */
int xs_sranges_hit(const void *ranges, uintptr_t addr);

struct xs_busy {
	pid_t tid;
	uintptr_t addr; /* the PC or the stack word found in a range */
	int at_pc;      /* 1: the thread executes there; 0: a return address */
	const struct xs_srange *range;
	int maps_err; /* -ENOSPC: the maps buffer is too small */
	/* 1: the frame in the range is a thread's outermost one (main, a
	 * thread's start routine: only the C library's start code is above
	 * it), which returns only when the thread ends - no retry helps */
	int outermost;
};

/* Outside the window, once: where the C library's code and the program's
 * entry point are (for `outermost`). */
void xs_stack_prepare(void);

/* In the window: check every parked thread (xs_quiesce_thread) against the
 * ranges, using a fresh maps snapshot.  0 or -EBUSY (busy filled), or the
 * maps error (-ENOSPC: grow outside the window, retry). */
int xs_stack_check(const struct xs_sranges *r, struct xs_maps *maps, struct xs_busy *busy);

#endif
