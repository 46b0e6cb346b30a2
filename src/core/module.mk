# src/core: host-agnostic verify / layout / link of a payload.  Together with
# the ISA code (src/arch/*/module.mk adds its objects as prerequisites of the
# same archive) it makes build/lib/libxscore.a, position independent so that
# the agent (a shared object) and the tools can both link it.
CORE_SRCS := $(sort $(wildcard src/core/*.c))
CORE_PIC := $(CORE_SRCS:%.c=$(B)/pic/%.o)

$(B)/lib/libxscore.a: $(CORE_PIC)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^
ALL_TARGETS += $(B)/lib/libxscore.a
