#include <stdlib.h>

#include "ctx.h"

struct ctx {
	long a;
	long b;
};

struct ctx *ctx_new(long a, long b)
{
	struct ctx *c = malloc(sizeof(*c));
	if (c) {
		c->a = a;
		c->b = b;
	}
	return c;
}

long ctx_sum(const struct ctx *c)
{
	return c->a + c->b;
}
