# src/build: the build tools (xsplice-pack, xsplice-diff, xsplice-build, xsplice-cc).
# Code shared by the tools (reading a target ELF) goes into libxsbuild.a; each
# tool has its own fragment in src/build/<tool>/module.mk, included here.
BUILD_LIB_SRCS := src/build/target.c
BUILD_LIB := $(B)/lib/libxsbuild.a
BUILD_LIBS := $(shell pkg-config --libs libdw libelf libsodium 2>/dev/null || echo -ldw -lelf -lsodium)

$(BUILD_LIB): $(BUILD_LIB_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
ALL_TARGETS += $(BUILD_LIB)

include $(sort $(wildcard src/build/*/module.mk))
