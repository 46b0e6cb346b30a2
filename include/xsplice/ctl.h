/*
 * libxsplicectl — drive the xsplice agent of a running process.
 *
 *     xsctl *h = xsctl_new();
 *     if (xsctl_attach(h, pid) < 0 ||
 *         xsctl_upload_file(h, "fix1", "fix1.xsplice", NULL) < 0 ||
 *         xsctl_action(h, "fix1", XSCTL_APPLY, NULL) < 0)
 *             fprintf(stderr, "%s\n", xsctl_error(h));
 *     xsctl_free(h);
 *
 * Every call returns a status: XSCTL_OK (0), XSCTL_NOOP (1: the payload is
 * already in the asked state, nothing done) or a negative errno; -EBUSY and
 * -EAGAIN mean "busy, try again" (xsctl_busy()).  After any call,
 * xsctl_error() is the agent's (or the library's) message for it.
 *
 * A handle is not thread-safe; use one per thread.  Each request opens its
 * own connection to the agent's socket, $XSPLICE_DIR/<pid>.sock (see
 * xsplice(1) for where that is).  Link with -lxsplicectl.
 */
#ifndef XSPLICE_CTL_H
#define XSPLICE_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XSCTL_API __attribute__((visibility("default")))

#define XSCTL_OK 0
#define XSCTL_NOOP 1

typedef struct xsctl xsctl;

/* ---- session ------------------------------------------------------------- */

/* NULL only when out of memory. */
XSCTL_API xsctl *xsctl_new(void);
XSCTL_API void xsctl_free(xsctl *h);

/*
 * Find the agent of process `pid` and check that it answers.  The socket
 * is looked for in $XSPLICE_DIR (of this process), then in the target's
 * XSPLICE_DIR and XDG_RUNTIME_DIR (from /proc/PID/environ, when readable),
 * then in the default directories of the target's uid.
 */
XSCTL_API int xsctl_attach(xsctl *h, pid_t pid);
/* Use this socket path instead of looking for one, then check it answers. */
XSCTL_API int xsctl_attach_path(xsctl *h, const char *socket_path);
/* Only locate the socket of `pid` (no connection): 0 and the path in out. */
XSCTL_API int xsctl_locate(pid_t pid, char *out, size_t n);
XSCTL_API const char *xsctl_socket_path(const xsctl *h);
/* "xsplice-agent 0.1.0", as the agent introduced itself. */
XSCTL_API const char *xsctl_agent_version(const xsctl *h);

/* Client-side limit on each request's I/O, in ms (default: a stopped
 * process is reported at the action's deadline, else after 3 s; a running
 * agent is waited for up to 30 s after it; < 0 waits forever). */
XSCTL_API void xsctl_set_io_timeout(xsctl *h, int ms);
/* Limit on connecting and on the agent's greeting, in ms (default: the I/O
 * timeout).  A stopped or hung process is reported (-EAGAIN) within it. */
XSCTL_API void xsctl_set_connect_timeout(xsctl *h, int ms);

/* ---- payloads -------------------------------------------------------------- */

/*
 * Upload a payload under `name`: the agent verifies, checks the target
 * build-id and links it (state CHECKED).  params: NULL, or a NULL-terminated
 * array of "key=value" strings that payload code reads through the SDK.
 */
XSCTL_API int xsctl_upload(xsctl *h, const char *name, const void *bytes, size_t len,
                           const char *const *params);
XSCTL_API int xsctl_upload_file(xsctl *h, const char *name, const char *path,
                                const char *const *params);

enum xsctl_action { XSCTL_APPLY = 1, XSCTL_REVERT, XSCTL_REPLACE, XSCTL_UNLOAD };

#define XSCTL_NODEPS (1u << 0) /* apply: check only the target build-id */

struct xsctl_action_opts {
	uint32_t flags;              /* XSCTL_NODEPS */
	uint32_t quiesce_timeout_ms; /* per attempt to park every thread; 0 = agent default */
	uint32_t deadline_ms;        /* whole action with its retries; 0 = agent default */
};

/* opts may be NULL (defaults). */
XSCTL_API int xsctl_action(xsctl *h, const char *name, enum xsctl_action act,
                           const struct xsctl_action_opts *opts);
XSCTL_API const char *xsctl_action_name(enum xsctl_action act);

/* ---- reports ----------------------------------------------------------------- */

enum xsctl_report {
	XSCTL_LIST = 1, /* payloads: state, build-ids, dependencies, metadata, params */
	XSCTL_INFO,     /* agent version, process, modules with build-ids */
	XSCTL_DUMP,     /* everything the agent knows */
	XSCTL_HISTORY,  /* the bounded log of actions */
};

/* Fetch a report as text (json = 0) or a JSON document (json = 1); the
 * bytes are in xsctl_body() until the next call on h. */
XSCTL_API int xsctl_report(xsctl *h, enum xsctl_report what, int json);
/* The body of the last reply (NUL-terminated; "" when none). */
XSCTL_API const char *xsctl_body(const xsctl *h, size_t *len);

/* ---- the patch store and the fleet ------------------------------------------ */

/*
 * The patch store: a directory of payloads to keep applied ($XSPLICE_STORE,
 * by default /var/lib/xsplice/payloads for root, else
 * $XDG_DATA_HOME/xsplice/payloads or ~/.local/share/xsplice/payloads).
 * A payload from the store is uploaded into a process as "store:NAME".
 */
XSCTL_API int xsctl_store_dir(char *out, size_t n);
/* Verify FILE and store it as NAME (NULL: FILE's base name without its
 * extension).  -EEXIST when NAME holds another payload; XSCTL_NOOP when it
 * holds this one. */
XSCTL_API int xsctl_store_add(xsctl *h, const char *file, const char *name);
XSCTL_API int xsctl_store_remove(xsctl *h, const char *name);
/* The store in dependency order, as text or JSON, in xsctl_body(). */
XSCTL_API int xsctl_store_list(xsctl *h, int json);

#define XSCTL_SYNC_JSON (1u << 0)    /* the summary as JSON */
#define XSCTL_SYNC_DRY_RUN (1u << 1) /* say what would change, change nothing */

struct xsctl_sync_opts {
	const pid_t *pids; /* these processes (npids of them), else */
	size_t npids;
	const char *exe;                 /* every agent process running this file, else all */
	uint32_t flags;                  /* XSCTL_SYNC_* */
	struct xsctl_action_opts action; /* for every apply and revert */
	unsigned workers;                /* processes handled at once; 0 = default */
};

/*
 * Bring processes to the store's state: every stored payload whose target
 * build-id is a module of the process is uploaded and applied (dependency
 * order); every "store:NAME" payload whose NAME left the store (or now
 * holds another build) is reverted and unloaded.  Processes are handled in
 * parallel; the summary (text or JSON) is in xsctl_body().  Returns
 * XSCTL_OK (something changed, all in state), XSCTL_NOOP (nothing to do),
 * -EBUSY (some process was only busy) or another negative errno (some
 * process failed).  "All" means the agents in $XSPLICE_DIR when it is set,
 * else every process that carries the agent.
 */
XSCTL_API int xsctl_sync(xsctl *h, const struct xsctl_sync_opts *o);
/* Per process: executable, applied payloads, stored payloads it lacks. */
XSCTL_API int xsctl_status(xsctl *h, const struct xsctl_sync_opts *o);

/* ---- errors ------------------------------------------------------------------ */

/* The message of the last call ("" when it said nothing). */
XSCTL_API const char *xsctl_error(const xsctl *h);
/* Like strerror, plus XSCTL_NOOP. */
XSCTL_API const char *xsctl_strstatus(int status);
/* 1 for "busy, try again" statuses (-EBUSY, -EAGAIN). */
XSCTL_API int xsctl_busy(int status);

#ifdef __cplusplus
}
#endif
#endif /* XSPLICE_CTL_H */
