/* A 10-byte NOP patch over rtarget.c's nop_spot (a 9-byte and a 1-byte NOP
 * replace one 10-byte movabs). */
#include <xsplice/patch.h>

extern void nop_spot(void);
XSPLICE_NOP(nop_spot, 0, 10, "\x48\xb8\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4");
