# tests/unit: cmocka unit tests, one binary per tests/unit/test_NAME.c.
#
# Every test links elfgen.c and the sources of libxscore (core + arch), all
# compiled again with AddressSanitizer and UBSan into build/asan/, so that
# an out-of-bounds read or an undefined operation in the verifier or the
# linker fails the test instead of passing by luck.
#
# A test that needs more sources lists them in UNIT_SRCS_NAME (and extra
# link flags in UNIT_LIBS_NAME); set these in the module.mk of the directory
# under test (src/*/module.mk is read before this file), e.g.
#     UNIT_SRCS_shadow := src/agent/shadow.c
#     UNIT_LIBS_shadow := -lpthread
UNIT_NAMES := $(patsubst tests/unit/test_%.c,%,$(sort $(wildcard tests/unit/test_*.c)))
UNIT_BINS := $(UNIT_NAMES:%=$(B)/tests/unit/test_%)
UNIT_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(or $(shell pkg-config --libs cmocka 2>/dev/null),-lcmocka)
UNIT_COMMON_OBJS := $(patsubst %.c,$(B)/asan/%.o,tests/unit/elfgen.c tests/unit/ut.c $(CORE_SRCS) $(ARCH_SRCS))

# defaults for tests other parts keep here (overridable from their module.mk)
UNIT_SRCS_shadow ?= src/agent/shadow.c
UNIT_LIBS_shadow ?= -lpthread

# ---- test_unwind (owned by the unwind helper) --------------------------------
# The unwinder and the maps reader under ASan, plus a call chain compiled -O2
# twice without sanitizers: with frame pointers (fp_*) and without (nofp_*).
UNIT_SRCS_unwind ?= src/agent/unwind.c src/agent/unwind_cfa.c src/agent/maps.c \
                    src/agent/rawsys.c
UNIT_LIBS_unwind ?= -lpthread
UNWIND_CHAIN_OBJS := $(B)/unit-unwind/chain_fp.o $(B)/unit-unwind/chain_nofp.o
$(B)/unit-unwind/chain_fp.o: tests/unit/unwind_chain.c | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(XS_CFLAGS) -O2 -g -fno-omit-frame-pointer -DCHAIN_PREFIX=fp_ $(DEPFLAGS) -c $< -o $@
$(B)/unit-unwind/chain_nofp.o: tests/unit/unwind_chain.c | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(XS_CFLAGS) -O2 -g -fomit-frame-pointer -DCHAIN_PREFIX=nofp_ $(DEPFLAGS) -c $< -o $@
$(B)/tests/unit/test_unwind: $(UNWIND_CHAIN_OBJS)
# ---- end of test_unwind ------------------------------------------------------

$(B)/asan/%.o: %.c | $(B)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(XS_CFLAGS) $(CFLAGS) $(UNIT_SAN) $(CMOCKA_CFLAGS) -Itests/unit $(DEPFLAGS) -c $< -o $@

define UNIT_template
$(B)/tests/unit/test_$(1): $(B)/asan/tests/unit/test_$(1).o $(UNIT_COMMON_OBJS) \
		$$(patsubst %.c,$(B)/asan/%.o,$$(UNIT_SRCS_$(1)))
	@mkdir -p $$(@D)
	$$(CC) $(UNIT_SAN) -o $$@ $$^ $(CMOCKA_LIBS) $$(UNIT_LIBS_$(1))
endef
$(foreach t,$(UNIT_NAMES),$(eval $(call UNIT_template,$(t))))

.PHONY: check-unit unit-tests
unit-tests: $(UNIT_BINS)
check-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done
	@echo "check-unit: $(words $(UNIT_BINS)) suites passed"
CHECK_TARGETS += check-unit
