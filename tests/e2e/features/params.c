/* Module parameters: payload code reads "greeting", a hook reads "count". */
#include <stdlib.h>
#include <xsplice/patch.h>
#include "ftarget.h"

static const char *greet_param(void)
{
	const char *g = xsplice_param("greeting");

	return g ? g : "no greeting parameter";
}
XSPLICE_REPLACE(greet, greet_param);

static int pre_apply(struct xsplice_payload *p)
{
	const char *c = xsplice_payload_param(p, "count");

	param_count = c ? atoi(c) : -1;
	return 0;
}
XSPLICE_PREAPPLY_HOOK(pre_apply);
