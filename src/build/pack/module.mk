# xsplice-pack: link payload objects and pack them for one target binary.
PACK_SRCS := $(sort $(wildcard src/build/pack/*.c))
PACK_OBJS := $(PACK_SRCS:%.c=$(B)/obj/%.o)

$(B)/bin/xsplice-pack: $(PACK_OBJS) $(BUILD_LIB) $(B)/lib/libxscore.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(PACK_OBJS) $(BUILD_LIB) $(B)/lib/libxscore.a $(BUILD_LIBS)
ALL_TARGETS += $(B)/bin/xsplice-pack
