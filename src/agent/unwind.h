/*
 * A small DWARF CFI unwinder for x86-64, for the stack check of the
 * quiesce window: which functions will each parked thread return into?
 *
 *   xs_unwind_prepare()      outside the window: snapshot the modules
 *                            (dl_iterate_phdr: executable segments and the
 *                            .eh_frame_hdr search table of each)
 *   xs_unwind_add_code()     outside: code the loader does not know (a
 *                            payload) and its .eh_frame, turned into a
 *                            sorted FDE table
 *   xs_unwind_begin()        in the window, with a fresh maps snapshot
 *   xs_unwind_init()         from a parked thread's ucontext
 *   xs_unwind_step()         one frame up: the caller's PC, SP, registers
 *
 * Nothing after prepare allocates, locks or calls into libc beyond
 * memcpy/memset.  Every read is bounds-checked: stack words only inside the
 * mapping that holds the frame's stack pointer, unwind tables only inside
 * their section or segment, and only while the maps snapshot shows them
 * mapped.  When anything is missing, malformed or implausible - no FDE for
 * the PC, an instruction we do not know, a CFA that does not move up the
 * stack, a return address not preceded by a call - the step returns
 * XS_UW_LOST and the frame it stopped at (pc, sp) is where a caller must
 * fall back to a conservative scan.
 */
#ifndef XS_AGENT_UNWIND_H
#define XS_AGENT_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "agent/maps.h"
#include "core/core.h"

/* DWARF register numbers of x86-64 (psABI): 0 rax, 1 rdx, 2 rcx, 3 rbx,
 * 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15, 16 the return address (rip). */
#define XS_UW_NREGS 17
enum { XS_UW_RBX = 3, XS_UW_RBP = 6, XS_UW_RSP = 7, XS_UW_RIP = 16 };

enum xs_uw_result {
	XS_UW_NEXT = 1,  /* moved to the caller: pc / sp are its */
	XS_UW_END = 0,   /* the outermost frame (return address undefined or 0) */
	XS_UW_LOST = -1, /* cannot go on precisely from this frame */
};

struct xs_uwcur {
	uintptr_t reg[XS_UW_NREGS];
	uint32_t valid;           /* bit i: reg[i] is known */
	uintptr_t pc, sp;         /* this frame */
	int exact;                /* pc is an interrupted instruction, not a
	                             return address (first frame, or the frame
	                             a signal interrupted) */
	uintptr_t stk_lo, stk_hi; /* the mapping that holds sp */
	const struct xs_maps *maps;
	unsigned depth;
	const char *why; /* why the walk was lost (a constant string) */
};

/* Outside the window.  Forgets earlier xs_unwind_add_code() entries. */
int xs_unwind_prepare(struct xs_err *err);
/* Outside the window: code at [lo, hi) with its .eh_frame at
 * [eh, eh + eh_size) (eh 0: no unwind information, frames there are lost). */
int xs_unwind_add_code(uintptr_t lo, uintptr_t hi, uintptr_t eh, size_t eh_size,
                       struct xs_err *err);
void xs_unwind_free(void);
/* Outside the window (unwind_agent.c): prepare, then add every loaded
 * payload's code and .eh_frame. */
int xs_unwind_prepare_engine(struct xs_err *err);

/* In the window: the snapshot that says what is mapped (kept by pointer). */
void xs_unwind_begin(const struct xs_maps *m);
/* Start at a ucontext_t (a signal handler's third argument) or at a set of
 * registers (reg[16] is the PC).  0, or XS_UW_LOST when the stack pointer
 * is in no readable mapping. */
int xs_unwind_init(struct xs_uwcur *c, const void *ucontext);
int xs_unwind_init_regs(struct xs_uwcur *c, const uintptr_t reg[XS_UW_NREGS]);
/* One frame up (enum xs_uw_result). */
int xs_unwind_step(struct xs_uwcur *c);

#endif
