/*
 * The payload state machine (engine.h): upload, apply, revert, replace,
 * unload.
 *
 * An action is a plan - payloads to revert (top of the stack first), a
 * payload to apply, or a payload to unload - carried out as:
 *
 *   checks (state, dependencies, LIFO, expectations)     control thread
 *   pre-apply / pre-revert hooks; a veto stops here      control thread
 *   attempts until the deadline:
 *       park every thread -> stack check -> switch ->     the window
 *       per-thread actions -> release
 *       (busy or a thread that does not park: release, back off, retry)
 *   post-apply / post-revert hooks with the result       control thread
 *
 * Inside the window a failure rolls back every step already taken, so the
 * process is exactly as before the action.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/audit.h"
#include "agent/engine_int.h"
#include "agent/history.h"
#include "agent/maps.h"
#include "agent/modules.h"
#include "agent/payload.h"
#include "agent/quiesce.h"
#include "agent/server.h"
#include "agent/shadow_internal.h"
#include "agent/sigpick.h"
#include "agent/signame.h"
#include "agent/stackcheck.h"
#include "agent/textpoke.h"
#include "agent/threadinfo.h"
#include "agent/unwind.h"

#define DEFAULT_DEADLINE_MS 3000
#define BACKOFF_MAX_MS 64

struct xs_engine_state xs_eng;

static struct {
	struct xs_maps maps;      /* for the stack check, sized outside the window */
	struct xs_sranges ranges; /* what the plan switches away from */
} win;

struct plan {
	enum xs_action act;
	struct xsplice_payload **revert; /* top of the stack first */
	unsigned nrevert;
	struct xsplice_payload *apply;
	struct xsplice_payload *unload;
	uint32_t flags;
	unsigned reverted; /* progress inside the window, for rollback */
};

/* ---- lookup ------------------------------------------------------------------ */

struct xsplice_payload *xs_payload_find(const char *name)
{
	for (struct xsplice_payload *p = xs_eng.head; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

struct xsplice_payload *xs_payload_top(void)
{
	struct xsplice_payload *top = NULL;
	for (struct xsplice_payload *p = xs_eng.head; p; p = p->next)
		if (p->state == XS_STATE_APPLIED && (!top || p->applied_seq > top->applied_seq))
			top = p;
	return top;
}

unsigned xs_payload_count_applied(void)
{
	unsigned n = 0;
	for (struct xsplice_payload *p = xs_eng.head; p; p = p->next)
		n += p->state == XS_STATE_APPLIED;
	return n;
}

static const char *state_name(enum xs_state s)
{
	return s == XS_STATE_APPLIED ? "APPLIED" : "CHECKED";
}

const char *xs_action_name(enum xs_action a)
{
	switch (a) {
	case XS_ACT_UNLOAD:
		return "unload";
	case XS_ACT_REVERT:
		return "revert";
	case XS_ACT_APPLY:
		return "apply";
	case XS_ACT_REPLACE:
		return "replace";
	}
	return "?";
}

/* ---- checks before anything runs --------------------------------------------- */

static int same_id(const struct xs_id *a, const uint8_t *b, unsigned len)
{
	return a->len == len && !memcmp(a->b, b, len);
}

/* The build-id chain: p must sit on the top of the applied stack (or on
 * the target when nothing is applied, or always in a replace). */
static int check_deps(const struct xsplice_payload *p, int replace, struct xs_err *err)
{
	char want[2 * XSPLICE_BUILD_ID_MAX + 1], have[2 * XSPLICE_BUILD_ID_MAX + 1];
	const struct xs_id *dep = p->depends.len ? &p->depends : &p->target;
	const struct xsplice_payload *top = replace ? NULL : xs_payload_top();
	const struct xs_id *on = top ? &top->id : &p->target;
	if (same_id(dep, on->b, on->len))
		return 0;
	xs_hex_id(dep->b, dep->len, want, sizeof(want));
	xs_hex_id(on->b, on->len, have, sizeof(have));
	if (top)
		return xs_err_set(err, -EINVAL,
		                  "payload %s depends on build-id %s, but the top of the applied "
		                  "stack is payload %s with build-id %s (use --nodeps to apply it "
		                  "independently)",
		                  p->name, want, top->name, have);
	return xs_err_set(err, -EINVAL,
	                  "payload %s depends on build-id %s, but %s: the target %s with "
	                  "build-id %s (use --nodeps to apply it independently)",
	                  p->name, want, replace ? "a replace puts it on" : "nothing is applied on",
	                  p->mod_path, have);
}

static int overlap(const struct xs_fstate *a, const struct xs_fstate *b)
{
	return a->site < b->site + b->len && b->site < a->site + a->len;
}

/* Revert is last-in-first-out per function, and a payload stays while one
 * applied on it through the build-id chain is there. */
static int check_lifo(const struct xsplice_payload *p, struct xs_err *err)
{
	for (const struct xsplice_payload *q = xs_eng.head; q; q = q->next)
		if (q != p && q->state == XS_STATE_APPLIED && !q->applied_nodeps &&
		    same_id(&q->depends, p->id.b, p->id.len))
			/* the stack order: waiting never changes it (not busy) */
			return xs_err_set(
			    err, -EINVAL,
			    "payload %s depends on %s (build-id chain): revert %s first", q->name,
			    p->name, q->name);
	for (unsigned i = 0; i < p->l.nfuncs; i++) {
		const struct xs_fstate *s = &p->fs[i];
		if (!s->written)
			continue;
		for (const struct xsplice_payload *q = xs_eng.head; q; q = q->next)
			for (unsigned j = 0; q != p && j < q->l.nfuncs; j++)
				if (q->fs[j].written && q->fs[j].stamp > s->stamp &&
				    overlap(s, &q->fs[j]))
					return xs_err_set(err, -EINVAL,
					                  "payload %s was applied after %s and "
					                  "also patches %s: revert %s first",
					                  q->name, p->name, xs_payload_fname(p, i),
					                  q->name);
	}
	return 0;
}

static int check_expectations(struct xsplice_payload *p, struct xs_err *err)
{
	for (unsigned i = 0; i < p->l.nfuncs; i++)
		if (xs_func_expect_ok(p, i, xs_wfail.found)) {
			xs_wfail.kind = XS_WF_EXPECT;
			xs_wfail.rc = -EINVAL;
			xs_wfail.p = p;
			xs_wfail.func = i;
			return xs_wfail_message(err);
		}
	return 0;
}

/* ---- pre and post hooks (outside the window) ------------------------------------ */

static int run_pre(struct xsplice_payload *p, enum xs_hook h, struct xs_err *err)
{
	for (unsigned k = 0; k < p->l.nhooks[h]; k++) {
		int rc = ((int (*)(struct xsplice_payload *))p->l.hooks[h][k])(p);
		if (rc)
			return xs_err_set(err, rc < 0 ? rc : -ECANCELED,
			                  "the pre-%s hook of payload %s refused: %s",
			                  h == XS_HOOK_PREAPPLY ? "apply" : "revert", p->name,
			                  strerror(rc < 0 ? -rc : ECANCELED));
	}
	return 0;
}

static void run_post(struct xsplice_payload *p, enum xs_hook h)
{
	for (unsigned k = 0; k < p->l.nhooks[h]; k++)
		((void (*)(struct xsplice_payload *))p->l.hooks[h][k])(p);
}

static void set_rc(struct plan *pl, int rc)
{
	for (unsigned i = 0; i < pl->nrevert; i++)
		pl->revert[i]->rc = rc;
	if (pl->apply)
		pl->apply->rc = rc;
}

/* Post hooks of every payload whose pre hooks ran (npre of the plan's
 * payloads, reverts first), seeing rc. */
static void post_hooks(struct plan *pl, unsigned npre, int rc)
{
	set_rc(pl, rc);
	for (unsigned i = 0; i < pl->nrevert && i < npre; i++)
		run_post(pl->revert[i], XS_HOOK_POSTREVERT);
	if (pl->apply && npre > pl->nrevert)
		run_post(pl->apply, XS_HOOK_POSTAPPLY);
}

/* Every pre hook of the plan; on a veto, the post hooks of the payloads
 * that agreed run (so they can undo what their pre hook prepared). */
static int pre_hooks(struct plan *pl, struct xs_err *err)
{
	unsigned n = 0;
	int rc = 0;
	set_rc(pl, -EAGAIN);
	for (; n < pl->nrevert && !rc; n++)
		rc = run_pre(pl->revert[n], XS_HOOK_PREREVERT, err);
	if (!rc && pl->apply) {
		rc = run_pre(pl->apply, XS_HOOK_PREAPPLY, err);
		n++;
	}
	if (rc)
		post_hooks(pl, n - 1, rc);
	return rc;
}

/* ---- what the window switches away from ------------------------------------------ */

/* The payload whose code currently runs for site s (written on top), if any. */
static const struct xsplice_payload *on_top(const struct xs_fstate *s, unsigned *fj)
{
	const struct xsplice_payload *best = NULL;
	uint64_t stamp = 0;
	for (const struct xsplice_payload *q = xs_eng.head; q; q = q->next)
		for (unsigned j = 0; j < q->l.nfuncs; j++)
			if (q->fs[j].written && overlap(s, &q->fs[j]) && q->fs[j].stamp > stamp) {
				best = q;
				stamp = q->fs[j].stamp;
				*fj = j;
			}
	return best;
}

/* What a revert switches away from: the payload's code, and the bytes it
 * wrote - a NOP patch is several instructions, and a thread between two of
 * them would resume in the middle of an original one. */
static int add_reverted(const struct xsplice_payload *p)
{
	int rc = xs_sranges_add(&win.ranges, p->l.text_start, p->l.text_end, "code", p->name);
	for (unsigned i = 0; i < p->l.nfuncs && !rc; i++)
		if (p->fs[i].written && p->fs[i].len > 1)
			rc = xs_sranges_add(&win.ranges, p->fs[i].site + 1,
			                    p->fs[i].site + p->fs[i].len, p->l.funcs[i].name, NULL);
	return rc;
}

static int build_ranges(const struct plan *pl)
{
	int rc = 0;
	xs_sranges_reset(&win.ranges);
	for (unsigned i = 0; i < pl->nrevert && !rc; i++)
		rc = add_reverted(pl->revert[i]);
	if (pl->unload && !rc)
		rc = add_reverted(pl->unload); /* CHECKED: nothing written */
	for (unsigned i = 0; pl->apply && i < pl->apply->l.nfuncs && !rc; i++) {
		const struct xs_func *f = &pl->apply->l.funcs[i];
		const struct xs_fstate *s = &pl->apply->fs[i];
		unsigned j = 0;
		const struct xsplice_payload *q = on_top(s, &j);
		/* a thread at the site itself (or before it, at endbr64) simply
		 * executes the new jump: only the bytes after it are unsafe -
		 * at least those the write replaces, whatever old_size the
		 * payload claims (an inline patch's room is its expectation) */
		uintptr_t end = f->old_addr + f->old_size;
		if (end < s->site + s->len)
			end = s->site + s->len;
		rc = xs_sranges_add(&win.ranges, s->site + 1, end, f->name, NULL);
		if (!rc && q && q->l.funcs[j].new_addr)
			rc = xs_sranges_add(&win.ranges, q->l.funcs[j].new_addr,
			                    q->l.funcs[j].new_addr + q->l.funcs[j].new_size,
			                    q->l.funcs[j].name, q->name);
	}
	xs_sranges_sort(&win.ranges);
	return rc;
}

/* Name the code at addr for a busy message: "parse_request" or
 * "parse_request (payload fix's replacement)" or "payload fix's code". */
static void describe_addr(const struct plan *pl, uintptr_t addr, char *out, size_t cap)
{
	for (const struct xsplice_payload *q = xs_eng.head; q; q = q->next) {
		for (unsigned i = 0; i < q->l.nfuncs; i++) {
			const struct xs_func *f = &q->l.funcs[i];
			if (f->new_addr && addr >= f->new_addr &&
			    addr < f->new_addr + f->new_size) {
				snprintf(out, cap, "%s (payload %s's replacement)", f->name,
				         q->name);
				return;
			}
		}
		if (addr >= q->l.text_start && addr < q->l.text_end) {
			snprintf(out, cap, "the code of payload %s", q->name);
			return;
		}
	}
	for (unsigned i = 0; pl->apply && i < pl->apply->l.nfuncs; i++) {
		const struct xs_func *f = &pl->apply->l.funcs[i];
		if (addr >= f->old_addr && addr < f->old_addr + f->old_size) {
			snprintf(out, cap, "%s", f->name);
			return;
		}
	}
	for (unsigned k = 0; k < pl->nrevert; k++)
		for (unsigned i = 0; i < pl->revert[k]->l.nfuncs; i++) {
			const struct xs_fstate *s = &pl->revert[k]->fs[i];
			if (s->written && addr > s->site && addr < s->site + s->len) {
				snprintf(out, cap, "%s (patched by payload %s)",
				         pl->revert[k]->l.funcs[i].name, pl->revert[k]->name);
				return;
			}
		}
	snprintf(out, cap, "code being switched");
}

/* ---- inside the window ----------------------------------------------------------- */

/* Undo the first `n` reverts of the plan (bottom of the stack first). */
static void undo_reverts(struct plan *pl, unsigned n)
{
	while (n-- > 0)
		if (xs_switch_apply(pl->revert[n])) {
			xs_wfail.kind = XS_WF_UNDO;
			xs_wfail.p = pl->revert[n];
		}
}

/* The switch itself; on failure everything is as before. */
static int do_switch(struct plan *pl)
{
	int rc = 0;
	unsigned i;
	for (i = 0; i < pl->nrevert && !rc; i++)
		rc = xs_switch_revert(pl->revert[i]);
	if (rc) {
		undo_reverts(pl, i - 1);
		return rc;
	}
	if (pl->apply) {
		rc = xs_switch_apply(pl->apply);
		if (rc)
			undo_reverts(pl, pl->nrevert);
	}
	return rc;
}

/* One attempt: 0 done (or failed for good: *final set), -EBUSY / -EAGAIN
 * to retry, with `why` describing the obstacle. */
struct attempt {
	int final;
	int rc;
	struct xs_qfail qf;
	struct xs_busy busy;
	int grow;
};

static void attempt(struct plan *pl, uint32_t timeout_ms, struct attempt *at)
{
	memset(at, 0, sizeof(*at));
	xs_quiesce_set_avoid(xs_sranges_hit, &win.ranges);
	xs_maps_hold(&win.maps);
	int rc = xs_quiesce_begin(timeout_ms, &at->qf);
	if (rc) {
		xs_maps_unhold(&win.maps);
		at->rc = rc;
		at->grow = at->qf.why == XS_QWHY_GROW;
		return;
	}
	xs_shadow_window_begin();
	rc = xs_stack_check(&win.ranges, &win.maps, &at->busy);
	if (rc) {
		at->grow = rc == -ENOSPC;
		at->rc = rc == -ENOSPC ? -EAGAIN : rc;
	} else if (pl->act != XS_ACT_UNLOAD) {
		memset(&xs_wfail, 0, sizeof(xs_wfail));
		xs_in_window = 1;
		at->rc = do_switch(pl);
		xs_text_sync();
		/* per-thread actions run on every thread at once: the switch
		 * (xsplice_func_apply / _revert) is not theirs to call */
		xs_in_window = 0;
		if (!at->rc && pl->apply && pl->apply->l.nhooks[XS_HOOK_PERTHREAD])
			xs_quiesce_perthread(pl->apply->l.hooks[XS_HOOK_PERTHREAD],
			                     pl->apply->l.nhooks[XS_HOOK_PERTHREAD]);
		at->final = 1;
	} else {
		at->final = 1;
	}
	xs_shadow_window_end();
	xs_quiesce_end();
	xs_maps_unhold(&win.maps);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The message for an attempt that could not be done. */
static int busy_message(const struct plan *pl, const struct attempt *at, unsigned tries,
                        uint64_t ms, struct xs_err *err)
{
	char what[256], name[64], why[320];
	if (at->qf.why == XS_QWHY_TIMEOUT) {
		/* the program may have taken the signal over meanwhile */
		int rc = xs_quiesce_check_handler(err);
		if (rc)
			return rc;
		xs_thread_describe(at->qf.tid, xs_quiesce_signal(), at->qf.in_handler,
		                   (unsigned long)(at->qf.waited_ns / 1000000u), why, sizeof(why));
		return xs_err_set(err, -EBUSY,
		                  "cannot pause the process: %s (%u of %u threads paused; %u "
		                  "attempts in %lu ms)",
		                  why, at->qf.nparked, at->qf.nthreads, tries, (unsigned long)ms);
	}
	if (at->qf.why == XS_QWHY_SIGNAL)
		return xs_err_set(err, -EAGAIN, "cannot signal thread %d: %s", at->qf.tid,
		                  strerror(at->qf.err));
	if (at->qf.why == XS_QWHY_INRANGE) {
		/* it kept running in the code about to change all attempt long */
		describe_addr(pl, at->qf.pc, what, sizeof(what));
		xs_thread_name(at->qf.tid, name, sizeof(name));
		return xs_err_set(err, -EBUSY,
		                  "%s is in use: thread %d (%s) is executing it at 0x%lx (%u "
		                  "attempts in %lu ms); try again later",
		                  what, at->qf.tid, name, (unsigned long)at->qf.pc, tries,
		                  (unsigned long)ms);
	}
	if (at->busy.tid) {
		describe_addr(pl, at->busy.addr, what, sizeof(what));
		xs_thread_name(at->busy.tid, name, sizeof(name));
		return xs_err_set(err, -EBUSY,
		                  "%s is in use: thread %d (%s) %s 0x%lx (%u attempts in %lu ms); "
		                  "try again later",
		                  what, at->busy.tid, name,
		                  at->busy.at_pc ? "is executing it at" : "will return into it at",
		                  (unsigned long)at->busy.addr, tries, (unsigned long)ms);
	}
	return xs_err_set(err, at->rc ? at->rc : -EAGAIN, "the process could not be paused: %s",
	                  strerror(at->rc ? -at->rc : EAGAIN));
}

/* A thread's outermost frame returns into the code: no retry can help. */
static int outermost_message(const struct plan *pl, const struct attempt *at, struct xs_err *err)
{
	char what[256], name[64];
	describe_addr(pl, at->busy.addr, what, sizeof(what));
	xs_thread_name(at->busy.tid, name, sizeof(name));
	return xs_err_set(err, -ENOTSUP,
	                  "%s is the outermost function of thread %d (%s) (main or a thread's "
	                  "start routine): it returns only when the thread ends, so it can "
	                  "never be switched while the thread runs; patch the functions it "
	                  "calls instead",
	                  what, at->busy.tid, name);
}

static int prepare_window(const struct plan *pl, struct xs_err *err)
{
	xs_stack_prepare();
	int rc = xs_quiesce_check_handler(err);
	if (!rc)
		rc = xs_quiesce_prepare(err);
	if (!rc)
		rc = xs_maps_prepare(&win.maps, err);
	if (!rc)
		rc = xs_unwind_prepare_engine(err); /* tables for the stack check */
	if (!rc && build_ranges(pl))
		rc = xs_err_set(err, -ENOMEM, "out of memory");
	return rc;
}

/* Attempts with backoff until done or the deadline. */
static int attempts(struct plan *pl, uint32_t timeout, uint32_t deadline, uint64_t *pause_ns,
                    struct xs_err *err)
{
	uint64_t start = now_ms();
	unsigned tries = 0, backoff = 1;
	struct attempt at;
	for (;;) {
		attempt(pl, timeout, &at);
		tries++;
		if (at.final) {
			*pause_ns = xs_quiesce_last_pause_ns();
			return at.rc ? xs_wfail_message(err) : 0;
		}
		if (at.busy.outermost)
			return outermost_message(pl, &at, err);
		if (at.grow) {
			int rc = prepare_window(pl, err);
			if (rc)
				return rc;
			continue;
		}
		uint64_t spent = now_ms() - start;
		if (spent + backoff >= deadline)
			return busy_message(pl, &at, tries, spent, err);
		/* a thread that was late (runnable, not run: the scheduler did
		 * not give it a CPU in time), or did not leave the code about
		 * to change in time, gets a longer attempt next time; one that
		 * blocks the signal or is stopped gains nothing */
		if (timeout < deadline / 4 &&
		    ((at.qf.why == XS_QWHY_TIMEOUT &&
		      (at.qf.in_handler || xs_task_state(at.qf.tid) == 'R')) ||
		     at.qf.why == XS_QWHY_INRANGE))
			timeout *= 2;
		/* between attempts nothing is half-switched: a fork() in the
		 * program waits for one attempt at most, not for all of them */
		xs_server_unlock();
		sleep_ms(backoff);
		xs_server_lock();
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}

/* The pages the window writes, copied before it (see xs_text_own). */
static void own_sites(const struct plan *pl)
{
	for (unsigned k = 0; k <= pl->nrevert; k++) {
		const struct xsplice_payload *p = k < pl->nrevert ? pl->revert[k] : pl->apply;
		for (unsigned i = 0; p && i < p->l.nfuncs; i++)
			xs_text_own(p->fs[i].site, p->fs[i].len);
	}
}

static int run_window(struct plan *pl, const struct xs_action_opts *o, uint64_t *pause_ns,
                      struct xs_err *err)
{
	uint32_t timeout = o && o->quiesce_timeout_ms ? o->quiesce_timeout_ms : xs_eng.timeout_ms;
	uint32_t deadline = o && o->deadline_ms ? o->deadline_ms : xs_eng.deadline_ms;
	int rc = prepare_window(pl, err);
	if (rc)
		return rc;
	xs_text_begin();
	own_sites(pl);
	rc = attempts(pl, timeout, deadline, pause_ns, err);
	xs_text_end();
	return rc;
}

/* ---- actions ------------------------------------------------------------------- */

static int run_plan(struct plan *pl, const struct xs_action_opts *o, uint64_t *pause_ns,
                    struct xs_err *err)
{
	int rc = pre_hooks(pl, err);
	if (rc)
		return rc;
	rc = run_window(pl, o, pause_ns, err);
	post_hooks(pl, pl->nrevert + 1, rc);
	return rc;
}

/* Every applied payload, top of the stack first (malloc'd). */
static int applied_stack(struct xsplice_payload ***out, unsigned *n)
{
	unsigned cnt = xs_payload_count_applied(), k = 0;
	struct xsplice_payload **v = calloc(cnt + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (struct xsplice_payload *p = xs_eng.head; p; p = p->next)
		if (p->state == XS_STATE_APPLIED)
			v[k++] = p;
	for (unsigned i = 1; i < k; i++) /* insertion sort, newest first */
		for (unsigned j = i; j > 0 && v[j]->applied_seq > v[j - 1]->applied_seq; j--) {
			struct xsplice_payload *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	*n = k;
	return 0;
}

/* 0 when p may be freed (see xs_sdk_unlink_wait). */
static int unlink_payload(struct xsplice_payload *p)
{
	struct xsplice_payload **pp = &xs_eng.head;
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		atomic_store((struct xsplice_payload * _Atomic *)pp, p->next);
	return xs_sdk_unlink_wait(); /* no payload code still walks over p */
}

/* A modinfo key set to "1"? */
static int modinfo_flag(const struct xsplice_payload *p, const char *key)
{
	size_t kl = strlen(key);
	for (const char *kv = p->modinfo; kv && kv < p->modinfo + p->modinfo_len;
	     kv += strlen(kv) + 1)
		if (!strncmp(kv, key, kl) && kv[kl] == '=' && !strcmp(kv + kl + 1, "1"))
			return 1;
	return 0;
}

static int do_unload(struct xsplice_payload *p, const struct xs_action_opts *o, uint64_t *pause,
                     struct xs_err *err)
{
	struct plan pl = {.act = XS_ACT_UNLOAD, .unload = p};
	if (p->state == XS_STATE_APPLIED)
		return xs_err_set(err, -EINVAL, "payload %s is applied: revert it before unloading",
		                  p->name);
	for (const struct xsplice_payload *q = xs_eng.head; q; q = q->next)
		for (unsigned i = 0; i < q->nuses; i++)
			if (q->uses[i] == p)
				return xs_err_set(err, -EINVAL,
				                  "payload %s links against symbols of %s: unload "
				                  "%s first",
				                  q->name, p->name, q->name);
	/* no thread may still run in the code (a return address from before
	 * the revert, a stub, a hook): check in a window */
	int rc = p->l.text_end > p->l.text_start ? run_window(&pl, o, pause, err) : 0;
	if (rc)
		return rc;
	long n = modinfo_flag(p, "shadow_free")
	             ? xs_shadow_free_owner(p->areas.base, p->areas.base + p->areas.total)
	             : xs_shadow_disown(p->areas.base, p->areas.base + p->areas.total);
	(void)n;
	if (!unlink_payload(p))
		xs_payload_destroy(p);
	return 0;
}

static int noop(struct xsplice_payload *p, struct xs_err *err)
{
	xs_err_set(err, 0, "no action needed: payload %s is already %s", p->name,
	           state_name(p->state));
	return XS_NOOP;
}

static int do_action(struct xsplice_payload *p, enum xs_action act, const struct xs_action_opts *o,
                     uint64_t *pause, struct xs_err *err)
{
	uint32_t flags = o ? o->flags : 0;
	struct plan pl = {.act = act, .flags = flags};
	int rc = 0;
	switch (act) {
	case XS_ACT_APPLY:
		if (p->state == XS_STATE_APPLIED)
			return noop(p, err);
		rc = (flags & XS_ACTION_NODEPS) ? 0 : check_deps(p, 0, err);
		if (!rc)
			rc = check_expectations(p, err);
		pl.apply = p;
		break;
	case XS_ACT_REVERT:
		if (p->state == XS_STATE_CHECKED)
			return noop(p, err);
		rc = check_lifo(p, err);
		pl.revert = &p;
		pl.nrevert = 1;
		break;
	case XS_ACT_REPLACE:
		if (p->state == XS_STATE_APPLIED && xs_payload_count_applied() == 1)
			return noop(p, err);
		rc = (flags & XS_ACTION_NODEPS) ? 0 : check_deps(p, 1, err);
		if (!rc && applied_stack(&pl.revert, &pl.nrevert))
			rc = xs_err_set(err, -ENOMEM, "out of memory");
		pl.apply = p;
		break;
	default:
		return xs_err_set(err, -EINVAL, "unknown action %d", (int)act);
	}
	if (!rc)
		rc = run_plan(&pl, o, pause, err);
	if (act == XS_ACT_REPLACE)
		free(pl.revert);
	return rc;
}

int xs_engine_action(const char *name, enum xs_action act, const struct xs_action_opts *opts,
                     struct xs_err *err)
{
	uint64_t pause = 0;
	int rc;
	struct xsplice_payload *p = xs_payload_find(name);
	struct xs_audit_subj subj;
	xs_audit_subject(&subj, p);
	if (err)
		memset(err, 0, sizeof(*err));
	if (!xs_eng.inited || !p) {
		rc = !xs_eng.inited
		         ? xs_err_set(err, -ENOSYS, "the agent's engine is not running")
		         : xs_err_set(err, -ENOENT,
		                      "no payload named %s is loaded (see xsplice list)", name);
		xs_audit(act == XS_ACT_UNLOAD ? "unload" : xs_action_name(act), name, &subj, rc,
		         err ? err->msg : "", 0);
		return rc;
	}
	if (act == XS_ACT_UNLOAD) {
		rc = do_unload(p, opts, &pause, err);
		xs_history_add("unload", name, rc, err ? err->msg : "", pause);
		xs_audit("unload", name, &subj, rc, err ? err->msg : "", pause);
		return rc;
	}
	rc = do_action(p, act, opts, &pause, err);
	if (rc == 0 && (act == XS_ACT_APPLY || act == XS_ACT_REPLACE))
		p->applied_nodeps = opts && (opts->flags & XS_ACTION_NODEPS);
	if (rc != XS_NOOP) {
		p->rc = rc < 0 ? rc : 0;
		p->last_act = act;
		snprintf(p->msg, sizeof(p->msg), "%s", rc && err ? err->msg : "");
	}
	xs_history_add(xs_action_name(act), name, rc, err ? err->msg : "", pause);
	xs_audit(xs_action_name(act), name, &subj, rc, err ? err->msg : "", pause);
	return rc;
}

int xs_engine_upload(const char *name, const void *bytes, size_t len, const char *params,
                     size_t params_len, struct xs_err *err)
{
	struct xsplice_payload *p = NULL;
	int rc;
	if (err)
		memset(err, 0, sizeof(*err));
	if (!xs_eng.inited)
		return xs_err_set(err, -ENOSYS, "the agent's engine is not running");
	if (xs_payload_find(name))
		rc = xs_err_set(err, -EEXIST, "a payload named %s is already loaded", name);
	else
		rc = xs_payload_create(name, bytes, len, params, params_len, &p, err);
	if (!rc) {
		/* append, published for payload code walking the list */
		struct xsplice_payload **pp = &xs_eng.head;
		while (*pp)
			pp = &(*pp)->next;
		atomic_store((struct xsplice_payload * _Atomic *)pp, p);
	}
	xs_history_add("upload", name, rc, err ? err->msg : "", 0);
	struct xs_audit_subj subj;
	xs_audit_last_upload(&subj);
	xs_audit("upload", name, &subj, rc, err ? err->msg : "", 0);
	return rc;
}

/* ---- life cycle ------------------------------------------------------------------ */

static uint32_t env_ms(const char *name, uint32_t def)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return def;
	unsigned long n = strtoul(v, &end, 10);
	return *end || n == 0 || n > 3600000 ? def : (uint32_t)n;
}

int xs_engine_init(struct xs_err *err)
{
	const char *sv = getenv("XSPLICE_SIGNAL");
	int sig = sv && *sv ? xs_signal_parse(sv)
	                    : xs_signal_pick_free(SIGRTMIN + XS_DEFAULT_SIGNAL_OFFSET);
	if (sig < SIGRTMIN || sig > SIGRTMAX)
		return xs_err_set(err, -EINVAL,
		                  "XSPLICE_SIGNAL=%s is not a real-time signal (use a number from "
		                  "%d to %d, or RTMIN+n / RTMAX-n)",
		                  sv, SIGRTMIN, SIGRTMAX);
	int rc = xs_quiesce_init(sig, err);
	if (!rc)
		rc = xs_text_init(err);
	if (!rc)
		rc = xs_quiesce_prepare(err);
	if (rc)
		return rc;
	xs_eng.timeout_ms = env_ms("XSPLICE_TIMEOUT_MS", XS_QUIESCE_DEFAULT_TIMEOUT_MS);
	xs_eng.deadline_ms = env_ms("XSPLICE_DEADLINE_MS", DEFAULT_DEADLINE_MS);
	xs_eng.inited = 1;
	return 0;
}

/* The child of fork(): the payloads and patches are its own copy; the
 * threads, the /proc/self/mem file and membarrier registration are not. */
void xs_engine_atfork_child(void)
{
	xs_quiesce_atfork_child();
	xs_text_atfork_child();
	xs_sdk_atfork_child();
	xs_in_window = 0;
}
