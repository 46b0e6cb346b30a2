/*
 * The agent's payload engine: the design's state machine inside a process.
 *
 *   upload  -> CHECKED (verified, target build-id matched, linked, ready)
 *   CHECKED -> apply   -> APPLIED
 *   APPLIED -> revert  -> CHECKED
 *   replace NAME: revert every applied payload and apply NAME, in one
 *                 quiesce window, all or nothing
 *   unload  (CHECKED only) frees the payload once no thread can run in it
 *
 * Called from the agent's control thread only (server.c serialises
 * requests); the engine is not reentrant.  Returns 0 when done,
 * XS_NOOP when the payload is already in the asked state, or a negative
 * errno with err filled: -EBUSY / -EAGAIN mean "busy, try again" (the
 * command exits 2), anything else is an error (exit 1).
 */
#ifndef XS_AGENT_ENGINE_H
#define XS_AGENT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "core/core.h"

#define XS_NOOP 1

enum xs_state { XS_STATE_CHECKED = 1, XS_STATE_APPLIED = 2 };
enum xs_action { XS_ACT_UNLOAD = 1, XS_ACT_REVERT = 2, XS_ACT_APPLY = 3, XS_ACT_REPLACE = 4 };

enum {
	XS_ACTION_NODEPS = 1u << 0, /* check only the target build-id */
};

struct xs_action_opts {
	uint32_t flags;              /* XS_ACTION_* */
	uint32_t quiesce_timeout_ms; /* per attempt; 0 = default (30) */
	uint32_t deadline_ms;        /* whole action incl. retries; 0 = default */
};

/* Called once from the agent's constructor (and again in a forked child by
 * xs_engine_atfork_child): installs the quiesce signal handler, opens
 * /proc/self/mem, registers membarrier.  0 or negative errno. */
int xs_engine_init(struct xs_err *err);
void xs_engine_atfork_child(void);

/* params: "key=value\0key=value\0" (may be NULL/0) */
int xs_engine_upload(const char *name, const void *bytes, size_t len, const char *params,
		     size_t params_len, struct xs_err *err);
int xs_engine_action(const char *name, enum xs_action act, const struct xs_action_opts *opts,
		     struct xs_err *err);

enum xs_report {
	XS_REPORT_LIST,    /* payloads: name, state, rc, ids, deps, metadata, params */
	XS_REPORT_INFO,    /* agent version, pid, executable, modules with build-ids */
	XS_REPORT_DUMP,    /* everything: funcs old -> new with sizes, hooks, shadows */
	XS_REPORT_HISTORY, /* bounded log of actions: what, when, result */
};
/* Append a human-readable text (json = 0) or a JSON document (json = 1). */
int xs_engine_report(enum xs_report what, int json, struct xs_buf *out);

#endif
