#include <stdlib.h>
#include <string.h>

#include "names.h"

struct name {
	char *text;
};

static struct name *names[64];
static int count;

int name_add(const char *text)
{
	struct name *n = malloc(sizeof(*n));
	if (!n || count == 64) {
		free(n);
		return -1;
	}
	n->text = strdup(text);
	names[count++] = n;
	return count;
}

/* Drops the last name; returns how many are left. */
int name_forget(void)
{
	if (count == 0)
		return 0;
	free(names[--count]);
	return count;
}

const char *name_last(void)
{
	return count ? names[count - 1]->text : "-";
}
