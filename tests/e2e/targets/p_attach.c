/* value() = 2: the payload of the attach tests */
#include <xsplice/patch.h>

extern long value(void);

static long value_new(void)
{
	return 2;
}
XSPLICE_REPLACE(value, value_new);
