/*
 * attach: load the agent into a running process that was started without
 * it (ptrace + the process's own dlopen; see src/ctl/inject.c), then wait
 * until its control socket answers.  Also the first step of load --attach
 * and upload --attach.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <xsplice/ctl.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "ctl/inject.h"

/* Does the agent in pid answer on its socket? 0, or -errno (why). */
static int agent_answers(pid_t pid, char *why, size_t n)
{
	xsctl *h = xsctl_new();
	if (!h)
		return snprintf(why, n, "out of memory"), -ENOMEM;
	int rc = xsctl_attach(h, pid);
	if (rc < 0)
		snprintf(why, n, "%s", xsctl_error(h));
	xsctl_free(h);
	return rc < 0 ? rc : 0;
}

static void print_json(pid_t pid, const struct xs_inject_result *r)
{
	struct xs_buf b;
	xs_buf_init(&b);
	xs_buf_printf(&b, "{\"version\": 1, \"pid\": %d, \"already\": %s", (int)pid,
	              r->already ? "true" : "false");
	if (!r->already) {
		xs_buf_printf(&b, ", \"thread\": %d, \"syscall\": ", (int)r->tid);
		xs_buf_json_str(&b, r->syscall, strlen(r->syscall));
		xs_buf_printf(&b, ", \"held_us\": %.1f, \"total_us\": %.1f",
		              (double)r->held_ns / 1e3, (double)r->total_ns / 1e3);
	}
	xs_buf_printf(&b, "}\n");
	fwrite(b.data, 1, b.len, stdout);
	xs_buf_free(&b);
}

/* The injection, with the termination signals held off: if this command
 * died while the borrowed thread runs the loader, the kernel would detach
 * it and its return to address 0 would kill the process. */
static int inject(const struct cli *c, struct xs_inject_result *r, char *why, size_t n)
{
	char agent[PATH_MAX];
	if (cli_find_agent(agent, sizeof(agent)))
		return -ENOENT;
	sigset_t hold, old;
	sigemptyset(&hold);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGQUIT);
	sigprocmask(SIG_BLOCK, &hold, &old);
	int rc = xs_inject_agent(c->pid, agent, r, why, n);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int cli_attach_agent(const struct cli *c, int quiet)
{
	struct xs_inject_result r;
	char why[1024] = "";
	int rc = inject(c, &r, why, sizeof(why));
	if (rc == -ENOENT && !why[0])
		return EXIT_ERROR; /* cli_find_agent said why */
	if (rc) {
		cli_err("attach to process %d: %s", (int)c->pid, why);
		return rc == -EAGAIN ? EXIT_BUSY : EXIT_ERROR;
	}
	rc = agent_answers(c->pid, why, sizeof(why));
	if (rc) {
		cli_err("attach to process %d: the agent is loaded but does not answer: %s "
		        "(the process's standard error says why)",
		        (int)c->pid, why);
		return EXIT_ERROR;
	}
	if (c->json && !quiet)
		print_json(c->pid, &r);
	else if (r.already && !quiet)
		printf("No action needed.\n");
	else if (!quiet)
		printf("process %d: agent attached (thread %d held %.2f ms in %s)\n", (int)c->pid,
		       (int)r.tid, (double)r.held_ns / 1e6, r.syscall);
	return EXIT_DONE;
}

int cmd_attach(struct cli *c)
{
	return cli_attach_agent(c, 0);
}
