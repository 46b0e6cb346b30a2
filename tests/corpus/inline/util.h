#ifndef UTIL_H
#define UTIL_H
/* Fixed-point scaling shared by both modules; inlined into every caller. */
static inline int scale(int v)
{
	return v * 2;
}
int area(int side);
int perimeter(int side);
#endif
