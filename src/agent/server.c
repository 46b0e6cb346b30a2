/*
 * The agent's control connections.  The control thread polls the listening
 * socket and every open connection (agent.c); this file keeps the table of
 * connections and moves each one along: check the peer, greet, read one
 * request in pieces as they arrive, hand it to the engine (one action at a
 * time, on the control thread), write the reply in pieces, close.  An idle
 * or slow client only holds its own slot until its deadline, counted from
 * accept; the others are served meanwhile.  Everything a client sends is
 * untrusted: headers are checked before any allocation (common/proto.c) and
 * any failure just ends that connection.
 */
#include "agent/server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/audit.h"
#include "agent/engine.h"
#include "common/buf.h"
#include "common/proto.h"

/* A client has this long, from accept, to send its whole request, and as
 * long again to read its reply. */
#define XS_SERVER_IO_MS 30000

struct conn {
	int used;
	int fd;
	int closing;      /* close once `out` is written */
	int64_t deadline; /* ns */
	struct xs_req_parser req;
	struct xs_buf out; /* greeting, then the reply */
	size_t sent;
};

static struct {
	pthread_mutex_t lock; /* the table; fork takes it (xs_server_atfork_*) */
	struct conn c[XS_SERVER_MAX_CONNS];
	int n; /* slots in use */
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Only the process's own uid, or root, may drive it. */
static int peer_allowed(int fd, struct xs_buf *out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[256];
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return 0;
	uid_t ruid = getuid(), euid = geteuid();
	/* in a privileged program (opted in), the invoking user is not enough */
	if (xs_agent_privileged())
		ruid = euid;
	if (cred.uid == 0 || cred.uid == ruid || cred.uid == euid)
		return 1;
	snprintf(msg, sizeof(msg), "uid %u may not control process %d (owner uid %u, or root)",
	         (unsigned)cred.uid, (int)getpid(), (unsigned)euid);
	xs_agent_diag("refused a control connection from pid %d: %s", (int)cred.pid, msg);
	xs_audit_refused_peer(cred.uid, cred.pid, msg);
	xs_proto_frame(out, -EPERM, msg, NULL, 0);
	return 0;
}

struct request {
	struct xs_req_hdr h;
	const char *name;
	char *payload;
	char *params;
};

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

/* Run the complete request of c on the engine and queue the reply. */
static void serve(struct conn *c)
{
	const struct xs_req_parser *r = &c->req;
	struct xs_buf body;
	struct xs_err err = {0};
	struct request q = {.h = r->h, .name = r->name, .payload = r->payload, .params = r->params};

	xs_buf_init(&body);
	xs_server_lock();
	xs_audit_peer_fd(c->fd);
	int rc = dispatch(&q, &body, &err);
	xs_audit_peer(0, 0, 0);
	xs_server_unlock();
	if (rc < 0 && !err.msg[0])
		snprintf(err.msg, sizeof(err.msg), "%s %s: %s", xs_proto_op_name(r->h.op), r->name,
		         strerror(-rc));
	xs_proto_frame(&c->out, rc, err.msg, body.data, rc ? 0 : body.len);
	if (c->out.oom) { /* a smaller answer may still fit */
		xs_buf_free(&c->out);
		xs_buf_init(&c->out);
		c->sent = 0;
		xs_proto_frame(&c->out, -ENOMEM, "out of memory for the reply", NULL, 0);
	}
	xs_buf_free(&body);
	c->closing = 1;
	c->deadline = xs_io_now_ns() + (int64_t)XS_SERVER_IO_MS * 1000000;
}

static void conn_close(struct conn *c)
{
	int fd = c->fd;
	pthread_mutex_lock(&srv.lock);
	c->used = 0;
	c->fd = -1;
	srv.n--;
	xs_req_free(&c->req);
	xs_buf_free(&c->out);
	pthread_mutex_unlock(&srv.lock);
	close(fd);
}

/* Read what the client sent; 0 or -1 when the connection is over. */
static int conn_read(struct conn *c)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		size_t want;
		void *dst = xs_req_want(&c->req, &want);
		if (!dst || !want)
			want = 0;
		char sink[64];
		if (c->req.stage >= 4 || c->closing) { /* nothing more is expected */
			dst = sink;
			want = sizeof(sink);
		}
		ssize_t r = recv(c->fd, dst, want, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		if (r == 0) /* the client went away (or shut down its side) */
			return c->closing ? 0 : -1;
		if (c->req.stage >= 4 || c->closing)
			continue;
		int rc = xs_req_got(&c->req, (size_t)r);
		if (rc < 0) {
			/* garbage: tell it if it still listens, then close */
			xs_proto_frame(&c->out, rc, c->req.why ? c->req.why : "bad request", NULL,
			               0);
			c->closing = 1;
			c->deadline = xs_io_now_ns() + 1000 * 1000000ll;
			return 0;
		}
		if (rc == 1) {
			serve(c);
			return 0;
		}
	}
	return 0;
}

/* Write what is queued; -1 when the connection is over. */
static int conn_write(struct conn *c)
{
	while (c->sent < c->out.len) {
		ssize_t w = send(c->fd, c->out.data + c->sent, c->out.len - c->sent,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		c->sent += (size_t)w;
	}
	return c->closing ? -1 : 0;
}

int xs_server_full(void)
{
	return srv.n >= XS_SERVER_MAX_CONNS;
}

void xs_server_add(int fd)
{
	struct conn *c = NULL;
	for (int i = 0; i < XS_SERVER_MAX_CONNS && !c; i++)
		if (!srv.c[i].used)
			c = &srv.c[i];
	if (!c) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&srv.lock);
	memset(c, 0, sizeof(*c));
	c->used = 1;
	c->fd = fd;
	xs_buf_init(&c->out);
	srv.n++;
	pthread_mutex_unlock(&srv.lock);
	c->deadline = xs_io_now_ns() + (int64_t)XS_SERVER_IO_MS * 1000000;
	if (!peer_allowed(fd, &c->out))
		c->closing = 1;
	else
		xs_proto_frame(&c->out, 0, "xsplice-agent " XSPLICE_VERSION, NULL, 0);
	if (conn_write(c) < 0 || c->out.oom)
		conn_close(c);
}

int xs_server_pollfds(struct pollfd *p, int max)
{
	int n = 0;
	for (int i = 0; i < XS_SERVER_MAX_CONNS && n < max; i++) {
		struct conn *c = &srv.c[i];
		if (!c->used)
			continue;
		p[n].fd = c->fd;
		p[n].events = POLLIN | (c->sent < c->out.len ? POLLOUT : 0);
		p[n].revents = 0;
		n++;
	}
	return n;
}

int xs_server_timeout_ms(void)
{
	int64_t first = -1, now = xs_io_now_ns();
	for (int i = 0; i < XS_SERVER_MAX_CONNS; i++)
		if (srv.c[i].used && (first < 0 || srv.c[i].deadline < first))
			first = srv.c[i].deadline;
	if (first < 0)
		return -1;
	return first <= now ? 0 : (int)((first - now + 999999) / 1000000);
}

static struct conn *by_fd(int fd)
{
	for (int i = 0; i < XS_SERVER_MAX_CONNS; i++)
		if (srv.c[i].used && srv.c[i].fd == fd)
			return &srv.c[i];
	return NULL;
}

void xs_server_events(const struct pollfd *p, int n)
{
	for (int i = 0; i < n; i++) {
		struct conn *c = by_fd(p[i].fd);
		if (!c)
			continue;
		int over = 0;
		if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
			over = conn_read(c) < 0;
		if (!over && c->sent < c->out.len)
			over = conn_write(c) < 0;
		else if (!over && c->closing && c->sent >= c->out.len)
			over = 1;
		if (over)
			conn_close(c);
	}
	/* deadlines: an idle or slow client loses its connection, nobody else */
	int64_t now = xs_io_now_ns();
	for (int i = 0; i < XS_SERVER_MAX_CONNS; i++)
		if (srv.c[i].used && srv.c[i].deadline <= now)
			conn_close(&srv.c[i]);
}

void xs_server_atfork_prepare(void)
{
	pthread_mutex_lock(&srv.lock);
}

void xs_server_atfork_parent(void)
{
	pthread_mutex_unlock(&srv.lock);
}

/* The parent's clients are not the child's: drop them. */
void xs_server_atfork_child(void)
{
	pthread_mutex_init(&srv.lock, NULL);
	for (int i = 0; i < XS_SERVER_MAX_CONNS; i++) {
		struct conn *c = &srv.c[i];
		if (!c->used)
			continue;
		close(c->fd);
		xs_req_free(&c->req);
		xs_buf_free(&c->out);
		c->used = 0;
		c->fd = -1;
	}
	srv.n = 0;
}
