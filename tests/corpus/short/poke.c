#include "events.h"

int poke(void)
{
	on_event();
	return events();
}
