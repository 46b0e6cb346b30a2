/* replaces main: the outermost frame of the main thread, never switchable */
#include <xsplice/patch.h>

extern int main(int argc, char **argv);

static int main_2(int argc, char **argv)
{
	(void)argc, (void)argv;
	return 2;
}
XSPLICE_REPLACE(main, main_2);
