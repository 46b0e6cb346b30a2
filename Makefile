# xsplice — non-recursive GNU Make build.
#
#   make            build everything into build/
#   make check      every test (unit, fuzz smoke, end-to-end)
#   make demo       live-patch the demo service end to end
#   make bench      benchmarks, written to docs/performance.md
#   make fuzz       a long libFuzzer run over verify+link
#   make install PREFIX=/usr/local DESTDIR=
#   make uninstall PREFIX=/usr/local DESTDIR=
#
# Each directory contributes a module.mk fragment that appends to the
# variables below; nothing recurses.

.DEFAULT_GOAL := all
SHELL := /bin/bash

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
LIBDIR := $(PREFIX)/lib
INCDIR := $(PREFIX)/include
MANDIR := $(PREFIX)/share/man
PYTHON ?= /usr/bin/python3

B := build
CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang

VERSION := 0.1.0
WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
XS_CFLAGS := -std=gnu11 $(WARN) -Iinclude -Isrc -D_GNU_SOURCE -DXSPLICE_VERSION='"$(VERSION)"' \
	-fno-strict-aliasing
LIB_CFLAGS := -fPIC -fvisibility=hidden
DEPFLAGS = -MMD -MP

# Filled by fragments.
ALL_TARGETS :=
CHECK_TARGETS :=
BENCH_TARGETS :=
INSTALL_TARGETS :=
CLEAN_FILES :=

# Object rules: $(B)/pic/% for library objects, $(B)/obj/% for programs.
$(B)/pic/%.o: %.c | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(XS_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
$(B)/obj/%.o: %.c | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(XS_CFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# Build dependencies are installed (with a message) when something is missing.
$(B)/.deps-ok: scripts/install-deps.sh
	@mkdir -p $(B)
	@bash scripts/install-deps.sh
	@touch $@

.PHONY: deps
deps:
	@bash scripts/install-deps.sh

include $(sort $(wildcard src/*/module.mk src/arch/*/module.mk))
include $(sort $(wildcard tests/module.mk tests/*/module.mk examples/module.mk bench/module.mk python/module.mk man/module.mk))
include $(sort $(wildcard contrib/*/module.mk ansible/module.mk))

.PHONY: all check demo bench install clean fuzz
all: $(ALL_TARGETS)

check: all $(CHECK_TARGETS)
	@echo "make check: all test suites passed"

demo: all
	@bash examples/demo/demo.sh

bench: all $(BENCH_TARGETS)

install: all $(INSTALL_TARGETS)
	@bash scripts/install.sh $(B) $(PREFIX) '$(DESTDIR)' $(VERSION)

.PHONY: uninstall
uninstall:
	@bash scripts/uninstall.sh $(B) $(PREFIX) '$(DESTDIR)' $(PY_SITE)

clean:
	rm -rf $(B) $(CLEAN_FILES)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
