/* A payload whose metadata tries to forge a line and drive the terminal. */
#include <xsplice/patch.h>

extern int answer(void);

static int answer_fixed(void)
{
	return 2 + VARIANT;
}
XSPLICE_REPLACE(answer, answer_fixed);
XSPLICE_META(description, "fix\nfake: APPLIED\x1b]0;owned\x07\x1b[2J");
