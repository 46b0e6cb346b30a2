/* A known-good payload the robustness test applies and reverts while a
 * mutated payload sits in the process: the stack check then reads the
 * unwind tables of every payload, the mutant's included. */
#include <xsplice/patch.h>

extern const char *label(void);

static const char *label_probe(void)
{
	return "probe";
}
XSPLICE_REPLACE(label, label_probe);
