/* A NOP patch: the `addq $1, %rdi` at the start of nop_victim becomes NOPs,
 * so nop_victim(n) returns n instead of n + 1. */
#include <xsplice/patch.h>
#include "ftarget.h"

XSPLICE_NOP(nop_victim, 0, 4, "\x48\x83\xc7\x01");
