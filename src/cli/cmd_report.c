/* Report commands: list, info, dump, history (text or --json). */
#include <stdio.h>

#include <xsplice/ctl.h>

#include "cli/cli.h"

static int show(struct cli *c, enum xsctl_report what, const char *verb)
{
	xsctl *h = xsctl_new();
	if (!h) {
		cli_err("out of memory");
		return EXIT_ERROR;
	}
	/* --timeout bounds every wait for a process that does not answer */
	if (c->timeout_ms) {
		xsctl_set_connect_timeout(h, (int)c->timeout_ms);
		xsctl_set_io_timeout(h, (int)c->timeout_ms);
	}
	int rc = xsctl_attach(h, c->pid);
	if (rc < 0) {
		cli_err("%s", xsctl_error(h));
	} else {
		rc = xsctl_report(h, what, c->json);
		if (rc < 0)
			cli_err("%s: %s", verb, xsctl_error(h));
	}
	if (rc >= 0) {
		size_t len;
		const char *body = xsctl_body(h, &len);
		if (c->json)
			fwrite(body, 1, len, stdout);
		else /* lines as the agent made them; no terminal control */
			cli_put_text(stdout, body, len);
		if (len && body[len - 1] != '\n')
			putchar('\n');
	}
	xsctl_free(h);
	return cli_exit_status(rc);
}

int cmd_list(struct cli *c)
{
	return show(c, XSCTL_LIST, "list");
}

int cmd_info(struct cli *c)
{
	return show(c, XSCTL_INFO, "info");
}

int cmd_dump(struct cli *c)
{
	return show(c, XSCTL_DUMP, "dump");
}

int cmd_history(struct cli *c)
{
	return show(c, XSCTL_HISTORY, "history");
}
