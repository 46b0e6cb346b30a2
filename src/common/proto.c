/* The control protocol: header checks and deadline-bounded socket I/O. */
#include "common/proto.h"

#include "common/buf.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *const op_names[XS_OP_COUNT] = {
    [XS_OP_UPLOAD] = "upload",   [XS_OP_APPLY] = "apply",   [XS_OP_REVERT] = "revert",
    [XS_OP_REPLACE] = "replace", [XS_OP_UNLOAD] = "unload", [XS_OP_LIST] = "list",
    [XS_OP_INFO] = "info",       [XS_OP_DUMP] = "dump",     [XS_OP_HISTORY] = "history",
};

const char *xs_proto_op_name(unsigned op)
{
	return op > 0 && op < XS_OP_COUNT ? op_names[op] : "?";
}

int xs_proto_op_has_name(unsigned op)
{
	return op >= XS_OP_UPLOAD && op <= XS_OP_UNLOAD;
}

int xs_proto_check_req(const struct xs_req_hdr *h, const char **why)
{
	*why = NULL;
	if (h->magic != XS_PROTO_MAGIC)
		*why = "bad magic (not an xsplice client)";
	else if (h->version != XS_PROTO_VERSION)
		*why = "unsupported protocol version";
	else if (h->op == 0 || h->op >= XS_OP_COUNT)
		*why = "unknown operation";
	else if (h->flags & ~XS_PROTO_F_KNOWN)
		*why = "unknown flags";
	else if (xs_proto_op_has_name(h->op) ? (h->name_len == 0 || h->name_len > XS_PROTO_NAME_MAX)
	                                     : h->name_len != 0)
		*why = "bad name length";
	else if (h->op != XS_OP_UPLOAD && (h->payload_len || h->params_len))
		*why = "payload bytes on an operation that takes none";
	else if (h->op == XS_OP_UPLOAD && h->payload_len == 0)
		*why = "empty payload";
	else if (h->payload_len > XS_PROTO_PAYLOAD_MAX)
		*why = "payload too large";
	else if (h->params_len > XS_PROTO_PARAMS_MAX)
		*why = "parameters too large";
	return *why ? -EPROTO : 0;
}

int xs_proto_check_reply(const struct xs_reply_hdr *h, const char **why)
{
	*why = NULL;
	if (h->magic != XS_PROTO_MAGIC)
		*why = "bad magic (not an xsplice agent)";
	else if (h->version != XS_PROTO_VERSION)
		*why = "unsupported protocol version";
	else if (h->status > 1 || h->status < -4095)
		*why = "status out of range";
	else if (h->msg_len > XS_PROTO_MSG_MAX)
		*why = "message too long";
	else if (h->body_len > XS_PROTO_BODY_MAX)
		*why = "body too large";
	return *why ? -EPROTO : 0;
}

int xs_proto_check_name(const char *name, size_t len, const char **why)
{
	*why = NULL;
	if (len == 0)
		*why = "the name is empty";
	else if (len > XS_PROTO_NAME_MAX)
		*why = "the name is longer than 127 bytes";
	for (size_t i = 0; i < len && !*why; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c == 0x7f || c == '/')
			*why = "the name holds a space, a control character or '/'";
	}
	return *why ? -EINVAL : 0;
}

int xs_proto_check_params(const char *p, size_t len, const char **why)
{
	*why = NULL;
	if (len == 0)
		return 0;
	if (len > XS_PROTO_PARAMS_MAX)
		*why = "parameters too large";
	else if (p[len - 1] != '\0')
		*why = "parameters not NUL-terminated";
	for (size_t i = 0; i < len && !*why;) {
		size_t n = strlen(p + i);
		const char *eq = memchr(p + i, '=', n);
		if (!eq || eq == p + i)
			*why = "a parameter is not key=value";
		i += n + 1;
	}
	return *why ? -EINVAL : 0;
}

int64_t xs_io_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t xs_io_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : xs_io_now_ns() + (int64_t)timeout_ms * 1000000;
}

/* Wait for `events` on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int io_wait(int fd, short events, int64_t deadline_ns)
{
	for (;;) {
		int ms = -1;
		if (deadline_ns >= 0) {
			int64_t left = deadline_ns - xs_io_now_ns();
			if (left <= 0)
				return -ETIMEDOUT;
			ms = (int)((left + 999999) / 1000000);
		}
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, ms);
		if (n > 0)
			return 0; /* readable, writable, or an error the next call reports */
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int xs_io_read(int fd, void *buf, size_t n, int64_t deadline_ns)
{
	char *p = buf;
	while (n) {
		ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int rc = io_wait(fd, POLLIN, deadline_ns);
		if (rc)
			return rc;
	}
	return 0;
}

int xs_io_write(int fd, const void *buf, size_t n, int64_t deadline_ns)
{
	const char *p = buf;
	while (n) {
		ssize_t r = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int rc = io_wait(fd, POLLOUT, deadline_ns);
		if (rc)
			return rc;
	}
	return 0;
}

void xs_proto_frame(struct xs_buf *b, int status, const char *msg, const void *body,
                    size_t body_len)
{
	size_t mlen = msg ? strnlen(msg, XS_PROTO_MSG_MAX) : 0;
	if (body_len > XS_PROTO_BODY_MAX)
		body_len = 0; /* never send what the client must refuse */
	struct xs_reply_hdr h = {
	    .magic = XS_PROTO_MAGIC,
	    .version = XS_PROTO_VERSION,
	    .status = status,
	    .msg_len = (uint32_t)mlen,
	    .body_len = (uint32_t)body_len,
	};
	xs_buf_append(b, &h, sizeof(h));
	xs_buf_append(b, msg, mlen);
	xs_buf_append(b, body, body_len);
}

/* ---- incremental request parser ---------------------------------------------- */

static size_t stage_len(const struct xs_req_parser *p)
{
	switch (p->stage) {
	case 0:
		return sizeof(p->h);
	case 1:
		return p->h.name_len;
	case 2:
		return p->h.payload_len;
	case 3:
		return p->h.params_len;
	default:
		return 0;
	}
}

static char *stage_buf(struct xs_req_parser *p)
{
	switch (p->stage) {
	case 0:
		return (char *)&p->h;
	case 1:
		return p->name;
	case 2:
		return p->payload;
	case 3:
		return p->params;
	default:
		return NULL;
	}
}

void *xs_req_want(struct xs_req_parser *p, size_t *n)
{
	*n = stage_len(p) - p->got;
	return p->stage < 4 ? stage_buf(p) + p->got : NULL;
}

/* The stage is complete: check it, move on (skipping empty stages). */
static int stage_done(struct xs_req_parser *p)
{
	if (p->stage == 0) {
		if (xs_proto_check_req(&p->h, &p->why))
			return -EPROTO;
		/* +1: the engine may treat either as a string */
		p->payload = malloc((size_t)p->h.payload_len + 1);
		p->params = malloc((size_t)p->h.params_len + 1);
		if (!p->payload || !p->params) {
			p->why = "out of memory for the payload";
			return -ENOMEM;
		}
	} else if (p->stage == 1) {
		p->name[p->h.name_len] = '\0';
		if (p->h.name_len && xs_proto_check_name(p->name, p->h.name_len, &p->why))
			return -EINVAL;
	} else if (p->stage == 3) {
		p->payload[p->h.payload_len] = p->params[p->h.params_len] = '\0';
		if (xs_proto_check_params(p->params, p->h.params_len, &p->why))
			return -EINVAL;
	}
	p->stage++;
	p->got = 0;
	return 0;
}

int xs_req_got(struct xs_req_parser *p, size_t n)
{
	if (p->stage >= 4)
		return 1;
	p->got += n;
	while (p->stage < 4 && p->got == stage_len(p)) {
		int rc = stage_done(p);
		if (rc)
			return rc;
	}
	return p->stage == 4;
}

void xs_req_free(struct xs_req_parser *p)
{
	free(p->payload);
	free(p->params);
	p->payload = p->params = NULL;
}
