/* Choosing a free real-time signal for an agent started late (attach). */
#include "agent/sigpick.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The signals blocked by any thread but the caller (SigBlk lines). */
static unsigned long long blocked_by_others(void)
{
	unsigned long long all = 0;
	pid_t self = gettid();
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[64], line[256];
		pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
		if (tid <= 0 || tid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
		FILE *f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "SigBlk:", 7))
				all |= strtoull(line + 7, NULL, 16);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return all;
}

static int is_free(int sig, unsigned long long blocked)
{
	struct sigaction cur;
	if (sigaction(sig, NULL, &cur))
		return 0;
	return cur.sa_handler == SIG_DFL && !(cur.sa_flags & SA_SIGINFO) &&
	       !(blocked & (1ull << (sig - 1)));
}

int xs_signal_pick_free(int preferred)
{
	unsigned long long blocked = blocked_by_others();
	if (is_free(preferred, blocked))
		return preferred;
	for (int sig = preferred + 1; sig <= SIGRTMAX; sig++)
		if (is_free(sig, blocked))
			return sig;
	for (int sig = preferred - 1; sig >= SIGRTMIN; sig--)
		if (is_free(sig, blocked))
			return sig;
	return preferred;
}
