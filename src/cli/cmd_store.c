/* store add FILE [--name NAME] | store list [--json] | store remove NAME */
#include <stdio.h>
#include <string.h>

#include <xsplice/ctl.h>

#include "cli/cli.h"

static int usage(void)
{
	cli_err("usage: xsplice store add FILE [--name NAME] | store list [--json] | "
	        "store remove NAME");
	return EXIT_ERROR;
}

int cmd_store(struct cli *c)
{
	const char *sub = c->argv[0];
	int nargs = !strcmp(sub, "list") ? 1 : 2;
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "remove"))
		return usage();
	if (c->argc != nargs || (c->name && strcmp(sub, "add")) || (c->json && strcmp(sub, "list")))
		return usage();
	xsctl *h = xsctl_new();
	if (!h) {
		cli_err("out of memory");
		return EXIT_ERROR;
	}
	int rc;
	if (!strcmp(sub, "add"))
		rc = xsctl_store_add(h, c->argv[1], c->name);
	else if (!strcmp(sub, "remove"))
		rc = xsctl_store_remove(h, c->argv[1]);
	else
		rc = xsctl_store_list(h, c->json);
	if (rc < 0)
		cli_err("store %s: %s", sub, xsctl_error(h));
	else if (rc == XSCTL_NOOP)
		printf("No action needed: %s.\n", xsctl_error(h));
	else if (!strcmp(sub, "list"))
		fputs(xsctl_body(h, NULL), stdout);
	else
		printf("%s\n", xsctl_error(h));
	xsctl_free(h);
	return cli_exit_status(rc);
}
