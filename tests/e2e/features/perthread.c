/* A per-thread action: after pt_value() is switched, every thread records
 * its tid and what pt_value() returns on it. */
#include <xsplice/patch.h>
#include "ftarget.h"

static long pt_value_new(void)
{
	return 2;
}
XSPLICE_REPLACE(pt_value, pt_value_new);

static void on_each_thread(void)
{
	pt_record();
}
XSPLICE_PER_THREAD(on_each_thread);
