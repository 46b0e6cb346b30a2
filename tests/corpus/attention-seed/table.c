#include <stdlib.h>
#include <string.h>

#include "table.h"

#define SLOTS 64

static unsigned seed = 5381;
static char *slots[SLOTS];

static unsigned hash(const char *s)
{
	unsigned h = seed;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* Open addressing; returns the slot, -1 when full. */
int table_put(const char *key)
{
	unsigned h = hash(key);
	for (unsigned i = 0; i < SLOTS; i++) {
		unsigned k = (h + i) % SLOTS;
		if (!slots[k]) {
			slots[k] = strdup(key);
			return (int)k;
		}
		if (strcmp(slots[k], key) == 0)
			return (int)k;
	}
	return -1;
}

int table_has(const char *key)
{
	unsigned h = hash(key);
	for (unsigned i = 0; i < SLOTS; i++) {
		unsigned k = (h + i) % SLOTS;
		if (!slots[k])
			return 0;
		if (strcmp(slots[k], key) == 0)
			return 1;
	}
	return 0;
}

int table_count(void)
{
	int n = 0;
	for (unsigned k = 0; k < SLOTS; k++)
		n += slots[k] != NULL;
	return n;
}
