/* An expectation that matches expect_victim's first 8 bytes. */
#include <xsplice/patch.h>
#include "ftarget.h"

static long expect_fixed(long n)
{
	return 4 * n;
}
XSPLICE_REPLACE_EXPECT(expect_victim, expect_fixed, "\x48\x8d\x04\x7f\x90\x90\x90\x90", 8);
