/* replace-world: replaces whatever is applied; greet() says "Hello Again World!". */
#include <xsplice/patch.h>
#include "ftarget.h"

static const char *greet_again(void)
{
	return "Hello Again World!";
}
XSPLICE_REPLACE(greet, greet_again);
