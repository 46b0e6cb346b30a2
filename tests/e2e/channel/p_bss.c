/* A small payload with a 255 MiB .bss (tests/e2e/test_channel.py). */
#include <xsplice/patch.h>

extern int answer(void);

static char big[255u << 20];

static int answer_big(void)
{
	big[VARIANT]++;
	return 10 + VARIANT + big[4096];
}
XSPLICE_REPLACE(answer, answer_big);
