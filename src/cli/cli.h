/* The xsplice command: shared state of one invocation and the command
 * functions (each returns the exit status: 0 done, 1 error, 2 busy). */
#ifndef XS_CLI_H
#define XS_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

enum { EXIT_DONE = 0, EXIT_ERROR = 1, EXIT_BUSY = 2 };

struct cli {
	pid_t pid;           /* -p PID, 0 when not given */
	uint32_t timeout_ms; /* --timeout: the action's deadline */
	uint32_t quiesce_ms; /* --quiesce-timeout: per attempt */
	int json;            /* --json */
	int nodeps;          /* --nodeps */
	pid_t *pids;         /* every -p PID (sync, status) */
	size_t npids;
	int all;          /* --all (sync, status, ps) */
	int attach;       /* --attach (load, upload) */
	const char *exe;  /* --exe PATH (sync, status) */
	const char *name; /* --name NAME (store add) */
	int dry_run;      /* --dry-run (sync) */
	int argc;         /* the command's positional arguments */
	char **argv;
};

int cmd_upload(struct cli *c);
int cmd_apply(struct cli *c);
int cmd_revert(struct cli *c);
int cmd_replace(struct cli *c);
int cmd_unload(struct cli *c);
int cmd_load(struct cli *c);
int cmd_list(struct cli *c);
int cmd_info(struct cli *c);
int cmd_dump(struct cli *c);
int cmd_history(struct cli *c);
int cmd_ps(struct cli *c);
int cmd_run(struct cli *c);
int cmd_store(struct cli *c);
int cmd_sync(struct cli *c);
int cmd_status(struct cli *c);

/* sync and status (cmd_sync.c): run fn over the processes c selects. */
struct xsctl;
struct xsctl_sync_opts;
int cli_fleet(struct cli *c, int (*fn)(struct xsctl *, const struct xsctl_sync_opts *));

int cmd_attach(struct cli *c);

/* --attach of load and upload: bring the agent in first when it is not
 * there. 0, or the exit status of the failed attach. */
int cli_attach_agent(const struct cli *c, int quiet);
/* The agent's path: $XSPLICE_AGENT, else ../lib/libxsplice.so next to us. */
int cli_find_agent(char *out, size_t n);

/* "xsplice: ..." on stderr */
/* s with control characters other than newline and tab as \\xNN. */
void cli_put_text(FILE *f, const char *s, size_t n);
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* exit status for an xsctl status */
int cli_exit_status(int status);

/* Lowercase hex GNU build-id of the ELF file at path: 0 or -errno. */
int cli_build_id(const char *path, char *hex, size_t n);

#endif
