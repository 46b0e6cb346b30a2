# tests/link: the link test program and the SDK example it links.
#
# linktest is the target of examples/sdk/fix.c: built like a production
# binary (unstripped here, with a build-id); tests/e2e/test_pack_link.py
# packs the payload against it and runs a stripped copy.  The example shop
# program is built too, so that the SDK example is always compiled.
SDK_TARGET_CFLAGS := -O2 -g -ffunction-sections -fdata-sections -Wl,--build-id=sha1
SDK_DIR := examples/sdk

$(B)/tests/link/linktest: tests/link/linktest.c $(SDK_DIR)/app.c $(SDK_DIR)/app.h \
		$(B)/lib/libxscore.a | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(XS_CFLAGS) -I$(SDK_DIR) $(SDK_TARGET_CFLAGS) -o $@ tests/link/linktest.c \
		$(SDK_DIR)/app.c $(B)/lib/libxscore.a -ldl

$(B)/examples/sdk/shop: $(SDK_DIR)/app.c $(SDK_DIR)/main.c $(SDK_DIR)/app.h | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) $(SDK_TARGET_CFLAGS) -o $@ $(SDK_DIR)/app.c $(SDK_DIR)/main.c

ALL_TARGETS += $(B)/tests/link/linktest $(B)/examples/sdk/shop
