/*
 * An inline patch: inline_victim is
 *      +0  48 89 f8            mov  %rdi, %rax
 *      +3  48 05 00 01 00 00   add  $0x100, %rax     <- jump to inline_fix here
 *      +9  c3                  ret
 * and inline_fix adds 0x200 instead, then jumps back to +9.
 */
#include <xsplice/patch.h>
#include "ftarget.h"

extern char inline_fix[];
__asm__(".pushsection .text.inline_fix,\"ax\",@progbits\n"
	".type inline_fix,@function\n"
	"inline_fix:\n"
	"	addq $0x200, %rax\n"
	"	jmp inline_victim+9\n"
	".size inline_fix, .-inline_fix\n"
	".popsection\n");

XSPLICE_INLINE(inline_victim, 3, inline_fix, "\x48\x05\x00\x01\x00\x00", 6);
