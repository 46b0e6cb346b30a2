#include <stdio.h>

#include "greet.h"

static char reply[256];

const char *greet(const char *name)
{
	snprintf(reply, sizeof(reply), "hello %s", name);
	return reply;
}
