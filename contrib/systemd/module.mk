# contrib/systemd: units for services under the agent and for `sync --all`
# when the store changes.  `make install` puts the units into
# $(PREFIX)/lib/systemd/system and the drop-in into
# $(PREFIX)/share/xsplice/systemd; `make check` verifies them with
# systemd-analyze (built with the build tree's paths, next to a sample
# service carrying the drop-in).
SYSTEMD_UNITDIR = $(PREFIX)/lib/systemd/system
SD_SUBST = sed -e 's|@BINDIR@|$(1)|g' -e 's|@LIBDIR@|$(2)|g'

.PHONY: install-systemd check-systemd
install-systemd:
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(PREFIX)/share/xsplice/systemd
	$(call SD_SUBST,$(BINDIR),$(LIBDIR)) contrib/systemd/xsplice-sync.service.in \
		> $(DESTDIR)$(SYSTEMD_UNITDIR)/xsplice-sync.service
	install -m 0644 contrib/systemd/xsplice-sync.path contrib/systemd/xsplice-sync.timer \
		$(DESTDIR)$(SYSTEMD_UNITDIR)/
	$(call SD_SUBST,$(BINDIR),$(LIBDIR)) contrib/systemd/xsplice-agent.conf.in \
		> $(DESTDIR)$(PREFIX)/share/xsplice/systemd/xsplice-agent.conf
INSTALL_TARGETS += install-systemd

check-systemd: $(B)/bin/xsplice $(AGENT_SO)
	@bash contrib/systemd/verify.sh $(B)
CHECK_TARGETS += check-systemd
