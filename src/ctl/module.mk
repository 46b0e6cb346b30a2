# src/ctl: libxsplicectl, the client library (shared + static).  Only the
# XSCTL_API functions of include/xsplice/ctl.h are exported.
CTL_SRCS := $(sort $(wildcard src/ctl/*.c))
CTL_PIC := $(CTL_SRCS:%.c=$(B)/pic/%.o)
CTL_LIBS := $(B)/lib/libxsplicectl.so $(B)/lib/libxsplicectl.a

$(B)/lib/libxsplicectl.so: $(CTL_PIC) $(COMMON_PIC)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libxsplicectl.so -Wl,-z,defs -o $@ $^

$(B)/lib/libxsplicectl.a: $(CTL_PIC) $(COMMON_PIC)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

ALL_TARGETS += $(CTL_LIBS)

.PHONY: install-ctl
install-ctl: $(CTL_LIBS)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)/xsplice
	install -m 0755 $(B)/lib/libxsplicectl.so $(DESTDIR)$(LIBDIR)/
	install -m 0644 $(B)/lib/libxsplicectl.a $(DESTDIR)$(LIBDIR)/
	install -m 0644 include/xsplice/ctl.h $(DESTDIR)$(INCDIR)/xsplice/
INSTALL_TARGETS += install-ctl

# unit test of the attach's symbol lookup (tests/unit/test_remote_sym.c)
UNIT_SRCS_remote_sym := src/ctl/remote_sym.c
UNIT_LIBS_remote_sym := -ldl
