/* The audit trail: one syslog(3) line per action (audit.c). */
#ifndef XS_AGENT_AUDIT_H
#define XS_AGENT_AUDIT_H

#include <stdint.h>
#include <sys/types.h>

struct xsplice_payload;

/* What a line says about the payload, taken before an action may free it. */
struct xs_audit_subj {
	char build_id[2 * 64 + 1];
	char signer[40];
};

/* The client of the request being served (SO_PEERCRED), or none. */
void xs_audit_peer(int has, uid_t uid, pid_t pid);
/* The same from a connected socket. */
void xs_audit_peer_fd(int fd);
/* Snapshot of p (NULL: nothing known). */
void xs_audit_subject(struct xs_audit_subj *s, const struct xsplice_payload *p);
/* Upload remembers what it learnt of a payload, even a refused one; the
 * engine takes it (once) for the upload's line. */
void xs_audit_note_upload(const struct xsplice_payload *p);
void xs_audit_last_upload(struct xs_audit_subj *s);
/* One line: verb, payload, result, pause.  Call outside the window only. */
void xs_audit(const char *verb, const char *name, const struct xs_audit_subj *s, int rc,
              const char *msg, uint64_t pause_ns);
/* A connection refused before any request (not the owner, not root). */
void xs_audit_refused_peer(uid_t uid, pid_t pid, const char *why);

#endif
