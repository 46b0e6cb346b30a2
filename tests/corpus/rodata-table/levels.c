#include "levels.h"

/* A table of string pointers: read-only once relocated (.data.rel.ro). */
static const char *const names[] = {"debug", "info", "warn", "error"};

const char *level_name(int level)
{
	if (level < 0 || level >= (int)(sizeof(names) / sizeof(names[0])))
		return "?";
	return names[level];
}

int level_count(void)
{
	return (int)(sizeof(names) / sizeof(names[0]));
}
