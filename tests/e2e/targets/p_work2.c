/* work(x) = x + 2000 (a second patch of the same function) */
#include <xsplice/patch.h>

extern long work(long x);

static long work_2000(long x)
{
	return x + 2000;
}
XSPLICE_REPLACE(work, work_2000);
