/*
 * The control protocol between the agent (inside the target) and its
 * clients (libxsplicectl), over the agent's Unix stream socket.
 *
 * One request per connection, served one at a time:
 *
 *     client connects
 *     agent  -> greeting   reply frame: status 0 and "xsplice-agent VERSION",
 *                          or -EPERM and why (wrong uid), then closes
 *     client -> request    struct xs_req_hdr, name, payload, params
 *     agent  -> reply      struct xs_reply_hdr, message, body
 *     agent closes
 *
 * Both ends are on the same machine: integers are in host byte order.
 * Every length is checked against the XS_PROTO_*_MAX limits on both sides
 * before anything is allocated; a frame that fails a check ends the
 * connection (the agent never trusts a client, the client never trusts an
 * agent).
 */
#ifndef XS_COMMON_PROTO_H
#define XS_COMMON_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define XS_PROTO_MAGIC 0x4c505358u /* "XSPL" */
#define XS_PROTO_VERSION 1

#define XS_PROTO_NAME_MAX 127            /* payload name, bytes, no NUL */
#define XS_PROTO_PAYLOAD_MAX (64u << 20) /* = XSPLICE_MAX_PAYLOAD_SIZE */
#define XS_PROTO_PARAMS_MAX 65536u       /* "key=value\0..." */
#define XS_PROTO_MSG_MAX 4096u           /* reply message */
#define XS_PROTO_BODY_MAX (64u << 20)    /* reply body (reports) */

enum xs_op {
	XS_OP_UPLOAD = 1,
	XS_OP_APPLY,
	XS_OP_REVERT,
	XS_OP_REPLACE,
	XS_OP_UNLOAD,
	XS_OP_LIST,
	XS_OP_INFO,
	XS_OP_DUMP,
	XS_OP_HISTORY,
	XS_OP_COUNT
};

/* xs_req_hdr.flags */
enum {
	XS_PROTO_F_JSON = 1u << 0,   /* reports: JSON instead of text */
	XS_PROTO_F_NODEPS = 1u << 1, /* apply / replace: target build-id only */
};
#define XS_PROTO_F_KNOWN (XS_PROTO_F_JSON | XS_PROTO_F_NODEPS)

/* Followed by name_len + payload_len + params_len bytes, in that order. */
struct xs_req_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t op;                 /* enum xs_op */
	uint32_t flags;              /* XS_PROTO_F_* */
	uint32_t quiesce_timeout_ms; /* 0 = agent default */
	uint32_t deadline_ms;        /* 0 = agent default */
	uint32_t name_len;
	uint32_t payload_len; /* upload only */
	uint32_t params_len;  /* upload only: "key=value\0..." */
};

/* Followed by msg_len + body_len bytes. */
struct xs_reply_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t reserved; /* 0 */
	int32_t status;    /* 0, 1 (XS_NOOP: already in that state), -errno */
	uint32_t msg_len;  /* one line, no NUL */
	uint32_t body_len; /* report text or JSON */
};

_Static_assert(sizeof(struct xs_req_hdr) == 32, "request header layout");
_Static_assert(sizeof(struct xs_reply_hdr) == 20, "reply header layout");

/* Does the op need a payload name?  Reports do not. */
int xs_proto_op_has_name(unsigned op);
const char *xs_proto_op_name(unsigned op);

/*
 * Check a received header.  0, or a negative errno with a static reason in
 * *why ("bad magic", "name too long", ...).
 */
int xs_proto_check_req(const struct xs_req_hdr *h, const char **why);
int xs_proto_check_reply(const struct xs_reply_hdr *h, const char **why);
/* A name the agent accepts: 1..XS_PROTO_NAME_MAX printable bytes, no '/'. */
int xs_proto_check_name(const char *name, size_t len, const char **why);
/* Params: empty, or NUL-terminated "key=value" strings with a non-empty key. */
int xs_proto_check_params(const char *p, size_t len, const char **why);

/*
 * Whole-buffer I/O on a non-blocking socket, waiting with poll() at most
 * timeout_ms in total (< 0: no limit).  send() uses MSG_NOSIGNAL: a dead
 * peer never raises SIGPIPE in the target.  0, -EPIPE when the peer closed
 * early, -ETIMEDOUT, or another negative errno.
 */
int xs_io_read(int fd, void *buf, size_t n, int64_t deadline_ns);
int xs_io_write(int fd, const void *buf, size_t n, int64_t deadline_ns);
/* Monotonic clock in ns; deadline helpers for the above (-1 = none). */
int64_t xs_io_now_ns(void);
int64_t xs_io_deadline(int timeout_ms);

/*
 * Incremental request parser (the agent reads a request in pieces as they
 * arrive, several connections at a time).  Drive it with
 *
 *     size_t n; void *dst = xs_req_want(&p, &n);   // where the next bytes go
 *     ... read at most n bytes into dst ...
 *     rc = xs_req_got(&p, got);  // 0 need more, 1 complete, < 0 bad (p.why)
 *
 * The header is checked before anything is allocated; the name and params
 * once complete.  xs_req_free() releases what it allocated.
 */
struct xs_req_parser {
	struct xs_req_hdr h;
	int stage; /* 0 header, 1 name, 2 payload, 3 params, 4 complete */
	size_t got;
	char name[XS_PROTO_NAME_MAX + 1];
	char *payload; /* NUL-terminated (payload_len + 1 bytes) */
	char *params;  /* NUL-terminated (params_len + 1 bytes) */
	const char *why;
};
void *xs_req_want(struct xs_req_parser *p, size_t *n);
int xs_req_got(struct xs_req_parser *p, size_t n);
void xs_req_free(struct xs_req_parser *p);

/* Append a whole reply frame to b (check b->oom). */
struct xs_buf;
void xs_proto_frame(struct xs_buf *b, int status, const char *msg, const void *body,
                    size_t body_len);

#endif
