/* Replaces helper_out() with code that calls a function no library has. */
#include <xsplice/patch.h>

int helper_out(int x);
extern int no_such_symbol_anywhere(int);
static int helper_out_new(int x)
{
	return no_such_symbol_anywhere(x) + 1;
}
XSPLICE_REPLACE(helper_out, helper_out_new);
