/* A NOP patch inside a function (offset 3, so an expectation is required):
 * inline_victim's `add $0x100, %rax` becomes NOPs. */
#include <xsplice/patch.h>
#include "ftarget.h"

XSPLICE_NOP(inline_victim, 3, 6, "\x48\x05\x00\x01\x00\x00");
