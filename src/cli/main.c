/*
 * xsplice — live-patch a running process through its agent.
 *
 * Table-driven, like xen-livepatch: each row names a command, the
 * arguments and options it takes and whether it talks to a process.
 * Exit status: 0 done (or "No action needed."), 1 error, 2 busy - try
 * again.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xsplice/ctl.h>

#include "cli/cli.h"

enum {
	OPT_JSON = 1u << 0,
	OPT_NODEPS = 1u << 1,
	OPT_FLEET = 1u << 2,
	OPT_NAME = 1u << 3,
	OPT_ATTACH = 1u << 4,
	OPT_ALL = 1u << 5
};

struct command {
	const char *name;
	const char *args;
	const char *help;
	int need_pid;
	int min_args, max_args; /* max -1: unbounded */
	unsigned opts;
	int (*fn)(struct cli *c);
};

static int cmd_help(struct cli *c);

static const struct command commands[] = {
    {"help", "[COMMAND]", "this list, or how to use one command", 0, 0, 1, 0, cmd_help},
    {"upload", "NAME FILE [key=value...] [--attach]",
     "upload a payload (verified, linked: CHECKED)", 1, 2, -1, OPT_ATTACH, cmd_upload},
    {"list", "[--json]", "list the payloads, their state, build-ids and metadata", 1, 0, 0,
     OPT_JSON, cmd_list},
    {"apply", "NAME [--nodeps]", "switch a CHECKED payload on (APPLIED)", 1, 1, 1, OPT_NODEPS,
     cmd_apply},
    {"revert", "NAME", "switch an APPLIED payload off (CHECKED)", 1, 1, 1, 0, cmd_revert},
    {"replace", "NAME [--nodeps]", "revert every applied payload and apply NAME, atomically", 1, 1,
     1, OPT_NODEPS, cmd_replace},
    {"unload", "NAME", "free a CHECKED payload", 1, 1, 1, 0, cmd_unload},
    {"load", "FILE [--nodeps] [--attach]", "upload and apply FILE under its base name", 1, 1, 1,
     OPT_NODEPS | OPT_ATTACH, cmd_load},
    {"info", "[--json]", "the agent's version, the process's modules and build-ids", 1, 0, 0,
     OPT_JSON, cmd_info},
    {"dump", "[--json]", "everything the agent knows", 1, 0, 0, OPT_JSON, cmd_dump},
    {"history", "[--json]", "the recent actions and their results", 1, 0, 0, OPT_JSON, cmd_history},
    {"ps", "[--all] [--json]", "processes that carry an agent (--all: and attachable ones)", 0, 0,
     0, OPT_JSON | OPT_ALL, cmd_ps},
    {"run", "[--] CMD [ARG...]", "run CMD with the agent preloaded", 0, 1, -1, 0, cmd_run},
    {"attach", "[--json]", "load the agent into a process started without it", 1, 0, 0, OPT_JSON,
     cmd_attach},
    {"store", "add FILE|list|remove NAME", "the patch store: payloads to keep applied", 0, 1, 2,
     OPT_JSON | OPT_NAME, cmd_store},
    {"sync", "[--all|-p PID...|--exe PATH]", "bring processes to the store's state", 0, 0, 0,
     OPT_JSON | OPT_FLEET, cmd_sync},
    {"status", "[--all|-p PID...|--exe PATH]",
     "per process: applied payloads, stored ones it lacks", 0, 0, 0, OPT_JSON | OPT_FLEET,
     cmd_status},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void cli_put_text(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

void cli_err(const char *fmt, ...)
{
	/* no terminal control, whatever an agent or a payload put in it */
	char raw[8192];
	va_list ap;
	fflush(stdout); /* what was said before comes first in a shared log */
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	fputs("xsplice: ", stderr);
	cli_put_text(stderr, raw, strlen(raw));
	fputc('\n', stderr);
}

int cli_exit_status(int status)
{
	if (status >= 0)
		return EXIT_DONE;
	return xsctl_busy(status) ? EXIT_BUSY : EXIT_ERROR;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xsplice [-p PID] [--timeout MS] [--quiesce-timeout MS] COMMAND [ARGS]\n"
	           "\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char left[64];
		snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].args);
		fprintf(f, "  %-36s %s\n", left, commands[i].help);
	}
	fprintf(f, "\noptions:\n"
	           "  -p, --pid PID             the process to act on (all but ps, run)\n"
	           "  --timeout MS              deadline of an action, retries included\n"
	           "  --quiesce-timeout MS      how long each attempt waits for threads to park\n"
	           "  --json                    JSON output (list, info, dump, history, ps, store\n"
	           "                            list, sync, status)\n"
	           "  --nodeps                  apply an independent payload (check only the\n"
	           "                            target build-id)\n"
	           "  --attach                  load, upload: attach the agent first if needed\n"
	           "  --all, --exe PATH         sync, status: every process with an agent (ps:\n"
	           "                            also those one may attach to), or\n"
	           "                            those running PATH (-p may be repeated)\n"
	           "  --dry-run                 sync: say what would change\n"
	           "  --name NAME               store add: the name to store FILE under\n"
	           "  -h, --help, --version\n"
	           "\n`xsplice help COMMAND` or `xsplice COMMAND --help` for one command.\n"
	           "exit status: 0 done, 1 error, 2 busy (try again).  See xsplice(1).\n");
}

static const struct command *find_command(const char *name);

/* `xsplice help COMMAND`, `xsplice COMMAND --help` */
static void command_help(const struct command *cmd, FILE *f)
{
	fprintf(f, "usage: xsplice%s %s %s\n\n%s.\n", cmd->need_pid ? " -p PID" : "", cmd->name,
	        cmd->args, cmd->help);
	if (cmd->opts & OPT_JSON)
		fprintf(f,
		        "\n  --json     one JSON object, {\"version\": 1, ...}; see JSON OUTPUT in "
		        "xsplice(1)\n");
	if (cmd->opts & OPT_NODEPS)
		fprintf(f, "\n  --nodeps   apply an independent payload (check only the target "
		           "build-id)\n");
	if (cmd->opts & OPT_ATTACH)
		fprintf(f, "\n  --attach   attach the agent first when the process has none "
		           "(xsplice help attach)\n");
	if (cmd->opts & OPT_ALL)
		fprintf(f, "\n  --all      also the processes without an agent that attach "
		           "would accept\n");
	if (cmd->need_pid)
		fprintf(f, "\n  -p, --pid PID, --timeout MS, --quiesce-timeout MS: see xsplice "
		           "--help\n");
	fprintf(f, "\nexit status: 0 done, 1 error, 2 busy (try again).  See xsplice(1).\n");
}

static int cmd_help(struct cli *c)
{
	if (!c->argc) {
		usage(stdout);
		return EXIT_DONE;
	}
	const struct command *cmd = find_command(c->argv[0]);
	if (!cmd) {
		cli_err("unknown command '%s' (xsplice help lists them)", c->argv[0]);
		return EXIT_ERROR;
	}
	command_help(cmd, stdout);
	return EXIT_DONE;
}

static int parse_u32(const char *opt, const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > INT_MAX / 2 || s[0] == '-') {
		cli_err("%s: '%s' is not a number of milliseconds", opt, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_pid(const char *s, pid_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v <= 0 || v > INT_MAX) {
		cli_err("-p: '%s' is not a process id", s);
		return -1;
	}
	*out = (pid_t)v;
	return 0;
}

/* -p PID: the process; sync and status take several. */
static int add_pid(struct cli *c, const char *v)
{
	pid_t pid;
	if (parse_pid(v, &pid))
		return -1;
	pid_t *nv = realloc(c->pids, (c->npids + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	nv[c->npids++] = pid;
	c->pids = nv;
	c->pid = pid;
	return 0;
}

/* An option's value: "--opt=V", "-pV", or the next argument. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	const char *a = argv[*i];
	const char *eq = strchr(a, '=');
	if (a[1] != '-' && a[2])
		return a + 2;
	if (a[1] == '-' && eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		cli_err("%s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

static int opt_is(const char *a, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(a, name, n) && (a[n] == '\0' || a[n] == '=');
}

/* One option at argv[*i]: 0, -1 on error.  -h and --version exit. */
static int parse_option(int argc, char **argv, int *i, struct cli *c)
{
	const char *a = argv[*i], *v;
	if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
		usage(stdout);
		exit(EXIT_DONE);
	}
	if (!strcmp(a, "--version")) {
		printf("xsplice %s\n", XSPLICE_VERSION);
		exit(EXIT_DONE);
	}
	if (!strcmp(a, "--json"))
		return c->json = 1, 0;
	if (!strcmp(a, "--nodeps"))
		return c->nodeps = 1, 0;
	if (!strcmp(a, "--attach"))
		return c->attach = 1, 0;
	if (!strncmp(a, "-p", 2) || opt_is(a, "--pid"))
		return (v = opt_value(argc, argv, i, "-p")) ? add_pid(c, v) : -1;
	if (!strcmp(a, "--all"))
		return c->all = 1, 0;
	if (!strcmp(a, "--dry-run"))
		return c->dry_run = 1, 0;
	if (opt_is(a, "--exe"))
		return (c->exe = opt_value(argc, argv, i, "--exe")) ? 0 : -1;
	if (opt_is(a, "--name"))
		return (c->name = opt_value(argc, argv, i, "--name")) ? 0 : -1;
	if (opt_is(a, "--timeout"))
		return (v = opt_value(argc, argv, i, "--timeout"))
		           ? parse_u32("--timeout", v, &c->timeout_ms)
		           : -1;
	if (opt_is(a, "--quiesce-timeout"))
		return (v = opt_value(argc, argv, i, "--quiesce-timeout"))
		           ? parse_u32("--quiesce-timeout", v, &c->quiesce_ms)
		           : -1;
	cli_err("unknown option '%s' (xsplice --help lists them)", a);
	return -1;
}

/*
 * Options may come before or after the command word.  After "--", and
 * after `run`'s command word, everything is an argument: the child's own
 * options stay its own.  Returns the command, NULL on a usage error.
 */

static const struct command *parse(int argc, char **argv, struct cli *c)
{
	const struct command *cmd = NULL;
	int only_args = 0;
	c->argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!c->argv)
		return NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!only_args && !strcmp(a, "--")) {
			only_args = 1;
		} else if (!only_args && cmd && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
			command_help(cmd, stdout);
			exit(EXIT_DONE);
		} else if (!only_args && a[0] == '-' && a[1]) {
			if (parse_option(argc, argv, &i, c))
				return NULL;
		} else if (!cmd) {
			cmd = find_command(a);
			if (!cmd) {
				cli_err("unknown command '%s' (xsplice --help lists them)", a);
				return NULL;
			}
			if (cmd->fn == cmd_run) {
				if (i + 1 < argc && (!strcmp(argv[i + 1], "-h") ||
				                     !strcmp(argv[i + 1], "--help"))) {
					command_help(cmd, stdout);
					exit(EXIT_DONE);
				}
				if (i + 1 < argc && !strcmp(argv[i + 1], "--"))
					i++;
				only_args = 1;
			}
		} else {
			c->argv[c->argc++] = argv[i];
		}
	}
	if (!cmd) {
		usage(stderr);
		return NULL;
	}
	return cmd;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int check_use(const struct command *cmd, const struct cli *c)
{
	if (cmd->need_pid && !c->pid) {
		cli_err("%s: which process? give -p PID", cmd->name);
		return -1;
	}
	if (c->argc < cmd->min_args || (cmd->max_args >= 0 && c->argc > cmd->max_args)) {
		cli_err("usage: xsplice%s %s %s", cmd->need_pid ? " -p PID" : "", cmd->name,
		        cmd->args);
		return -1;
	}
	if (!(cmd->opts & OPT_FLEET) &&
	    (c->npids > 1 || (c->all && !(cmd->opts & OPT_ALL)) || c->exe || c->dry_run)) {
		cli_err("%s takes none of several -p, --all, --exe, --dry-run (sync and status do)",
		        cmd->name);
		return -1;
	}
	if (c->name && !(cmd->opts & OPT_NAME)) {
		cli_err("%s does not take --name", cmd->name);
		return -1;
	}
	if ((cmd->opts & OPT_FLEET) && (!!c->npids + c->all + !!c->exe) > 1) {
		cli_err("%s: give one of --all, -p PID..., --exe PATH", cmd->name);
		return -1;
	}
	if ((c->json && !(cmd->opts & OPT_JSON)) || (c->nodeps && !(cmd->opts & OPT_NODEPS))) {
		cli_err("%s does not take %s", cmd->name, c->json ? "--json" : "--nodeps");
		return -1;
	}
	if (c->attach && !(cmd->opts & OPT_ATTACH)) {
		cli_err("%s does not take --attach", cmd->name);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	const struct command *cmd = parse(argc, argv, &c);
	if (!cmd || check_use(cmd, &c))
		return EXIT_ERROR;
	return cmd->fn(&c);
}
