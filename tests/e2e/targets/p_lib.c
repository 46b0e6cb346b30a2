/* A payload that introduces a new global function for later payloads. */
#include <xsplice/patch.h>

extern long work(long x);

long engine_lib_add(long x, long y)
{
	return x + y;
}

static long work_lib(long x)
{
	return engine_lib_add(x, 2000);
}
XSPLICE_REPLACE(work, work_lib);
