/* An expectation that does not match: expect_victim starts 48 8d 04 7f 90 90. */
#include <xsplice/patch.h>
#include "ftarget.h"

static long expect_wrong(long n)
{
	return 5 * n;
}
XSPLICE_REPLACE_EXPECT(expect_victim, expect_wrong, "\xde\xad\xc0\xde\xba\xbe", 6);
