/*
 * Switching a payload on and off, inside the quiesce window.
 *
 * Every other thread is parked: nothing here allocates, formats or takes a
 * lock.  Each function's site gets its jump (or NOPs); the bytes it had are
 * saved first, so that revert puts back exactly what was there - the
 * original code, or the jump of a payload applied earlier (LIFO).
 *
 * Rollback: an apply or revert that fails half-way (an action hook that
 * returns an error, a write that fails) undoes what it did, in reverse
 * order, so that the payload is exactly as before.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/payload.h"
#include "agent/textpoke.h"

struct xs_wfail xs_wfail;
int xs_in_window;
/* The payload whose apply / revert routine (action hooks or the built-in
 * loop, and its rollback) runs now: the only one that may be switched.
 * Load / unload hooks run in the window too, but a switch from them would
 * escape the rollback, or follow a revert that already counted every byte
 * as back. */
static const struct xsplice_payload *switching;

static void fail(enum xs_wfail_kind kind, int rc, struct xsplice_payload *p, unsigned i)
{
	if (xs_wfail.kind != XS_WF_NONE && kind != XS_WF_UNDO)
		return; /* keep the first cause */
	xs_wfail.kind = kind;
	xs_wfail.rc = rc;
	xs_wfail.p = p;
	xs_wfail.func = i;
}

int xs_func_expect_ok(const struct xsplice_payload *p, unsigned i, uint8_t *found)
{
	const struct xs_func *f = &p->l.funcs[i];
	if (!f->expect_len)
		return 0;
	memcpy(found, (const void *)f->old_addr, f->expect_len);
	return memcmp(found, f->expect, f->expect_len) ? -EINVAL : 0;
}

int xs_func_write(struct xsplice_payload *p, unsigned i)
{
	struct xs_fstate *s = &p->fs[i];
	if (!xs_in_window || p != switching)
		return -EPERM;
	if (s->written) {
		s->applied = 1;
		return 0;
	}
	int rc = xs_func_expect_ok(p, i, xs_wfail.found);
	if (rc) {
		fail(XS_WF_EXPECT, rc, p, i);
		return rc;
	}
	memcpy(s->saved, (const void *)s->site, s->len);
	rc = xs_text_write(s->site, s->insn, s->len, s->prot);
	if (rc) {
		/* a partial write is undone by putting the saved bytes back */
		xs_text_write(s->site, s->saved, s->len, s->prot);
		fail(XS_WF_WRITE, rc, p, i);
		return rc;
	}
	s->written = 1;
	s->applied = 1;
	s->stamp = ++xs_eng.stamp;
	return 0;
}

int xs_func_unwrite(struct xsplice_payload *p, unsigned i)
{
	struct xs_fstate *s = &p->fs[i];
	if (!xs_in_window || p != switching)
		return -EPERM;
	if (!s->written) {
		s->applied = 0;
		return 0;
	}
	if (memcmp((const void *)s->site, s->insn, s->len)) {
		fail(XS_WF_NOTTOP, -EBUSY, p, i);
		return -EBUSY;
	}
	int rc = xs_text_write(s->site, s->saved, s->len, s->prot);
	if (rc) {
		fail(XS_WF_WRITE, rc, p, i);
		return rc;
	}
	s->written = 0;
	s->applied = 0;
	return 0;
}

static void snapshot(struct xsplice_payload *p)
{
	for (unsigned i = 0; i < p->l.nfuncs; i++) {
		p->fs[i].was_applied = p->fs[i].applied;
		p->fs[i].was_written = p->fs[i].written;
	}
}

/* Newest function written since the snapshot, or nfuncs. */
static unsigned newest_new_write(const struct xsplice_payload *p)
{
	unsigned best = p->l.nfuncs;
	for (unsigned i = 0; i < p->l.nfuncs; i++) {
		const struct xs_fstate *s = &p->fs[i];
		if (s->written && !s->was_written &&
		    (best == p->l.nfuncs || s->stamp > p->fs[best].stamp))
			best = i;
	}
	return best;
}

/* Back to the snapshot: undo new writes newest first, redo undone ones,
 * restore the marks.  0, or the first error (the state is then mixed). */
static int restore(struct xsplice_payload *p)
{
	int rc = 0;
	unsigned i;
	while ((i = newest_new_write(p)) < p->l.nfuncs) {
		int r = xs_func_unwrite(p, i);
		if (r) {
			fail(XS_WF_UNDO, r, p, i);
			rc = rc ? rc : r;
			p->fs[i].was_written = 1; /* leave it */
		}
	}
	for (i = 0; i < p->l.nfuncs; i++) {
		if (p->fs[i].was_written && !p->fs[i].written) {
			int r = xs_func_write(p, i);
			if (r) {
				fail(XS_WF_UNDO, r, p, i);
				rc = rc ? rc : r;
			}
		}
		p->fs[i].applied = p->fs[i].was_applied;
	}
	return rc;
}

static void run_void_hooks(struct xsplice_payload *p, enum xs_hook h)
{
	for (unsigned k = 0; k < p->l.nhooks[h]; k++)
		((void (*)(void))p->l.hooks[h][k])();
}

static int run_action_hooks(struct xsplice_payload *p, enum xs_hook h)
{
	for (unsigned k = 0; k < p->l.nhooks[h]; k++) {
		int rc = ((int (*)(struct xsplice_payload *))p->l.hooks[h][k])(p);
		if (rc) {
			/* a hook that fails with a positive value (C's "return 1")
			 * failed all the same: positive results are the engine's
			 * "no action needed", never a failure */
			rc = rc < 0 ? rc : -ECANCELED;
			fail(XS_WF_HOOK, rc, p, k);
			return rc;
		}
	}
	return 0;
}

int xs_switch_apply(struct xsplice_payload *p)
{
	int rc = 0;
	snapshot(p);
	run_void_hooks(p, XS_HOOK_LOAD);
	switching = p;
	if (p->l.nhooks[XS_HOOK_APPLY]) {
		rc = run_action_hooks(p, XS_HOOK_APPLY);
	} else {
		for (unsigned i = 0; i < p->l.nfuncs && !rc; i++)
			rc = xs_func_write(p, i);
	}
	if (rc)
		restore(p);
	switching = NULL;
	if (rc) {
		run_void_hooks(p, XS_HOOK_UNLOAD);
		return rc;
	}
	p->state = XS_STATE_APPLIED;
	p->applied_seq = ++xs_eng.stamp;
	return 0;
}

int xs_switch_revert(struct xsplice_payload *p)
{
	int rc = 0;
	snapshot(p);
	switching = p;
	if (p->l.nhooks[XS_HOOK_REVERT])
		rc = run_action_hooks(p, XS_HOOK_REVERT);
	/* whatever is still switched on goes back too: a CHECKED payload
	 * never has a jump into it */
	for (unsigned i = p->l.nfuncs; i-- > 0 && !rc;)
		if (p->fs[i].written || !p->l.nhooks[XS_HOOK_REVERT])
			rc = xs_func_unwrite(p, i);
	if (rc)
		restore(p);
	switching = NULL;
	if (rc)
		return rc;
	run_void_hooks(p, XS_HOOK_UNLOAD);
	p->state = XS_STATE_CHECKED;
	p->applied_seq = 0;
	return 0;
}

/* ---- after release -------------------------------------------------------- */

static void hex(char *out, size_t cap, const uint8_t *b, unsigned n)
{
	size_t o = 0;
	out[0] = 0;
	for (unsigned i = 0; i < n && o + 4 <= cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%02x", i ? " " : "", b[i]);
}

static const char *hook_kind(const struct xsplice_payload *p)
{
	return p->state == XS_STATE_APPLIED ? "revert" : "apply";
}

int xs_wfail_message(struct xs_err *err)
{
	struct xsplice_payload *p = xs_wfail.p;
	char want[3 * XSPLICE_EXPECT_MAX + 1], got[3 * XSPLICE_EXPECT_MAX + 1];
	int rc = xs_wfail.rc ? xs_wfail.rc : -EIO;
	const char *fn =
	    p && xs_wfail.func < p->l.nfuncs ? xs_payload_fname(p, xs_wfail.func) : "?";
	switch (xs_wfail.kind) {
	case XS_WF_EXPECT: {
		const struct xs_func *f = &p->l.funcs[xs_wfail.func];
		hex(want, sizeof(want), f->expect, f->expect_len);
		hex(got, sizeof(got), xs_wfail.found, f->expect_len);
		return xs_err_set(err, rc,
		                  "payload %s: function %s does not hold the expected bytes at "
		                  "0x%lx: expected %s, found %s",
		                  p->name, fn, (unsigned long)f->old_addr, want, got);
	}
	case XS_WF_WRITE:
		return xs_err_set(err, rc, "payload %s: writing the code of %s failed: %s", p->name,
		                  fn, strerror(-rc));
	case XS_WF_NOTTOP:
		return xs_err_set(err, rc,
		                  "payload %s: %s carries another payload's patch on top; revert "
		                  "that one first",
		                  p->name, fn);
	case XS_WF_HOOK:
		return xs_err_set(err, rc, "payload %s: the %s action hook failed: %s", p->name,
		                  hook_kind(p), strerror(-rc));
	case XS_WF_UNDO:
		return xs_err_set(err, rc,
		                  "payload %s: rolling back failed at %s (%s); the process may be "
		                  "partly patched: check `xsplice list`",
		                  p->name, fn, strerror(-rc));
	default:
		return xs_err_set(err, rc, "the switch failed: %s", strerror(-rc));
	}
}
