/*
 * Syscall restart for the quiesce handler.
 *
 * For poll, nanosleep, epoll_wait, select, futex with a timeout, ... the
 * kernel returns EINTR whenever a handler ran, SA_RESTART or not.  The
 * program must not see our signal: when the handler finds -EINTR right
 * after a `syscall` instruction, it rewinds the interrupted context to issue
 * the same syscall again.  The number comes from what the control thread
 * read in /proc/self/task/TID/syscall before signalling (same PC and
 * arguments), else from the instruction before (`mov $nr,%eax`, what libc
 * emits).  A relative timeout restarts from its full length: the wait may
 * be longer, never shorter, which these interfaces allow.
 */
#ifndef XS_AGENT_SYSRESTART_H
#define XS_AGENT_SYSRESTART_H

#include <ucontext.h>

#include "agent/threadinfo.h"

/* Async-signal-safe.  `known` may be NULL.  1 when the context was
 * rewound to restart the syscall. */
int xs_sys_restart(ucontext_t *uc, const struct xs_sysinfo *known);

#endif
