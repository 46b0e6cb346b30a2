#include "bank.h"

static int entries;

void audit(const char *op, int amount)
{
	if (op[0] && amount)
		entries++;
}

int audit_count(void)
{
	return entries;
}
