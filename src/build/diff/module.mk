# xsplice-diff: compare original and patched objects, emit the changed code.
DIFF_SRCS := $(sort $(wildcard src/build/diff/*.c))
DIFF_OBJS := $(DIFF_SRCS:%.c=$(B)/obj/%.o)

$(B)/bin/xsplice-diff: $(DIFF_OBJS) $(BUILD_LIB) $(B)/lib/libxscore.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(DIFF_OBJS) $(BUILD_LIB) $(B)/lib/libxscore.a $(BUILD_LIBS)
ALL_TARGETS += $(B)/bin/xsplice-diff
