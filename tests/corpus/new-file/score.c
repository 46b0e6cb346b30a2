#include "score.h"

int score(int v)
{
	return v * 10;
}
