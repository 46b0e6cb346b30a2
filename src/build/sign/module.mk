# xsplice-sign: Ed25519 keys and payload signatures (libsodium).  The signing
# code (sign.c) is in libxsbuild.a, so xsplice-pack --sign uses it too.
BUILD_LIB_SRCS += src/build/sign/sign.c
$(BUILD_LIB): $(B)/obj/src/build/sign/sign.o

$(B)/bin/xsplice-sign: $(B)/obj/src/build/sign/main.o $(BUILD_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD_LIB) $(BUILD_LIBS)
ALL_TARGETS += $(B)/bin/xsplice-sign
