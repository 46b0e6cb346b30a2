# man: manual pages, installed by `make install`.
MAN1_PAGES := $(sort $(wildcard man/*.1))
MAN3_PAGES := $(sort $(wildcard man/*.3))
MAN7_PAGES := $(sort $(wildcard man/*.7))

.PHONY: install-man
install-man:
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	$(if $(MAN1_PAGES),install -m 0644 $(MAN1_PAGES) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN3_PAGES),install -m 0644 $(MAN3_PAGES) $(DESTDIR)$(MANDIR)/man3/)
	$(if $(MAN7_PAGES),install -m 0644 $(MAN7_PAGES) $(DESTDIR)$(MANDIR)/man7/)
INSTALL_TARGETS += install-man
