# xsplice-diff: compare original and patched objects, emit the changed code.
DIFF_SRCS := $(sort $(wildcard src/build/diff/*.c))
DIFF_OBJS := $(DIFF_SRCS:%.c=$(B)/obj/%.o)
# libdw (elfutils) reads the DWARF of both builds for layout changes
DIFF_LIBS := $(shell pkg-config --libs libdw 2>/dev/null || echo -ldw -lelf)

$(B)/bin/xsplice-diff: $(DIFF_OBJS) $(BUILD_LIB) $(B)/lib/libxscore.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(DIFF_OBJS) $(BUILD_LIB) $(B)/lib/libxscore.a $(BUILD_LIBS) $(DIFF_LIBS)
ALL_TARGETS += $(B)/bin/xsplice-diff
