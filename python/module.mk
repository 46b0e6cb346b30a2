# python: the xsplice module (ctypes bindings over libxsplicectl.so).
# `make install` puts it in $(PREFIX)/lib/python3/dist-packages/xsplice and
# records where libxsplicectl.so was installed ($(LIBDIR)) in _paths.py.
PY_PKG_SRCS := $(sort $(wildcard python/xsplice/*.py))
PY_PKG_DIR = $(DESTDIR)$(PREFIX)/lib/python3/dist-packages/xsplice

.PHONY: install-python
install-python: install-ctl
	install -d $(PY_PKG_DIR)
	install -m 0644 $(PY_PKG_SRCS) $(PY_PKG_DIR)/
	printf '# written by make install\nLIBDIR = %s\n' "'$(LIBDIR)'" > $(PY_PKG_DIR)/_paths.py
INSTALL_TARGETS += install-python
