#include <unistd.h>

#include "opts.h"

/* optind lives in libc; the executable holds a copy of it (a copy
 * relocation), and that copy is the one everybody uses. */
int set_opt(int v)
{
	optind = v;
	return optind;
}

int get_opt(int v)
{
	return optind * 10 + v;
}
