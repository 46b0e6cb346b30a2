# src/common: small helpers shared by the agent, the client library and tools.
COMMON_SRCS := src/common/buf.c src/common/proto.c src/common/sockdir.c src/common/ed25519.c src/common/store.c
COMMON_PIC := $(COMMON_SRCS:%.c=$(B)/pic/%.o)
$(B)/lib/libxscommon.a: $(COMMON_PIC)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
ALL_TARGETS += $(B)/lib/libxscommon.a

# The agent's own Ed25519 verifier (payload signatures), tested against
# libsodium and the RFC 8032 vectors by tests/unit/test_ed25519.c.
UNIT_SRCS_ed25519 := src/common/ed25519.c
UNIT_LIBS_ed25519 := -lsodium
