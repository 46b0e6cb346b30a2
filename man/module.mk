# man: manual pages, installed by `make install`.
MAN1_PAGES := $(sort $(wildcard man/*.1))

.PHONY: install-man
install-man:
	install -d $(DESTDIR)$(MANDIR)/man1
	$(if $(MAN1_PAGES),install -m 0644 $(MAN1_PAGES) $(DESTDIR)$(MANDIR)/man1/)
INSTALL_TARGETS += install-man
