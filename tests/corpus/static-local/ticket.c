#include "ticket.h"

int visits(void)
{
	static int seen;
	return ++seen;
}

/* Hands out ticket numbers; the counter lives in a static local. */
int ticket(void)
{
	static int next;
	next += 1;
	return next;
}
