/* replaces outer_main, the start routine of etarget's "outer" thread */
#include <xsplice/patch.h>

extern void *outer_main(void *a);

static void *outer_main_2(void *a)
{
	return a;
}
XSPLICE_REPLACE(outer_main, outer_main_2);
