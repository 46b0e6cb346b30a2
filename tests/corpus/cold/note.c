#include <stdio.h>

int errors;

void note_error(const char *what, int v)
{
	errors += what[0] != 0 && v;
}
