# src/arch/x86_64: jump / NOP encoding and relocations for x86-64, plus the
# generic relocation arithmetic of src/arch.  Archived into libxscore.a (the
# recipe is in src/core/module.mk; prerequisites of both rules add up).
ARCH_SRCS := src/arch/reloc.c $(sort $(wildcard src/arch/x86_64/*.c))
ARCH_PIC := $(ARCH_SRCS:%.c=$(B)/pic/%.o)

$(B)/lib/libxscore.a: $(ARCH_PIC)
