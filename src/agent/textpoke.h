/*
 * Writing code in the quiesce window.
 *
 * The bytes go through /proc/self/mem (pwrite on an fd open during the
 * action): the
 * kernel writes the page for us, and no page is ever made writable to the
 * rest of the process.  Only if that fails (a kernel that refuses
 * /proc/pid/mem writes) are the pages mprotect'ed RWX for the write and put
 * back.  After the writes, membarrier(SYNC_CORE) makes every CPU that runs
 * one of our threads serialise its instruction stream (cross-modifying
 * code) before the threads are released.
 */
#ifndef XS_AGENT_TEXTPOKE_H
#define XS_AGENT_TEXTPOKE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

int xs_text_init(struct xs_err *err);
void xs_text_atfork_child(void);
/* Around an action (outside the window): open / close /proc/self/mem. */
void xs_text_begin(void);
void xs_text_end(void);

/*
 * Outside the window, while the program runs: make the page at addr ours
 * now by writing back the bytes it holds.  The first write to a page of a
 * program's code copies the page (copy-on-write) and flushes the old
 * translation from the other CPUs: 40-170 us of a process's first window
 * here.  After this the window's write only changes bytes of a private
 * page.  The same bytes written over code a thread runs change nothing.
 */
void xs_text_own(uintptr_t addr, size_t len);

/* In the window: write len bytes at addr (code). 0 or negative errno.
 * `prot` is the mapping's protection to restore on the mprotect path. */
int xs_text_write(uintptr_t addr, const void *bytes, size_t len, int prot);
/* In the window, after the writes: serialise every CPU running our threads. */
void xs_text_sync(void);

/* 1 when /proc/self/mem writes work, 0 when the mprotect fallback is used. */
int xs_text_uses_procmem(void);

#endif
