/*
 * The agent's control endpoint: agent.c owns the socket, the control
 * thread and fork handling; server.c serves one accepted connection.
 * Both run on the control thread only.
 */
#ifndef XS_AGENT_SERVER_H
#define XS_AGENT_SERVER_H

/* Serve one accepted (non-blocking) connection to completion, then return;
 * the caller closes fd.  A bad or dead client only ends its connection. */
void xs_server_handle(int fd);

/* Held while the engine works on a request, so that fork() in another
 * thread waits for a consistent engine (see agent.c). */
void xs_server_lock(void);
void xs_server_unlock(void);

/* Does the process run with more privilege than its invoker (AT_SECURE)?
 * Then only its effective uid and root may control it (agent.c). */
int xs_agent_privileged(void);

/* One diagnostic line "xsplice: ...\n" on fd 2 with write(2); never stdio. */
void xs_agent_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
