/* Payload commands: upload, apply, revert, replace, unload, load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xsplice/ctl.h>

#include "cli/cli.h"

/* Attach to -p PID; NULL (message printed) on failure. */
static int attach_status = EXIT_ERROR;

/* NULL on failure, with the exit status in attach_status (2 for a process
 * that is stopped or does not answer in time, or when --attach found no
 * thread at a safe point: a retry can succeed). */
static xsctl *attach(const struct cli *c)
{
	if (c->attach && (attach_status = cli_attach_agent(c, 1)) != EXIT_DONE)
		return NULL;
	attach_status = EXIT_ERROR;
	xsctl *h = xsctl_new();
	if (!h) {
		cli_err("out of memory");
		return NULL;
	}
	/* --timeout bounds every wait for a process that does not answer */
	if (c->timeout_ms)
		xsctl_set_connect_timeout(h, (int)c->timeout_ms);
	int rc = xsctl_attach(h, c->pid);
	if (rc < 0) {
		attach_status = cli_exit_status(rc);
		cli_err("%s", xsctl_error(h));
		xsctl_free(h);
		return NULL;
	}
	return h;
}

/* Report a status: message, exit code. */
static int report(xsctl *h, int rc, const char *verb, const char *name, const char *done)
{
	if (rc == XSCTL_NOOP) {
		printf("No action needed.\n");
		return EXIT_DONE;
	}
	if (rc < 0) {
		cli_err("%s %s: %s", verb, name, xsctl_error(h));
		return cli_exit_status(rc);
	}
	printf("%s: %s\n", name, done);
	return EXIT_DONE;
}

static int upload(xsctl *h, const char *name, const char *file, char **params)
{
	/* argv is NULL-terminated after the positional arguments (calloc'd) */
	int rc = xsctl_upload_file(h, name, file, (const char *const *)params);
	return report(h, rc, "upload", name, "uploaded");
}

int cmd_upload(struct cli *c)
{
	xsctl *h = attach(c);
	if (!h)
		return attach_status;
	int ex = upload(h, c->argv[0], c->argv[1], c->argv + 2);
	xsctl_free(h);
	return ex;
}

static int action(const struct cli *c, xsctl *h, const char *name, enum xsctl_action act)
{
	static const char *const done[] = {"", "applied", "reverted",
	                                   "replaced (the only applied payload now)", "unloaded"};
	struct xsctl_action_opts o = {
	    .flags = c->nodeps ? XSCTL_NODEPS : 0,
	    .quiesce_timeout_ms = c->quiesce_ms,
	    .deadline_ms = c->timeout_ms,
	};
	int rc = xsctl_action(h, name, act, &o);
	return report(h, rc, xsctl_action_name(act), name, done[act]);
}

static int one_action(struct cli *c, enum xsctl_action act)
{
	xsctl *h = attach(c);
	if (!h)
		return attach_status;
	int ex = action(c, h, c->argv[0], act);
	xsctl_free(h);
	return ex;
}

int cmd_apply(struct cli *c)
{
	return one_action(c, XSCTL_APPLY);
}

int cmd_revert(struct cli *c)
{
	return one_action(c, XSCTL_REVERT);
}

int cmd_replace(struct cli *c)
{
	return one_action(c, XSCTL_REPLACE);
}

int cmd_unload(struct cli *c)
{
	return one_action(c, XSCTL_UNLOAD);
}

/* "dir/fix-1.2.xsplice" -> "fix-1.2" (base name without its last extension) */
static char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *name = strdup(slash ? slash + 1 : path);
	char *dot = name ? strrchr(name, '.') : NULL;
	if (dot && dot != name)
		*dot = '\0';
	return name;
}

/* load FILE: upload under the base name, apply; if apply fails, unload it
 * again so that the process is left as it was. */
int cmd_load(struct cli *c)
{
	char *name = base_name(c->argv[0]);
	xsctl *h = name ? attach(c) : NULL;
	if (!h) {
		int ex = name ? attach_status : EXIT_ERROR;
		free(name);
		return ex;
	}
	char *no_params[] = {NULL};
	int ex = upload(h, name, c->argv[0], no_params);
	if (ex == EXIT_DONE) {
		ex = action(c, h, name, XSCTL_APPLY);
		if (ex != EXIT_DONE) {
			int rc = xsctl_action(h, name, XSCTL_UNLOAD, NULL);
			if (rc < 0)
				cli_err("unload %s (after the failed apply): %s", name,
				        xsctl_error(h));
			else
				fprintf(stderr, "xsplice: %s unloaded again\n", name);
		}
	}
	xsctl_free(h);
	free(name);
	return ex;
}
