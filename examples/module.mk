# examples: the demo service (kvd), its load generator, and the demo script.
# kvd is built the way production binaries must be built for xsplice-build:
# through xsplice-cc (one section per function and per datum, a GNU
# build-id, no LTO), with the service's own Makefile flags.
KVD_SRCS := examples/demo/kvd.c examples/demo/proto.c

$(B)/examples/kvd: $(KVD_SRCS) examples/demo/proto.h $(B)/bin/xsplice-cc | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(B)/bin/xsplice-cc $(CC) -std=gnu11 -Wall -Wextra -Werror -O2 -g -pthread $(KVD_SRCS) -o $@
$(B)/examples/kvload: examples/demo/kvload.c | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O2 -pthread $< -o $@

ALL_TARGETS += $(B)/examples/kvd $(B)/examples/kvload
