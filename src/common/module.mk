# src/common: small helpers shared by the agent, the client library and tools.
COMMON_SRCS := src/common/buf.c src/common/proto.c src/common/sockdir.c src/common/store.c
COMMON_PIC := $(COMMON_SRCS:%.c=$(B)/pic/%.o)
$(B)/lib/libxscommon.a: $(COMMON_PIC)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
ALL_TARGETS += $(B)/lib/libxscommon.a
