#include "config.h"

int max_clients_limit = 10;

int max_clients(void)
{
	return max_clients_limit;
}
