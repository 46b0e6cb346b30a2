# python: the xsplice module (ctypes bindings over libxsplicectl.so).
# `make install` puts it where Debian's python3 looks: /usr/lib/python3/
# dist-packages for PREFIX=/usr, $(PREFIX)/lib/python3.X/dist-packages for any
# other prefix (/usr/local/lib/python3.X/dist-packages is on python3's path),
# and records where libxsplicectl.so.0 was installed ($(LIBDIR)) in _paths.py.
PY_PKG_SRCS := $(sort $(wildcard python/xsplice/*.py))
PY_XY = $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PY_SITE = $(if $(filter /usr /usr/,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/python$(PY_XY)/dist-packages)
PY_PKG_DIR = $(DESTDIR)$(PY_SITE)/xsplice

.PHONY: install-python
install-python: install-ctl
	install -d $(PY_PKG_DIR)
	install -m 0644 $(PY_PKG_SRCS) $(PY_PKG_DIR)/
	printf '# written by make install\nLIBDIR = %s\n' "'$(LIBDIR)'" > $(PY_PKG_DIR)/_paths.py
INSTALL_TARGETS += install-python
