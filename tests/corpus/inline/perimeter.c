#include "util.h"

int perimeter(int side)
{
	return 4 * scale(side);
}
