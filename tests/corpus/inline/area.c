#include "util.h"

int area(int side)
{
	return scale(side) * scale(side);
}
