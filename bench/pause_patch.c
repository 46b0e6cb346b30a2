/* The pause bench payload: replaces victim() (no thread is ever in it). */
#include <xsplice/patch.h>

extern int victim(int x);

__attribute__((noinline)) int victim_patched(int x)
{
	return x * 7 + 4;
}
XSPLICE_REPLACE(victim, victim_patched);
