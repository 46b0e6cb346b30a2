/* Signal names in the agent's environment variables (XSPLICE_SIGNAL,
 * XSPLICE_DUMP_SIGNAL). */
#ifndef XS_AGENT_SIGNAME_H
#define XS_AGENT_SIGNAME_H

/* "USR2", "SIGUSR2", "12", "RTMIN+3", "SIGRTMAX-1" -> signal number, or 0
 * when it names no signal. */
int xs_signal_parse(const char *s);

#include <stddef.h>
/* "SIGUSR2", "SIGRTMIN+8" (for reports) */
const char *xs_signal_name(int sig, char *buf, size_t cap);

#endif
