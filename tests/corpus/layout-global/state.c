#include "state.h"

struct state {
	long hits;
	int limit;
} st = {0, 42};

int hit(void)
{
	return (int)++st.hits;
}

int limit(void)
{
	return st.limit;
}
