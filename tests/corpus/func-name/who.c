#include <stdio.h>

#include "who.h"

static char msg[128];

const char *whoami(int v)
{
	snprintf(msg, sizeof(msg), "%s(%d)", __func__, v);
	return msg;
}

const char *other(void)
{
	return __func__;
}
