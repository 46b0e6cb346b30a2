/*
 * The audit trail: every action (upload, apply, revert, replace, unload,
 * refused ones included) and every refused connection is logged through
 * syslog(3), which the journal collects, as one line:
 *
 *   xsplice-audit: upload payload=fix build-id=0123.. signer=89ab..(trusted)
 *     result=failed error=ENOKEY message="..." pause_us=0 uid=1000 pid=4242
 *     process=777 exe=/usr/sbin/kvd
 *
 * (one line; wrapped here).  The agent never calls openlog(): the program's
 * own ident and options stay as they are, the facility (LOG_AUTHPRIV) is
 * given with each line.  Lines are written on the control thread after the
 * action, never inside the quiesce window, with the request lock held (so
 * fork() cannot copy syslog's lock held).
 */
#include "agent/audit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "agent/payload.h"
#include "agent/server.h"

static struct {
	int has_peer;
	uid_t uid;
	pid_t pid;
	struct xs_audit_subj last_upload;
	char exe[256];
} au;

void xs_audit_peer(int has, uid_t uid, pid_t pid)
{
	au.has_peer = has;
	au.uid = uid;
	au.pid = pid;
}

void xs_audit_peer_fd(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		xs_audit_peer(0, 0, 0);
	else
		xs_audit_peer(1, cred.uid, cred.pid);
}

static const char *exe(void)
{
	if (!au.exe[0]) {
		ssize_t n = readlink("/proc/self/exe", au.exe, sizeof(au.exe) - 1);
		if (n <= 0)
			snprintf(au.exe, sizeof(au.exe), "?");
		else
			au.exe[n] = 0;
	}
	return au.exe;
}

void xs_audit_subject(struct xs_audit_subj *s, const struct xsplice_payload *p)
{
	memset(s, 0, sizeof(*s));
	if (!p)
		return;
	if (p->id.len)
		xs_hex_id(p->id.b, p->id.len, s->build_id, sizeof(s->build_id));
	else
		snprintf(s->build_id, sizeof(s->build_id), "-");
	if (p->signer.is_signed)
		snprintf(s->signer, sizeof(s->signer), "%s(%s)", p->signer.keyid,
		         p->signer.trusted ? "trusted" : "untrusted");
	else if (p->signer.keyid[0])
		snprintf(s->signer, sizeof(s->signer), "%s(bad-signature)", p->signer.keyid);
	else
		snprintf(s->signer, sizeof(s->signer), "unsigned");
}

void xs_audit_note_upload(const struct xsplice_payload *p)
{
	xs_audit_subject(&au.last_upload, p);
}

void xs_audit_last_upload(struct xs_audit_subj *s)
{
	*s = au.last_upload;
	memset(&au.last_upload, 0, sizeof(au.last_upload));
}

/* msg quoted, with quotes, backslashes and control characters escaped */
static void quote(char *out, size_t cap, const char *msg)
{
	size_t n = 0;
	for (const unsigned char *c = (const unsigned char *)msg; *c && n + 5 < cap; c++) {
		if (*c == '"' || *c == '\\')
			n += (size_t)snprintf(out + n, cap - n, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			n += (size_t)snprintf(out + n, cap - n, "\\x%02x", *c);
		else
			out[n++] = (char)*c;
	}
	out[n] = 0;
}

static const char *result(int rc)
{
	return rc == 0 ? "done" : rc > 0 ? "no-action-needed" : "failed";
}

void xs_audit(const char *verb, const char *name, const struct xs_audit_subj *s, int rc,
              const char *msg, uint64_t pause_ns)
{
	char q[600], err[96] = "", who[64] = "uid=- pid=-";
	if (rc < 0) {
		const char *en = strerrorname_np(-rc);
		quote(q, sizeof(q), msg && msg[0] ? msg : strerror(-rc));
		snprintf(err, sizeof(err), " error=%s", en ? en : "?");
	}
	if (au.has_peer)
		snprintf(who, sizeof(who), "uid=%u pid=%d", (unsigned)au.uid, (int)au.pid);
	syslog(LOG_AUTHPRIV | (rc < 0 ? LOG_WARNING : LOG_NOTICE),
	       "xsplice-audit: %s payload=%s build-id=%s signer=%s result=%s%s%s%s%s pause_us=%lu "
	       "%s process=%d exe=%s",
	       verb, name && name[0] ? name : "-", s && s->build_id[0] ? s->build_id : "-",
	       s && s->signer[0] ? s->signer : "-", result(rc), err, rc < 0 ? " message=\"" : "",
	       rc < 0 ? q : "", rc < 0 ? "\"" : "", (unsigned long)(pause_ns / 1000), who,
	       (int)getpid(), exe());
}

void xs_audit_refused_peer(uid_t uid, pid_t pid, const char *why)
{
	char q[300];
	quote(q, sizeof(q), why);
	xs_server_lock();
	syslog(LOG_AUTHPRIV | LOG_WARNING,
	       "xsplice-audit: connect result=refused error=EPERM message=\"%s\" uid=%u pid=%d "
	       "process=%d exe=%s",
	       q, (unsigned)uid, (int)pid, (int)getpid(), exe());
	xs_server_unlock();
}
