/* Links against p_lib's new function. */
#include <xsplice/patch.h>

extern int hold_fn(void);
extern long engine_lib_add(long x, long y);

static int hold_fn_user(void)
{
	return (int)engine_lib_add(3, 4);
}
XSPLICE_REPLACE(hold_fn, hold_fn_user);
