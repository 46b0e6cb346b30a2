/* sync [--all | -p PID... | --exe PATH] [--dry-run] [--json]: bring the
 * processes to the patch store's state (libxsplicectl does the work). */
#include <stdio.h>

#include <xsplice/ctl.h>

#include "cli/cli.h"

static void cli_sync_opts(const struct cli *c, struct xsctl_sync_opts *o)
{
	*o = (struct xsctl_sync_opts){
	    .pids = c->pids,
	    .npids = c->npids,
	    .exe = c->exe,
	    .flags = (c->json ? XSCTL_SYNC_JSON : 0) | (c->dry_run ? XSCTL_SYNC_DRY_RUN : 0),
	    .action = {.quiesce_timeout_ms = c->quiesce_ms, .deadline_ms = c->timeout_ms},
	};
}

/* sync and status: the summary on stdout, the overall result on stderr */
int cli_fleet(struct cli *c, int (*fn)(xsctl *, const struct xsctl_sync_opts *))
{
	struct xsctl_sync_opts o;
	xsctl *h = xsctl_new();
	if (!h) {
		cli_err("out of memory");
		return EXIT_ERROR;
	}
	cli_sync_opts(c, &o);
	int rc = fn(h, &o);
	fputs(xsctl_body(h, NULL), stdout);
	if (rc < 0)
		cli_err("%s", xsctl_error(h));
	xsctl_free(h);
	return cli_exit_status(rc);
}

int cmd_sync(struct cli *c)
{
	return cli_fleet(c, xsctl_sync);
}
