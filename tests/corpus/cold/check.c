#include <stdio.h>

#include "check.h"

extern void note_error(const char *what, int v) __attribute__((cold));

static char msg[128];

/* The error path is cold: gcc moves it to .text.unlikely as check.cold. */
const char *check(int v)
{
	if (v < 0) {
		note_error("negative", v);
		snprintf(msg, sizeof(msg), "error: negative value %d", v);
		return msg;
	}
	snprintf(msg, sizeof(msg), "ok %d", v);
	return msg;
}
