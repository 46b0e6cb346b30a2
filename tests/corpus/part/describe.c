#include <stdio.h>
#include <string.h>

#include "describe.h"

static char out[256];

/* gcc inlines the cheap test into the callers and outlines the rest as
 * describe.part.0. */
static const char *describe(const char *s)
{
	if (!s || !*s)
		return "empty";
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (s[i] == '!') {
			snprintf(out, sizeof(out), "loud(%zu): %s", n, s);
			return out;
		}
	snprintf(out, sizeof(out), "quiet(%zu): %s", n, s);
	return out;
}

const char *shout(const char *s)
{
	return describe(s);
}

const char *whisper(const char *s)
{
	return describe(s);
}

const char *say(const char *s)
{
	return describe(s);
}
