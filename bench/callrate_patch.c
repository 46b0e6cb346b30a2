/* The payload for the call-rate bench: the same body as the target's tiny(). */
#include <xsplice/patch.h>

extern int tiny(int x);

__attribute__((noinline)) int tiny_patched(int x)
{
	return x * 3 + 1;
}
XSPLICE_REPLACE(tiny, tiny_patched);
XSPLICE_META(description, "call-rate bench: identical replacement");
