/*
 * The engine's payload object and its global list (engine-internal).
 *
 * `struct xsplice_payload` is the opaque handle of the SDK (patch.h): hooks
 * receive a pointer to it.  Payloads are created by upload, live in one
 * list in upload order, and are freed by unload.  Only the control thread
 * changes them; payload code reads its own parameters through sdkapi.c,
 * which is why the list is traversed under an epoch (see sdkapi.c).
 */
#ifndef XS_AGENT_PAYLOAD_H
#define XS_AGENT_PAYLOAD_H

#include <stdint.h>
#include <sys/types.h>

#include "agent/engine.h"
#include "agent/nearmem.h"
#include "agent/sigcheck.h"
#include "core/core.h"

/* Per-function switch state. */
struct xs_fstate {
	uintptr_t site;                    /* where the bytes go */
	uint8_t len;                       /* 5 for a jump, n for a NOP patch */
	uint8_t insn[XSPLICE_EXPECT_MAX];  /* the bytes to write */
	uint8_t saved[XSPLICE_EXPECT_MAX]; /* what they replaced (valid when written) */
	uint8_t applied;                   /* the mark hooks see (xsplice_func_applied) */
	uint8_t written;                   /* our bytes are in place */
	int prot;                          /* protection of the page (mprotect fallback) */
	uint64_t stamp;                    /* order of the write, for LIFO */
	uint8_t was_applied, was_written;  /* snapshot for rollback */
};

struct xs_id {
	uint8_t b[XSPLICE_BUILD_ID_MAX];
	unsigned len;
};

struct xsplice_payload {
	struct xsplice_payload *next;
	char name[XSPLICE_NAME_MAX];
	enum xs_state state;
	int rc;        /* last action's result (0 or negative errno) */
	char msg[512]; /* and its message */
	enum xs_action last_act;
	uint64_t applied_seq; /* position in the applied stack, 0 when not applied */
	int applied_nodeps;   /* applied with XS_ACTION_NODEPS (no chain) */

	struct xs_id id, target, depends; /* depends.len 0: the target itself */
	char *mod_path;                   /* the module the payload patches */
	uintptr_t mod_lo, mod_hi;
	char *modinfo; /* key=value\0... (copy) */
	size_t modinfo_len;
	char *params; /* key=value\0... (copy) */
	size_t params_len;

	struct xsplice_payload **uses; /* payloads whose symbols it linked against */
	unsigned nuses;
	struct xs_areas areas;
	struct xs_linked l;
	struct xs_fstate *fs; /* l.nfuncs entries */
	int eh_registered;
	int64_t uploaded;        /* CLOCK_REALTIME seconds */
	struct xs_signer signer; /* who signed it (sigcheck.c) */
	int perfmapped;          /* lines in /tmp/perf-PID.map (perfmap.c) */
	void *jit_entry;         /* registered with GDB's JIT interface (gdbjit.c) */
};

struct xs_engine_state {
	int inited;
	struct xsplice_payload *head;
	uint64_t stamp; /* last write / apply stamp handed out */
	uint32_t timeout_ms, deadline_ms;
};
extern struct xs_engine_state xs_eng;

struct xsplice_payload *xs_payload_find(const char *name);
/* The applied payload with the highest applied_seq, or NULL. */
struct xsplice_payload *xs_payload_top(void);
unsigned xs_payload_count_applied(void);

/* upload.c */
int xs_payload_create(const char *name, const void *bytes, size_t len, const char *params,
                      size_t params_len, struct xsplice_payload **out, struct xs_err *err);
void xs_payload_destroy(struct xsplice_payload *p);
/* Function name for messages: "parse_request" */
const char *xs_payload_fname(const struct xsplice_payload *p, unsigned i);

/*
 * switch.c: inside the window.  Nothing here allocates or formats: a
 * failure is recorded in xs_wfail and turned into a message after release.
 */
enum xs_wfail_kind {
	XS_WF_NONE,
	XS_WF_EXPECT, /* expectation mismatch: found[] holds the bytes */
	XS_WF_WRITE,  /* writing the code failed */
	XS_WF_NOTTOP, /* another payload's bytes are on top of this site */
	XS_WF_HOOK,   /* an apply / revert action hook failed */
	XS_WF_UNDO,   /* rolling back failed too: the state is mixed */
};
struct xs_wfail {
	enum xs_wfail_kind kind;
	int rc;
	struct xsplice_payload *p;
	unsigned func;
	uint8_t found[XSPLICE_EXPECT_MAX];
};
extern struct xs_wfail xs_wfail;
extern int xs_in_window;

/* Switch the payload on / off (load / unload hooks, action hooks or the
 * built-in routine); on failure the payload is exactly as before. */
int xs_switch_apply(struct xsplice_payload *p);
int xs_switch_revert(struct xsplice_payload *p);
/* The built-in per-function switch (also the SDK's xsplice_func_*). */
int xs_func_write(struct xsplice_payload *p, unsigned i);
int xs_func_unwrite(struct xsplice_payload *p, unsigned i);
/* Expectation of function i against memory: 0 or -EINVAL (found[] filled). */
int xs_func_expect_ok(const struct xsplice_payload *p, unsigned i, uint8_t *found);
/* Outside the window: the message for xs_wfail. */
int xs_wfail_message(struct xs_err *err);

/* sdkapi.c: payload code walks the list under an epoch; after unlinking a
 * payload, wait until no walker can still see it (0), or give up (-1: the
 * payload must then not be freed). */
int xs_sdk_unlink_wait(void);
void xs_sdk_atfork_child(void);

#endif
