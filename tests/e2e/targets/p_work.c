/* work(x) = x + 1000 */
#include <xsplice/patch.h>

extern long work(long x);

static long work_1000(long x)
{
	return x + 1000;
}
XSPLICE_REPLACE(work, work_1000);
