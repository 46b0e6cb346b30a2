/*
 * sync and status: the patch store against the processes of this machine.
 *
 * The store is read and verified once; each process is then handled by one
 * of a few worker threads, each with its own handle and connections:
 * INFO (its modules' build-ids) and LIST (its payloads), a plan, then the
 * uploads and actions.  The agents do the work in their own processes, so
 * the processes proceed in parallel; one busy or failing process never
 * stops the others.
 *
 * Ownership: a payload from the store is uploaded as "store:NAME"
 * (XS_STORE_PREFIX).  Only those are ever reverted or unloaded by sync; a
 * payload loaded by hand is left alone (and counts as present when it has
 * the stored payload's build-id).
 */
#include "ctl/store_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/proto.h"
#include "common/sockdir.h"
#include "ctl/json.h"

/* The agents do the work on the machine's CPUs: a couple of connections in
 * flight per CPU keeps them busy (measured: on 2 CPUs, 50 processes take
 * the same time with 2 to 32 workers, 2.5x as long with 1). */
#define MIN_WORKERS 4
#define MAX_WORKERS 64

struct names {
	char **v;
	size_t n;
};

struct loaded {
	char name[XS_PROTO_NAME_MAX + 1];
	char id[XS_HEXID_MAX];
	int applied;
	double order;
};

struct job {
	pid_t pid;
	char exe[PATH_MAX];
	int status; /* XSCTL_OK changed, XSCTL_NOOP unchanged, < 0 failed */
	char msg[XS_PROTO_MSG_MAX + 256];
	struct names applied, reverted; /* store names changed (or to change) */
	struct names have;              /* status: every applied payload */
};

struct run {
	const struct xsctl_sync_opts *o;
	const struct xs_store *store;
	int dry;
	struct job *jobs;
	size_t njobs;
	atomic_size_t next;
};

static void names_add(struct names *n, const char *s)
{
	char **v = realloc(n->v, (n->n + 1) * sizeof(*v));
	if (!v)
		return;
	n->v = v;
	if ((v[n->n] = strdup(s)))
		n->n++;
}

static void names_free(struct names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

/* ---- which processes ------------------------------------------------------------ */

static int is_number(const char *s)
{
	for (const char *q = s; *q; q++)
		if (!isdigit((unsigned char)*q))
			return 0;
	return s[0] != '\0';
}

/* Is a file called libxsplice.so (or libxsplice.so.N) mapped in pid? */
static int maps_agent(pid_t pid)
{
	char path[64], line[PATH_MAX + 128];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	int found = 0;
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *slash = strrchr(line, '/');
		if (slash && !strncmp(slash, "/libxsplice.so", 14) &&
		    (slash[14] == '\n' || slash[14] == '.' || slash[14] == ' '))
			found = 1;
	}
	if (f)
		fclose(f);
	return found;
}

static void exe_of(pid_t pid, char *out, size_t n)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t r = readlink(link, out, n - 1);
	out[r > 0 ? r : 0] = '\0';
}

static int add_pid(pid_t **v, size_t *n, pid_t pid)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == pid)
			return 0;
	pid_t *nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = pid;
	*v = nv;
	return 0;
}

/* Every process with an agent: those with a socket in $XSPLICE_DIR when it
 * is set (the operator said where the agents are), else every process that
 * has libxsplice.so mapped and whose maps we may read. */
static int discover(pid_t **v, size_t *n)
{
	const char *dir = getenv(XS_SOCKDIR_ENV);
	int use_dir = dir && dir[0];
	DIR *d = opendir(use_dir ? dir : "/proc");
	struct dirent *e;
	if (!d)
		return use_dir && errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char num[32], proc[64];
		const char *dot = strrchr(e->d_name, '.');
		size_t len = use_dir
		                 ? (dot && !strcmp(dot, ".sock") ? (size_t)(dot - e->d_name) : 0)
		                 : strlen(e->d_name);
		if (!len || len >= sizeof(num))
			continue;
		memcpy(num, e->d_name, len);
		num[len] = '\0';
		if (!is_number(num))
			continue;
		pid_t pid = (pid_t)strtol(num, NULL, 10);
		snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
		if (pid == getpid() || access(proc, F_OK) || (!use_dir && !maps_agent(pid)))
			continue;
		if (add_pid(v, n, pid)) {
			closedir(d);
			return -ENOMEM;
		}
	}
	closedir(d);
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/* The processes o selects, sorted. */
static int select_pids(xsctl *h, const struct xsctl_sync_opts *o, pid_t **v, size_t *n)
{
	*v = NULL;
	*n = 0;
	if (o->npids) {
		for (size_t i = 0; i < o->npids; i++)
			if (add_pid(v, n, o->pids[i]))
				return xs_ctl_fail(h, -ENOMEM, "out of memory");
		return 0;
	}
	int rc = discover(v, n);
	if (rc)
		return xs_ctl_fail(h, rc, "cannot list the processes with an agent: %s",
		                   strerror(-rc));
	if (o->exe) {
		char want[PATH_MAX], have[PATH_MAX];
		if (!realpath(o->exe, want))
			return xs_ctl_fail(h, -errno, "--exe %s: %s", o->exe, strerror(errno));
		size_t k = 0;
		for (size_t i = 0; i < *n; i++) {
			exe_of((*v)[i], have, sizeof(have));
			if (!strcmp(have, want))
				(*v)[k++] = (*v)[i];
		}
		*n = k;
	}
	qsort(*v, *n, sizeof(**v), by_pid);
	return 0;
}

/* ---- one process ------------------------------------------------------------------ */

static int job_fail(struct job *j, xsctl *h, int rc, const char *what)
{
	snprintf(j->msg, sizeof(j->msg), "%s%s%s", what, what[0] ? ": " : "", xsctl_error(h));
	j->status = rc;
	return rc;
}

static int has_module(const struct xs_json *info, const char *id)
{
	const struct xs_json *mods = xs_json_get(info, "modules");
	for (const struct xs_json *m = mods ? mods->child : NULL; m; m = m->next)
		if (!strcmp(xs_json_str(m, "build_id"), id))
			return 1;
	return 0;
}

static int fetch(struct job *j, xsctl *h, struct xs_json **info, struct loaded **ld, size_t *nld)
{
	size_t len;
	int rc = xsctl_report(h, XSCTL_INFO, 1);
	if (rc < 0)
		return job_fail(j, h, rc, "");
	const char *body = xsctl_body(h, &len);
	*info = xs_json_parse(body, len);
	rc = xsctl_report(h, XSCTL_LIST, 1);
	if (rc < 0)
		return job_fail(j, h, rc, "");
	body = xsctl_body(h, &len);
	struct xs_json *list = xs_json_parse(body, len);
	if (!*info || !list) {
		xs_json_free(list);
		snprintf(j->msg, sizeof(j->msg), "the agent's report is not valid JSON");
		return j->status = -EPROTO;
	}
	snprintf(j->exe, sizeof(j->exe), "%s", xs_json_str(*info, "exe"));
	const struct xs_json *pl = xs_json_get(list, "payloads");
	size_t n = 0;
	for (const struct xs_json *p = pl ? pl->child : NULL; p; p = p->next)
		n++;
	*ld = calloc(n + 1, sizeof(**ld));
	*nld = 0;
	for (const struct xs_json *p = pl ? pl->child : NULL; *ld && p; p = p->next) {
		struct loaded *l = &(*ld)[(*nld)++];
		snprintf(l->name, sizeof(l->name), "%s", xs_json_str(p, "name"));
		snprintf(l->id, sizeof(l->id), "%s", xs_json_str(p, "build_id"));
		l->applied = !strcmp(xs_json_str(p, "state"), "APPLIED");
		l->order = xs_json_num(p, "applied_order");
	}
	xs_json_free(list);
	return *ld ? 0 : (j->status = -ENOMEM);
}

static int by_removal_order(const void *a, const void *b)
{
	const struct loaded *x = a, *y = b;
	if (x->applied != y->applied)
		return y->applied - x->applied;
	return (y->order > x->order) - (y->order < x->order);
}

/* Is l a store payload that must go (its NAME left the store or holds
 * another build now)? */
static int must_go(const struct run *r, const struct loaded *l)
{
	if (strncmp(l->name, XS_STORE_PREFIX, XS_STORE_PREFIX_LEN))
		return 0;
	const struct xs_stored *s = xs_store_find(r->store, l->name + XS_STORE_PREFIX_LEN);
	return !s || strcmp(s->id, l->id);
}

static int act(struct job *j, xsctl *h, const char *name, enum xsctl_action a,
               const struct xsctl_action_opts *o)
{
	int rc = xsctl_action(h, name, a, o);
	if (rc < 0) {
		char what[XS_PROTO_NAME_MAX + 16];
		snprintf(what, sizeof(what), "%s %s", xsctl_action_name(a), name);
		job_fail(j, h, rc, what);
	}
	return rc;
}

static int remove_one(const struct run *r, struct job *j, xsctl *h, const struct loaded *l)
{
	int rc = l->applied ? act(j, h, l->name, XSCTL_REVERT, &r->o->action) : 0;
	if (rc >= 0)
		rc = act(j, h, l->name, XSCTL_UNLOAD, &r->o->action);
	return rc;
}

/* Does the process hold payload `name` with build-id `id` now? */
static int holds(xsctl *h, const char *name, const char *id)
{
	size_t len;
	if (xsctl_report(h, XSCTL_LIST, 1) < 0)
		return 0;
	const char *body = xsctl_body(h, &len);
	struct xs_json *list = xs_json_parse(body, len);
	const struct xs_json *pl = xs_json_get(list, "payloads");
	int found = 0;
	for (const struct xs_json *p = pl ? pl->child : NULL; p && !found; p = p->next)
		found = !strcmp(xs_json_str(p, "name"), name) &&
		        !strcmp(xs_json_str(p, "build_id"), id);
	xs_json_free(list);
	return found;
}

static int add_one(const struct run *r, struct job *j, xsctl *h, const struct xs_stored *s,
                   const struct loaded *checked)
{
	char name[XS_PROTO_NAME_MAX + 1];
	int uploaded = 0;
	snprintf(name, sizeof(name), "%s%s", XS_STORE_PREFIX, s->name);
	if (!checked) {
		int rc = xsctl_upload(h, name, s->data, s->len, NULL);
		/* another sync running at the same time uploaded it first: go on
		 * with that one (the same build), and leave it to that sync */
		if (rc < 0 &&
		    (job_fail(j, h, rc, "upload"), !(rc == -EEXIST && holds(h, name, s->id))))
			return rc;
		uploaded = rc >= 0;
	}
	int rc = act(j, h, name, XSCTL_APPLY, &r->o->action);
	if (rc < 0 && uploaded) {
		/* leave the process as it was */
		char keep[sizeof(j->msg)];
		memcpy(keep, j->msg, sizeof(keep));
		xsctl_action(h, name, XSCTL_UNLOAD, NULL);
		memcpy(j->msg, keep, sizeof(keep));
	}
	return rc;
}

static void do_job(const struct run *r, struct job *j)
{
	struct xs_json *info = NULL;
	struct loaded *ld = NULL;
	size_t nld = 0;
	xsctl *h = xsctl_new();
	j->status = XSCTL_NOOP;
	if (!h) {
		j->status = -ENOMEM;
		snprintf(j->msg, sizeof(j->msg), "out of memory");
		return;
	}
	exe_of(j->pid, j->exe, sizeof(j->exe));
	int rc = xs_ctl_target(h, j->pid);
	if (rc)
		job_fail(j, h, rc, "");
	else
		rc = fetch(j, h, &info, &ld, &nld);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < nld; i++)
		if (ld[i].applied)
			names_add(&j->have, ld[i].name);
	/* first what must go, the most recently applied first */
	qsort(ld, nld, sizeof(*ld), by_removal_order);
	for (size_t i = 0; i < nld && rc >= 0; i++) {
		if (!must_go(r, &ld[i]))
			continue;
		rc = r->dry ? 0 : remove_one(r, j, h, &ld[i]);
		if (rc >= 0) {
			names_add(&j->reverted, ld[i].name + XS_STORE_PREFIX_LEN);
			ld[i].id[0] = '\0'; /* gone */
			j->status = XSCTL_OK;
		}
	}
	/* then what is missing, in the store's dependency order */
	for (size_t k = 0; k < r->store->n && rc >= 0; k++) {
		const struct xs_stored *s = &r->store->v[k];
		const struct loaded *same = NULL;
		if (!has_module(info, s->target))
			continue;
		for (size_t i = 0; i < nld; i++)
			if (!strcmp(ld[i].id, s->id))
				same = &ld[i];
		if (same && same->applied)
			continue;
		if (same && (strncmp(same->name, XS_STORE_PREFIX, XS_STORE_PREFIX_LEN) ||
		             strcmp(same->name + XS_STORE_PREFIX_LEN, s->name))) {
			snprintf(
			    j->msg, sizeof(j->msg),
			    "stored payload %s is loaded as %s but not applied; apply or unload "
			    "it",
			    s->name, same->name);
			rc = j->status = -EEXIST;
			break;
		}
		rc = r->dry ? 0 : add_one(r, j, h, s, same);
		if (rc >= 0) {
			names_add(&j->applied, s->name);
			j->status = XSCTL_OK;
		}
	}
out:
	xs_json_free(info);
	free(ld);
	xsctl_free(h);
}

static void *worker(void *arg)
{
	struct run *r = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&r->next, 1);
		if (i >= r->njobs)
			break;
		do_job(r, &r->jobs[i]);
	}
	return NULL;
}

static void run_jobs(struct run *r)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned nw = r->o->workers ? r->o->workers
	                            : (unsigned)(cpus > MIN_WORKERS / 2 ? 2 * cpus : MIN_WORKERS);
	if (nw > MAX_WORKERS)
		nw = MAX_WORKERS;
	if (nw > r->njobs)
		nw = (unsigned)r->njobs;
	pthread_t t[MAX_WORKERS];
	unsigned started = 0;
	for (unsigned i = 1; i < nw; i++)
		if (!pthread_create(&t[started], NULL, worker, r))
			started++;
	worker(r); /* this thread works too */
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
}

/* ---- summaries --------------------------------------------------------------------- */

static const char *result_of(const struct job *j)
{
	if (j->status == XSCTL_OK)
		return "changed";
	if (j->status == XSCTL_NOOP)
		return "unchanged";
	return xsctl_busy(j->status) ? "busy" : "error";
}

static void jnames(struct xs_buf *b, const char *key, const struct names *n)
{
	xs_buf_printf(b, ", \"%s\": [", key);
	for (size_t i = 0; i < n->n; i++) {
		xs_buf_printf(b, "%s", i ? ", " : "");
		xs_buf_json_str(b, n->v[i], strlen(n->v[i]));
	}
	xs_buf_printf(b, "]");
}

static void tnames(struct xs_buf *b, const char *label, const struct names *n)
{
	if (!n->n)
		return;
	xs_buf_printf(b, "%s", label);
	for (size_t i = 0; i < n->n; i++)
		xs_buf_printf(b, "%s%s", i ? ", " : " ", n->v[i]);
}

static void job_json_head(struct xs_buf *b, const struct job *j, int first)
{
	xs_buf_printf(b, "%s\n  {\"pid\": %d, \"exe\": ", first ? "" : ",", (int)j->pid);
	xs_buf_json_str(b, j->exe, strlen(j->exe));
}

static void job_json_msg(struct xs_buf *b, const struct job *j)
{
	xs_buf_printf(b, ", \"message\": ");
	if (j->status < 0)
		xs_buf_json_str(b, j->msg, strlen(j->msg));
	else
		xs_buf_printf(b, "null");
}

static int summary_sync(const struct run *r, struct xs_buf *b, int json)
{
	size_t changed = 0, unchanged = 0, busy = 0, failed = 0;
	int first_err = 0;
	for (size_t i = 0; i < r->njobs; i++) {
		const struct job *j = &r->jobs[i];
		if (j->status == XSCTL_OK)
			changed++;
		else if (j->status == XSCTL_NOOP)
			unchanged++;
		else if (xsctl_busy(j->status))
			busy++;
		else if (failed++ == 0)
			first_err = j->status;
	}
	int rc = failed ? first_err : busy ? -EBUSY : changed ? XSCTL_OK : XSCTL_NOOP;
	if (json) {
		xs_buf_printf(b, "{\"version\": 1, \"store\": ");
		xs_buf_json_str(b, r->store->dir, strlen(r->store->dir));
		xs_buf_printf(b,
		              ", \"dry_run\": %s, \"changed\": %s, \"status\": \"%s\", "
		              "\"counts\": {\"changed\": %zu, \"unchanged\": %zu, \"busy\": %zu, "
		              "\"error\": %zu}, \"processes\": [",
		              r->dry ? "true" : "false", changed ? "true" : "false",
		              failed ? "error"
		              : busy ? "busy"
		                     : "done",
		              changed, unchanged, busy, failed);
		for (size_t i = 0; i < r->njobs; i++) {
			const struct job *j = &r->jobs[i];
			job_json_head(b, j, !i);
			xs_buf_printf(b, ", \"result\": \"%s\"", result_of(j));
			jnames(b, "applied", &j->applied);
			jnames(b, "reverted", &j->reverted);
			job_json_msg(b, j);
			xs_buf_printf(b, "}");
		}
		xs_buf_printf(b, "%s]}\n", r->njobs ? "\n" : "");
		return rc;
	}
	for (size_t i = 0; i < r->njobs; i++) {
		const struct job *j = &r->jobs[i];
		xs_buf_printf(b, "%d %s: ", (int)j->pid, j->exe[0] ? j->exe : "?");
		if (j->status < 0)
			xs_buf_printf(b, "%s: %s", xsctl_busy(j->status) ? "BUSY" : "FAILED",
			              j->msg);
		else if (j->status == XSCTL_NOOP)
			xs_buf_printf(b, "up to date");
		tnames(b, r->dry ? "would revert" : "reverted", &j->reverted);
		if (j->reverted.n && j->applied.n)
			xs_buf_printf(b, "; ");
		tnames(b, r->dry ? "would apply" : "applied", &j->applied);
		xs_buf_printf(b, "\n");
	}
	if (!r->njobs)
		xs_buf_printf(b, "No process with an xsplice agent found.\n");
	else if (rc == XSCTL_NOOP)
		xs_buf_printf(b, "No action needed: %zu process%s already match%s the store.\n",
		              r->njobs, r->njobs == 1 ? "" : "es", r->njobs == 1 ? "es" : "");
	else
		xs_buf_printf(b, "%zu process%s: %zu %s, %zu up to date, %zu busy, %zu failed\n",
		              r->njobs, r->njobs == 1 ? "" : "es", changed,
		              r->dry ? "to change" : "changed", unchanged, busy, failed);
	return rc;
}

static void summary_status(const struct run *r, struct xs_buf *b, int json)
{
	size_t patched = 0;
	for (size_t i = 0; i < r->njobs; i++)
		patched += r->jobs[i].status == XSCTL_NOOP;
	if (json) {
		xs_buf_printf(b, "{\"version\": 1, \"store\": ");
		xs_buf_json_str(b, r->store->dir, strlen(r->store->dir));
		xs_buf_printf(b, ", \"stored\": [");
		for (size_t i = 0; i < r->store->n; i++) {
			xs_buf_printf(b, "%s", i ? ", " : "");
			xs_buf_json_str(b, r->store->v[i].name, strlen(r->store->v[i].name));
		}
		xs_buf_printf(b, "], \"patched\": %s, \"processes\": [",
		              patched == r->njobs ? "true" : "false");
		for (size_t i = 0; i < r->njobs; i++) {
			const struct job *j = &r->jobs[i];
			job_json_head(b, j, !i);
			xs_buf_printf(b, ", \"patched\": %s",
			              j->status == XSCTL_NOOP ? "true" : "false");
			jnames(b, "applied", &j->have);
			jnames(b, "lacking", &j->applied);
			jnames(b, "extra", &j->reverted);
			job_json_msg(b, j);
			xs_buf_printf(b, "}");
		}
		xs_buf_printf(b, "%s]}\n", r->njobs ? "\n" : "");
		return;
	}
	xs_buf_printf(b, "patch store %s: %zu payload%s\n", r->store->dir, r->store->n,
	              r->store->n == 1 ? "" : "s");
	for (size_t i = 0; i < r->njobs; i++) {
		const struct job *j = &r->jobs[i];
		xs_buf_printf(b, "%d %s: ", (int)j->pid, j->exe[0] ? j->exe : "?");
		if (j->status < 0)
			xs_buf_printf(b, "UNKNOWN: %s\n", j->msg);
		else {
			xs_buf_printf(b, "%s", j->status == XSCTL_NOOP ? "patched" : "NOT patched");
			tnames(b, "; lacks", &j->applied);
			tnames(b, "; should revert", &j->reverted);
			xs_buf_printf(b, "; applied:%s", j->have.n ? "" : " none");
			for (size_t k = 0; k < j->have.n; k++)
				xs_buf_printf(b, "%s%s", k ? ", " : " ", j->have.v[k]);
			xs_buf_printf(b, "\n");
		}
	}
	if (!r->njobs)
		xs_buf_printf(b, "No process with an xsplice agent found.\n");
	else
		xs_buf_printf(b, "%zu of %zu process%s patched.\n", patched, r->njobs,
		              r->njobs == 1 ? "" : "es");
}

static int fleet(xsctl *h, const struct xsctl_sync_opts *o, int status)
{
	struct xs_store store;
	struct run r = {.o = o, .store = &store, .dry = status || (o->flags & XSCTL_SYNC_DRY_RUN)};
	pid_t *pids;
	size_t n;
	int rc = select_pids(h, o, &pids, &n);
	if (rc)
		return rc;
	rc = xs_store_load(h, &store);
	if (rc) {
		free(pids);
		return rc;
	}
	r.jobs = calloc(n ? n : 1, sizeof(*r.jobs));
	if (!r.jobs) {
		free(pids);
		xs_store_release(&store);
		return xs_ctl_fail(h, -ENOMEM, "out of memory");
	}
	r.njobs = n;
	for (size_t i = 0; i < n; i++)
		r.jobs[i].pid = pids[i];
	free(pids);
	run_jobs(&r);

	struct xs_buf b;
	xs_buf_init(&b);
	int json = !!(o->flags & XSCTL_SYNC_JSON);
	if (status) {
		summary_status(&r, &b, json);
		rc = 0;
	} else {
		rc = summary_sync(&r, &b, json);
	}
	for (size_t i = 0; i < n; i++) {
		names_free(&r.jobs[i].applied);
		names_free(&r.jobs[i].reverted);
		names_free(&r.jobs[i].have);
	}
	free(r.jobs);
	xs_store_release(&store);
	xs_buf_append(&b, "", 1);
	if (b.oom) {
		xs_buf_free(&b);
		return xs_ctl_fail(h, -ENOMEM, "out of memory");
	}
	xs_ctl_set_body(h, b.data, b.len - 1);
	if (rc == -EBUSY)
		xs_ctl_fail(h, rc, "some processes were busy (try again)");
	else if (rc < 0)
		xs_ctl_fail(h, rc, "some processes could not be brought to the store's state");
	else
		xs_ctl_fail(h, rc, "%s", "");
	return rc;
}

XSCTL_API int xsctl_sync(xsctl *h, const struct xsctl_sync_opts *o)
{
	struct xsctl_sync_opts none = {0};
	return fleet(h, o ? o : &none, 0);
}

XSCTL_API int xsctl_status(xsctl *h, const struct xsctl_sync_opts *o)
{
	struct xsctl_sync_opts none = {0};
	return fleet(h, o ? o : &none, 1);
}
