# examples: the demo service (kvd), its load generator, and the demo script.
# kvd is built the way production binaries must be built for xsplice-build:
# one section per function and per datum, a GNU build-id, no LTO.
XS_TARGET_CFLAGS := -O2 -g -ffunction-sections -fdata-sections -Wl,--build-id=sha1

$(B)/examples/kvd: examples/demo/kvd.c | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -Werror $(XS_TARGET_CFLAGS) -pthread $< -o $@
$(B)/examples/kvload: examples/demo/kvload.c | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O2 -pthread $< -o $@

ALL_TARGETS += $(B)/examples/kvd $(B)/examples/kvload
