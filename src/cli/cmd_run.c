/* run [--] CMD...: exec CMD with the agent preloaded. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* $XSPLICE_AGENT, else ../lib/libxsplice.so next to this executable. */
int cli_find_agent(char *out, size_t n)
{
	const char *env = getenv("XSPLICE_AGENT");
	char self[PATH_MAX], guess[PATH_MAX + 32];
	if (env && env[0]) {
		if (access(env, R_OK)) {
			cli_err("XSPLICE_AGENT=%s: %s", env, strerror(errno));
			return -1;
		}
		snprintf(out, n, "%s", env);
		return strlen(env) < n ? 0 : -1;
	}
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		cli_err("cannot find my own executable: %s", strerror(errno));
		return -1;
	}
	self[len] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(guess, sizeof(guess), "%s/../lib/libxsplice.so", self);
	if (!realpath(guess, out) || strlen(out) >= n) {
		cli_err("cannot find the agent at %s: %s (set XSPLICE_AGENT to its path)", guess,
		        strerror(errno));
		return -1;
	}
	return 0;
}

int cmd_run(struct cli *c)
{
	char agent[PATH_MAX];
	if (cli_find_agent(agent, sizeof(agent)))
		return EXIT_ERROR;
	if (strpbrk(agent, ": ")) {
		cli_err("the agent path %s holds ':' or a space, which LD_PRELOAD cannot carry",
		        agent);
		return EXIT_ERROR;
	}
	const char *old = getenv("LD_PRELOAD");
	size_t n = strlen(agent) + (old ? strlen(old) : 0) + 2;
	char *preload = malloc(n);
	if (!preload) {
		cli_err("out of memory");
		return EXIT_ERROR;
	}
	snprintf(preload, n, "%s%s%s", agent, old && old[0] ? ":" : "", old ? old : "");
	setenv("LD_PRELOAD", preload, 1);
	free(preload);
	execvp(c->argv[0], c->argv);
	cli_err("cannot run %s: %s", c->argv[0], strerror(errno));
	return EXIT_ERROR;
}
