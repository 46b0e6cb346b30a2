/*
 * libxsplicectl: one connection per request to the agent's socket
 * (protocol in src/common/proto.h).  The handle keeps the socket path, the
 * last message and the last reply body.
 */
#include "ctl/ctl_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/proto.h"

#define DEFAULT_IO_MS 120000
#define ACTION_SLACK_MS 30000
/* A stopped process is told after this long when no timeout was given: the
 * agent's default action deadline (XSPLICE_DEADLINE_MS) */
#define DEFAULT_DUE_MS 3000
#define STATE_POLL_MS 100

struct xsctl {
	struct xs_loc loc;
	char path[4400]; /* for xsctl_socket_path() */
	char version[128];
	char msg[XS_PROTO_MSG_MAX + 1];
	char *body;
	size_t body_len;
	int io_ms;
	int io_ms_set;
	int connect_ms;
	int connect_ms_set;
};

/* What one request sends. */
struct req {
	unsigned op;
	uint32_t flags, quiesce_ms, deadline_ms;
	const char *name;
	const void *payload;
	size_t payload_len;
	const char *params;
	size_t params_len;
};

#define fail xs_ctl_fail
int xs_ctl_fail(xsctl *h, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->msg, sizeof(h->msg), fmt, ap);
	va_end(ap);
	return rc;
}

XSCTL_API xsctl *xsctl_new(void)
{
	return calloc(1, sizeof(struct xsctl));
}

XSCTL_API void xsctl_free(xsctl *h)
{
	if (h)
		free(h->body);
	free(h);
}

XSCTL_API void xsctl_set_io_timeout(xsctl *h, int ms)
{
	h->io_ms = ms;
	h->io_ms_set = 1;
}

XSCTL_API void xsctl_set_connect_timeout(xsctl *h, int ms)
{
	h->connect_ms = ms;
	h->connect_ms_set = 1;
}

XSCTL_API const char *xsctl_socket_path(const xsctl *h)
{
	return h->path;
}

XSCTL_API const char *xsctl_agent_version(const xsctl *h)
{
	return h->version;
}

XSCTL_API const char *xsctl_error(const xsctl *h)
{
	return h->msg;
}

XSCTL_API const char *xsctl_body(const xsctl *h, size_t *len)
{
	if (len)
		*len = h->body_len;
	return h->body ? h->body : "";
}

XSCTL_API const char *xsctl_strstatus(int status)
{
	if (status == XSCTL_OK)
		return "done";
	if (status == XSCTL_NOOP)
		return "no action needed";
	return strerror(-status);
}

XSCTL_API int xsctl_busy(int status)
{
	return status == -EBUSY || status == -EAGAIN;
}

XSCTL_API const char *xsctl_action_name(enum xsctl_action act)
{
	static const char *const names[] = {"?", "apply", "revert", "replace", "unload"};
	return act >= XSCTL_APPLY && act <= XSCTL_UNLOAD ? names[act] : names[0];
}

void xs_ctl_set_body(xsctl *h, char *body, size_t len)
{
	free(h->body);
	h->body = body;
	h->body_len = len;
}

/* ---- one exchange ------------------------------------------------------------ */

static int dial(xsctl *h, int64_t deadline)
{
	if (!h->loc.dir[0])
		return fail(h, -ENOTCONN, "not attached to a process");
	int fd = xs_ctl_dial(&h->loc, deadline, h->msg, sizeof(h->msg));
	/* a full backlog is worth a retry; the rest is an error */
	return fd == -ETIMEDOUT ? -EAGAIN : fd;
}

/* How long this handle waits, for messages. */
static int wait_ms(int64_t deadline, int64_t start)
{
	return deadline < 0 ? -1 : (int)((deadline - start) / 1000000);
}

static int io_fail(xsctl *h, int rc, const char *what, int ms, int sent)
{
	if (rc == -EPIPE || rc == -ECONNRESET)
		return fail(h, -EPIPE,
		            "the agent at %s closed the connection while %s "
		            "(did the process exit?)",
		            h->path, what);
	if (rc == -ETIMEDOUT) {
		pid_t pid = h->loc.pid;
		char st = pid ? xs_ctl_proc_state(pid) : 0;
		if ((st == 'T' || st == 't') && sent)
			return fail(h, -EAGAIN,
			            "process %d was stopped (state %c: SIGSTOP, a debugger, or "
			            "job control such as SIGTTIN/SIGTSTP) while its agent had the "
			            "request, so it cannot answer: the agent finishes or abandons "
			            "the request once the process runs again; resume it with `kill "
			            "-CONT %d` and see `xsplice -p %d list` before trying again",
			            (int)pid, st, (int)pid, (int)pid);
		if (st == 'T' || st == 't')
			return fail(h, -EAGAIN,
			            "process %d is stopped (state %c: SIGSTOP, a debugger, or "
			            "job control such as SIGTTIN/SIGTSTP), so its agent cannot "
			            "answer; resume it with `kill -CONT %d` and try again",
			            (int)pid, st, (int)pid);
		return fail(h, -EAGAIN,
		            "the agent at %s did not answer within %d ms while %s (the "
		            "process is busy or hung; try again, or with a longer --timeout)",
		            h->path, ms, what);
	}
	return fail(h, rc, "%s %s: %s", what, h->path, strerror(-rc));
}

static int stopped(const xsctl *h)
{
	char st = h->loc.pid ? xs_ctl_proc_state(h->loc.pid) : 0;
	return st == 'T' || st == 't';
}

/* When the client stops waiting for a message: at `due` if the process is
 * stopped then (it cannot answer; an agent that is working answers a little
 * after its deadline), else at `last`.  -1 is never. */
struct due {
	int64_t due, last;
};

/* Wait for the first byte of a message: 0, -ETIMEDOUT or -errno. */
static int await(const xsctl *h, int fd, struct due d)
{
	for (;;) {
		int64_t now = xs_io_now_ns();
		if (d.last >= 0 && now >= d.last)
			return -ETIMEDOUT;
		int64_t until = d.due < 0 || now < d.due ? d.due : now + STATE_POLL_MS * 1000000LL;
		if (d.last >= 0 && (until < 0 || until > d.last))
			until = d.last;
		int ms = until < 0 ? -1 : (int)((until - now + 999999) / 1000000);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, ms);
		if (n > 0)
			return 0; /* data, or an error the read reports */
		if (n < 0 && errno != EINTR)
			return -errno;
		if (d.due >= 0 && xs_io_now_ns() >= d.due && stopped(h))
			return -ETIMEDOUT;
	}
}

/* Read one reply frame; the message goes to h->msg, the body to h->body. */
static int read_reply(xsctl *h, int fd, struct due d, const char *what, int ms, int sent)
{
	struct xs_reply_hdr r;
	const char *why;
	int rc = await(h, fd, d);
	if (!rc)
		rc = xs_io_read(fd, &r, sizeof(r), d.last);
	if (rc)
		return io_fail(h, rc, what, ms, sent);
	if (xs_proto_check_reply(&r, &why))
		return fail(h, -EPROTO, "bad reply from the agent at %s: %s", h->path, why);
	char *body = malloc((size_t)r.body_len + 1);
	if (!body)
		return fail(h, -ENOMEM, "out of memory for a %u-byte reply", r.body_len);
	rc = xs_io_read(fd, h->msg, r.msg_len, d.last);
	if (!rc)
		rc = xs_io_read(fd, body, r.body_len, d.last);
	if (rc) {
		free(body);
		return io_fail(h, rc, what, ms, sent);
	}
	h->msg[r.msg_len] = '\0';
	body[r.body_len] = '\0';
	free(h->body);
	h->body = body;
	h->body_len = r.body_len;
	return r.status;
}

static int send_request(xsctl *h, int fd, const struct req *q, int64_t deadline, int ms)
{
	size_t nlen = q->name ? strlen(q->name) : 0;
	struct xs_req_hdr hd = {
	    .magic = XS_PROTO_MAGIC,
	    .version = XS_PROTO_VERSION,
	    .op = (uint16_t)q->op,
	    .flags = q->flags,
	    .quiesce_timeout_ms = q->quiesce_ms,
	    .deadline_ms = q->deadline_ms,
	    .name_len = (uint32_t)nlen,
	    .payload_len = (uint32_t)q->payload_len,
	    .params_len = (uint32_t)q->params_len,
	};
	int rc = xs_io_write(fd, &hd, sizeof(hd), deadline);
	if (!rc)
		rc = xs_io_write(fd, q->name, nlen, deadline);
	if (!rc)
		rc = xs_io_write(fd, q->payload, q->payload_len, deadline);
	if (!rc)
		rc = xs_io_write(fd, q->params, q->params_len, deadline);
	return rc ? io_fail(h, rc, "sending the request", ms, 0) : 0;
}

/* The reply's wait: with the handle's I/O timeout, that and no longer;
 * else a stopped process is told at the action's deadline (xsplice
 * --timeout; else the agent's default), and an agent still working is
 * given some slack after it. */
static struct due reply_due(const xsctl *h, const struct req *q)
{
	if (h->io_ms_set) {
		int64_t t = xs_io_deadline(h->io_ms);
		return (struct due){t, t};
	}
	int ms = q->deadline_ms ? (int)q->deadline_ms : DEFAULT_DUE_MS;
	return (struct due){xs_io_deadline(ms), xs_io_deadline(ms + ACTION_SLACK_MS)};
}

/* Connect and greeting: the handle's timeout, else the action's deadline
 * (xsplice --timeout), that and no longer; else a stopped process is told
 * after DEFAULT_DUE_MS and a running one waited for up to the default. */
static struct due greeting_due(const xsctl *h, const struct req *q)
{
	int64_t t = -2;
	if (h->connect_ms_set)
		t = xs_io_deadline(h->connect_ms);
	else if (h->io_ms_set)
		t = xs_io_deadline(h->io_ms);
	else if (q && q->deadline_ms)
		t = xs_io_deadline((int)q->deadline_ms);
	if (t != -2)
		return (struct due){t, t};
	return (struct due){xs_io_deadline(DEFAULT_DUE_MS), xs_io_deadline(DEFAULT_IO_MS)};
}

/* Connect, read the greeting, then (q != NULL) send q and read the reply. */
static int exchange(xsctl *h, const struct req *q)
{
	int64_t start = xs_io_now_ns();
	struct due g = greeting_due(h, q);
	h->msg[0] = '\0';
	h->body_len = 0;
	if (h->body)
		h->body[0] = '\0';
	int fd = dial(h, g.last);
	if (fd < 0)
		return fd;
	int rc = read_reply(h, fd, g, "waiting for its greeting", wait_ms(g.last, start), 0);
	if (rc < 0) {
		if (rc == -EPERM) {
			char why[sizeof(h->msg)];
			memcpy(why, h->msg, sizeof(why));
			fail(h, rc, "the agent at %s refused the connection: %.3000s", h->path,
			     why);
		}
		goto out;
	}
	size_t vlen = strnlen(h->msg, sizeof(h->version) - 1);
	memcpy(h->version, h->msg, vlen);
	h->version[vlen] = '\0';
	if (q) {
		struct due r = reply_due(h, q);
		int ms = wait_ms(r.last, start);
		h->msg[0] = '\0';
		rc = send_request(h, fd, q, r.last, ms);
		if (!rc)
			rc = read_reply(h, fd, r, "waiting for its reply", ms, 1);
	}
out:
	close(fd);
	if (rc < 0 && !h->msg[0])
		fail(h, rc, "%s", strerror(-rc));
	return rc;
}

/* ---- the API ------------------------------------------------------------------- */

static void set_path(xsctl *h)
{
	const struct xs_loc *l = &h->loc;
	if (l->proc_root)
		snprintf(h->path, sizeof(h->path), "/proc/%d/root%s/%s", (int)l->pid, l->dir,
		         l->name);
	else
		snprintf(h->path, sizeof(h->path), "%s/%s", l->dir, l->name);
}

XSCTL_API int xsctl_attach_path(xsctl *h, const char *socket_path)
{
	int rc = xs_ctl_loc_path(socket_path, &h->loc, h->msg, sizeof(h->msg));
	if (rc) {
		h->path[0] = h->loc.dir[0] = '\0';
		return rc;
	}
	set_path(h);
	return exchange(h, NULL);
}

/* Locate only: every connection authenticates the agent anyway (dial). */
int xs_ctl_target(xsctl *h, pid_t pid)
{
	int rc = xs_ctl_locate(pid, &h->loc, h->msg, sizeof(h->msg));
	if (rc) {
		h->path[0] = h->loc.dir[0] = '\0';
		return rc;
	}
	set_path(h);
	return 0;
}

XSCTL_API int xsctl_attach(xsctl *h, pid_t pid)
{
	int rc = xs_ctl_locate(pid, &h->loc, h->msg, sizeof(h->msg));
	if (rc) {
		h->path[0] = h->loc.dir[0] = '\0';
		return rc;
	}
	set_path(h);
	return exchange(h, NULL);
}

static int check_name(xsctl *h, const char *name)
{
	const char *why;
	if (!name)
		return fail(h, -EINVAL, "no payload name");
	if (xs_proto_check_name(name, strlen(name), &why))
		return fail(h, -EINVAL, "invalid payload name '%s': %s", name, why);
	return 0;
}

/* NULL-terminated "key=value" strings -> "key=value\0key=value\0" */
static int pack_params(xsctl *h, const char *const *params, char **out, size_t *len)
{
	size_t n = 0;
	const char *why;
	*out = NULL;
	*len = 0;
	for (size_t i = 0; params && params[i]; i++)
		n += strlen(params[i]) + 1;
	if (n == 0)
		return 0;
	if (n > XS_PROTO_PARAMS_MAX)
		return fail(h, -E2BIG, "parameters take %zu bytes, more than %u", n,
		            XS_PROTO_PARAMS_MAX);
	char *p = malloc(n);
	if (!p)
		return fail(h, -ENOMEM, "out of memory");
	for (size_t i = 0, off = 0; params[i]; i++) {
		size_t l = strlen(params[i]) + 1;
		memcpy(p + off, params[i], l);
		off += l;
	}
	if (xs_proto_check_params(p, n, &why)) {
		free(p);
		return fail(h, -EINVAL, "invalid parameters: %s (want key=value)", why);
	}
	*out = p;
	*len = n;
	return 0;
}

XSCTL_API int xsctl_upload(xsctl *h, const char *name, const void *bytes, size_t len,
                           const char *const *params)
{
	int rc = check_name(h, name);
	if (rc)
		return rc;
	if (len == 0 || len > XS_PROTO_PAYLOAD_MAX)
		return fail(h, -EFBIG, "payload %s has %zu bytes; want 1 to %u", name, len,
		            XS_PROTO_PAYLOAD_MAX);
	struct req q = {.op = XS_OP_UPLOAD, .name = name, .payload = bytes, .payload_len = len};
	char *packed;
	rc = pack_params(h, params, &packed, &q.params_len);
	if (rc)
		return rc;
	q.params = packed;
	rc = exchange(h, &q);
	free(packed);
	return rc;
}

XSCTL_API int xsctl_upload_file(xsctl *h, const char *name, const char *path,
                                const char *const *params)
{
	FILE *f = fopen(path, "rbe");
	if (!f)
		return fail(h, -errno, "cannot open %s: %s", path, strerror(errno));
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int rc = 0;
	while (buf && !rc) {
		len += fread(buf + len, 1, cap - len, f);
		if (ferror(f))
			rc = fail(h, -EIO, "cannot read %s: %s", path, strerror(errno));
		else if (len < cap)
			break;
		else if (cap > XS_PROTO_PAYLOAD_MAX)
			rc = fail(h, -EFBIG, "%s is larger than %u bytes", path,
			          XS_PROTO_PAYLOAD_MAX);
		else {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				free(buf);
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (!buf)
		return fail(h, -ENOMEM, "out of memory reading %s", path);
	if (!rc && len == 0)
		rc = fail(h, -EINVAL, "%s is empty", path);
	if (!rc)
		rc = xsctl_upload(h, name, buf, len, params);
	free(buf);
	return rc;
}

XSCTL_API int xsctl_action(xsctl *h, const char *name, enum xsctl_action act,
                           const struct xsctl_action_opts *opts)
{
	static const unsigned ops[] = {0, XS_OP_APPLY, XS_OP_REVERT, XS_OP_REPLACE, XS_OP_UNLOAD};
	int rc = check_name(h, name);
	if (rc)
		return rc;
	if (act < XSCTL_APPLY || act > XSCTL_UNLOAD)
		return fail(h, -EINVAL, "unknown action %d", (int)act);
	if (opts && (opts->flags & ~XSCTL_NODEPS))
		return fail(h, -EINVAL, "unknown action flags %#x", opts->flags);
	if (opts && (opts->deadline_ms > INT32_MAX / 2 || opts->quiesce_timeout_ms > INT32_MAX / 2))
		return fail(h, -EINVAL, "timeout out of range");
	struct req q = {.op = ops[act], .name = name};
	if (opts) {
		q.flags = (opts->flags & XSCTL_NODEPS) ? XS_PROTO_F_NODEPS : 0;
		q.quiesce_ms = opts->quiesce_timeout_ms;
		q.deadline_ms = opts->deadline_ms;
	}
	return exchange(h, &q);
}

XSCTL_API int xsctl_report(xsctl *h, enum xsctl_report what, int json)
{
	static const unsigned ops[] = {0, XS_OP_LIST, XS_OP_INFO, XS_OP_DUMP, XS_OP_HISTORY};
	if (what < XSCTL_LIST || what > XSCTL_HISTORY)
		return fail(h, -EINVAL, "unknown report %d", (int)what);
	struct req q = {.op = ops[what], .flags = json ? XS_PROTO_F_JSON : 0};
	return exchange(h, &q);
}
