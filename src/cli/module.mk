# src/cli: the xsplice command, linked statically against libxsplicectl.
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
CLI_OBJS := $(CLI_SRCS:%.c=$(B)/obj/%.o)

$(B)/bin/xsplice: $(CLI_OBJS) $(B)/lib/libxsplicectl.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -pthread -o $@ $(CLI_OBJS) $(B)/lib/libxsplicectl.a

ALL_TARGETS += $(B)/bin/xsplice

.PHONY: install-cli
install-cli: $(B)/bin/xsplice
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(B)/bin/xsplice $(DESTDIR)$(BINDIR)/
INSTALL_TARGETS += install-cli
