#include "agent/signame.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int xs_signal_parse(const char *s)
{
	char *end;
	if (!strncmp(s, "SIG", 3))
		s += 3;
	long n = strtol(s, &end, 10);
	if (end != s && !*end)
		return n > 0 && n < NSIG ? (int)n : 0;
	if (!strncmp(s, "RTMIN", 5) || !strncmp(s, "RTMAX", 5)) {
		int base = s[4] == 'N' ? SIGRTMIN : SIGRTMAX;
		n = s[5] ? strtol(s + 5, &end, 10) : 0;
		if (s[5] && *end)
			return 0;
		n += base;
		return n >= SIGRTMIN && n <= SIGRTMAX ? (int)n : 0;
	}
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		const char *abbrev = sigabbrev_np(sig);
		if (abbrev && !strcmp(abbrev, s))
			return sig;
	}
	return 0;
}

const char *xs_signal_name(int sig, char *buf, size_t cap)
{
	const char *abbrev = sig > 0 && sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;
	if (abbrev)
		snprintf(buf, cap, "SIG%s", abbrev);
	else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, cap, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, cap, "%d", sig);
	return buf;
}
