#include "stats.h"

struct stats {
	int hits;
} stats;

int hit(void)
{
	return ++stats.hits;
}

int hits(void)
{
	return stats.hits;
}
