# src/ctl: libxsplicectl, the client library (shared + static).  Only the
# XSCTL_API functions of include/xsplice/ctl.h are exported.
CTL_SRCS := $(sort $(wildcard src/ctl/*.c))
CTL_PIC := $(CTL_SRCS:%.c=$(B)/pic/%.o)
# The shared library is libxsplicectl.so.0 (its SONAME), with a symbol
# version script; libxsplicectl.so is the link-time name (a symlink).
CTL_SONAME := libxsplicectl.so.0
CTL_LIBS := $(B)/lib/$(CTL_SONAME) $(B)/lib/libxsplicectl.so $(B)/lib/libxsplicectl.a

# The store verifies payloads with the core (libxscore.a), linked in.
$(B)/lib/$(CTL_SONAME): $(CTL_PIC) $(COMMON_PIC) $(B)/lib/libxscore.a src/ctl/libxsplicectl.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,$(CTL_SONAME) -Wl,--version-script,src/ctl/libxsplicectl.map \
		-Wl,-z,defs -pthread -o $@ $(CTL_PIC) $(COMMON_PIC) $(B)/lib/libxscore.a

$(B)/lib/libxsplicectl.so: $(B)/lib/$(CTL_SONAME)
	ln -sf $(CTL_SONAME) $@

$(B)/lib/libxsplicectl.a: $(CTL_PIC) $(COMMON_PIC) $(CORE_PIC) $(ARCH_PIC)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

ALL_TARGETS += $(CTL_LIBS)

.PHONY: install-ctl
install-ctl: $(CTL_LIBS)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)/xsplice
	install -m 0755 $(B)/lib/$(CTL_SONAME) $(DESTDIR)$(LIBDIR)/
	ln -sf $(CTL_SONAME) $(DESTDIR)$(LIBDIR)/libxsplicectl.so
	install -m 0644 $(B)/lib/libxsplicectl.a $(DESTDIR)$(LIBDIR)/
	install -m 0644 include/xsplice/ctl.h $(DESTDIR)$(INCDIR)/xsplice/
INSTALL_TARGETS += install-ctl

# unit test of the attach's symbol lookup (tests/unit/test_remote_sym.c)
UNIT_SRCS_remote_sym := src/ctl/remote_sym.c
UNIT_LIBS_remote_sym := -ldl
# Unit test of the report reader and the store's rules (tests/unit/test_fleet.c).
UNIT_SRCS_fleet := src/ctl/json.c src/common/store.c
