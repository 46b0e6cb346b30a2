/* bye-world: stacked on hello-world, greet() says "Bye World!". */
#include <xsplice/patch.h>
#include "ftarget.h"

static const char *greet_bye(void)
{
	return "Bye World!";
}
XSPLICE_REPLACE(greet, greet_bye);
XSPLICE_META(description, "bye world, on top of hello world");
