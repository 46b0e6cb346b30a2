/*
 * The agent's control endpoint: agent.c owns the socket, the control
 * thread and fork handling; server.c serves one accepted connection.
 * Both run on the control thread only.
 */
#ifndef XS_AGENT_SERVER_H
#define XS_AGENT_SERVER_H

#include <poll.h>

/* Connections served at once; more wait in the listen backlog. */
#define XS_SERVER_MAX_CONNS 64

/* Take an accepted (non-blocking) connection: check the peer, greet.  The
 * server owns fd from here and closes it. */
void xs_server_add(int fd);
/* No room for another connection (leave the next in the backlog). */
int xs_server_full(void);
/* The control thread's poll(): fill p with the connections (at most max),
 * wait at most xs_server_timeout_ms() (-1: no connection, no timeout), then
 * hand the results to xs_server_events().  A bad, dead or idle client only
 * ends its own connection. */
int xs_server_pollfds(struct pollfd *p, int max);
int xs_server_timeout_ms(void);
void xs_server_events(const struct pollfd *p, int n);
/* fork: the table is consistent in the child, which drops the parent's
 * connections. */
void xs_server_atfork_prepare(void);
void xs_server_atfork_parent(void);
void xs_server_atfork_child(void);

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
