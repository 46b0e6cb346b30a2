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
	int attach;          /* --attach (load, upload) */
	int all;             /* --all (ps) */
	int argc;            /* the command's positional arguments */
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
