/*
 * Serving one control connection: check the peer, greet, read one request,
 * hand it to the engine, reply.  Everything a client sends is untrusted:
 * headers are checked before any allocation, every read is bounded by a
 * deadline, and any failure just ends the connection.
 */
#include "agent/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/audit.h"
#include "agent/engine.h"
#include "common/buf.h"
#include "common/proto.h"

/* A client has this long to send its whole request, and to read a reply. */
#define XS_SERVER_IO_MS 30000

struct request {
	struct xs_req_hdr h;
	char name[XS_PROTO_NAME_MAX + 1];
	char *payload;
	char *params;
};

/* Only the process's own uid, or root, may drive it. */
static int peer_allowed(int fd, int64_t deadline)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[256];
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return 0;
	uid_t ruid = getuid(), euid = geteuid();
	xs_audit_peer(1, cred.uid, cred.pid);
	if (cred.uid == 0 || cred.uid == ruid || cred.uid == euid)
		return 1;
	snprintf(msg, sizeof(msg), "uid %u may not control process %d (owner uid %u, or root)",
	         (unsigned)cred.uid, (int)getpid(), (unsigned)euid);
	xs_agent_diag("refused a control connection from pid %d: %s", (int)cred.pid, msg);
	xs_audit_refused_peer(cred.uid, cred.pid, msg);
	xs_proto_send_reply(fd, -EPERM, msg, NULL, 0, deadline);
	return 0;
}

static int read_request(int fd, struct request *r, int64_t deadline, const char **why)
{
	int rc = xs_io_read(fd, &r->h, sizeof(r->h), deadline);
	if (rc)
		return rc;
	rc = xs_proto_check_req(&r->h, why);
	if (rc)
		return rc;
	rc = xs_io_read(fd, r->name, r->h.name_len, deadline);
	if (rc)
		return rc;
	r->name[r->h.name_len] = '\0';
	if (r->h.name_len && xs_proto_check_name(r->name, r->h.name_len, why))
		return -EINVAL;
	/* +1: the engine may treat either as a string */
	r->payload = malloc((size_t)r->h.payload_len + 1);
	r->params = malloc((size_t)r->h.params_len + 1);
	if (!r->payload || !r->params) {
		*why = "out of memory for the payload";
		return -ENOMEM;
	}
	rc = xs_io_read(fd, r->payload, r->h.payload_len, deadline);
	if (!rc)
		rc = xs_io_read(fd, r->params, r->h.params_len, deadline);
	if (rc)
		return rc;
	r->payload[r->h.payload_len] = r->params[r->h.params_len] = '\0';
	return xs_proto_check_params(r->params, r->h.params_len, why);
}

static enum xs_action op_action(unsigned op)
{
	switch (op) {
	case XS_OP_APPLY:
		return XS_ACT_APPLY;
	case XS_OP_REVERT:
		return XS_ACT_REVERT;
	case XS_OP_REPLACE:
		return XS_ACT_REPLACE;
	default:
		return XS_ACT_UNLOAD;
	}
}

static enum xs_report op_report(unsigned op)
{
	switch (op) {
	case XS_OP_INFO:
		return XS_REPORT_INFO;
	case XS_OP_DUMP:
		return XS_REPORT_DUMP;
	case XS_OP_HISTORY:
		return XS_REPORT_HISTORY;
	default:
		return XS_REPORT_LIST;
	}
}

/* Run the request on the engine; fills err and body. */
static int dispatch(const struct request *r, struct xs_buf *body, struct xs_err *err)
{
	const struct xs_req_hdr *h = &r->h;
	if (h->op == XS_OP_UPLOAD)
		return xs_engine_upload(r->name, r->payload, h->payload_len,
		                        h->params_len ? r->params : NULL, h->params_len, err);
	if (xs_proto_op_has_name(h->op)) {
		struct xs_action_opts o = {
		    .flags = (h->flags & XS_PROTO_F_NODEPS) ? XS_ACTION_NODEPS : 0,
		    .quiesce_timeout_ms = h->quiesce_timeout_ms,
		    .deadline_ms = h->deadline_ms,
		};
		return xs_engine_action(r->name, op_action(h->op), &o, err);
	}
	int rc = xs_engine_report(op_report(h->op), !!(h->flags & XS_PROTO_F_JSON), body);
	if (!rc && body->oom)
		rc = xs_err_set(err, -ENOMEM, "out of memory building the %s report",
		                xs_proto_op_name(h->op));
	if (!rc && body->len > XS_PROTO_BODY_MAX)
		rc = xs_err_set(err, -E2BIG, "the %s report is larger than %u bytes",
		                xs_proto_op_name(h->op), XS_PROTO_BODY_MAX);
	if (rc && !err->msg[0])
		xs_err_set(err, rc, "%s report failed: %s", xs_proto_op_name(h->op), strerror(-rc));
	return rc;
}

static void serve(int fd, int64_t deadline)
{
	struct request r = {0};
	struct xs_buf body;
	struct xs_err err = {0};
	const char *why = NULL;

	xs_buf_init(&body);
	int rc = read_request(fd, &r, deadline, &why);
	if (rc) {
		/* garbage or a client that went away: tell it if it still listens */
		if (why)
			xs_proto_send_reply(fd, rc, why, NULL, 0, xs_io_deadline(1000));
		goto out;
	}
	xs_server_lock();
	rc = dispatch(&r, &body, &err);
	xs_server_unlock();
	if (rc < 0 && !err.msg[0])
		snprintf(err.msg, sizeof(err.msg), "%s %s: %s", xs_proto_op_name(r.h.op), r.name,
		         strerror(-rc));
	xs_proto_send_reply(fd, rc, err.msg, body.data, rc ? 0 : body.len,
	                    xs_io_deadline(XS_SERVER_IO_MS));
out:
	xs_buf_free(&body);
	free(r.payload);
	free(r.params);
}

void xs_server_handle(int fd)
{
	int64_t deadline = xs_io_deadline(XS_SERVER_IO_MS);
	if (!peer_allowed(fd, deadline))
		return;
	if (xs_proto_send_reply(fd, 0, "xsplice-agent " XSPLICE_VERSION, NULL, 0, deadline))
		return;
	serve(fd, deadline);
}
