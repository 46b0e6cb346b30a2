#include "pct.h"

/* Percentage of a part out of 200. */
int percent(int part)
{
	return part * 100 / 200;
}
