/* hello-world: greet() says "Hello World"; load and unload hooks count
 * their calls in target variables. */
#include <xsplice/patch.h>
#include "ftarget.h"

static const char *greet_hello(void)
{
	return "Hello World";
}
XSPLICE_REPLACE(greet, greet_hello);

static void hello_load(void)
{
	hello_loads++;
}
static void hello_unload(void)
{
	hello_unloads++;
}
XSPLICE_LOAD_HOOK(hello_load);
XSPLICE_UNLOAD_HOOK(hello_unload);

XSPLICE_META(description, "LIVEPATCH_RULEZ hello world");
XSPLICE_META(version, "1.0");
