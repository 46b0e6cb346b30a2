/* An inline patch over rtarget.c's `call *%rbx` (see there): the jump goes
 * where the call and the NOPs after it were, and the replacement makes the
 * same call, then continues at +9. */
#include <xsplice/patch.h>

extern void waiter_loop(int (*fn)(void));
extern char waiter_fix[];
__asm__(".pushsection .text.waiter_fix,\"ax\",@progbits\n"
	".type waiter_fix,@function\n"
	"waiter_fix:\n"
	"	call *%rbx\n"
	"	jmp waiter_loop+9\n"
	".size waiter_fix, .-waiter_fix\n"
	".popsection\n");

XSPLICE_INLINE(waiter_loop, 4, waiter_fix, "\xff\xd3\x90\x90\x90", 5);
