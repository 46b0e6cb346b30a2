#include <stdio.h>

#include "where.h"

static char buf[64];

/* Reports its own source line, like a logging macro does. */
const char *where(void)
{
	snprintf(buf, sizeof(buf), "%s:%d", __FILE__, __LINE__);
	return buf;
}

int limit(int v)
{
	return v > 10 ? 10 : v;
}
