# src/agent: libxsplice.so, the agent loaded into target processes.  Every
# src/agent/*.c is part of it, with the core (libxscore.a) and the common
# helpers (libxscommon.a) linked in statically.  Objects are built with
# -fvisibility=hidden, so only the XSPLICE_API functions are exported; the
# library needs libc (and its libpthread / libdl parts) and nothing else.
AGENT_SRCS := $(sort $(wildcard src/agent/*.c))
AGENT_PIC := $(AGENT_SRCS:%.c=$(B)/pic/%.o)
AGENT_SO := $(B)/lib/libxsplice.so

$(AGENT_SO): $(AGENT_PIC) $(B)/lib/libxscore.a $(B)/lib/libxscommon.a
	@mkdir -p $(@D)
	$(CC) -shared -pthread -Wl,-soname,libxsplice.so -Wl,-z,defs -Wl,-z,now \
		-Wl,--exclude-libs,ALL -o $@ $(AGENT_PIC) $(B)/lib/libxscore.a $(B)/lib/libxscommon.a
ALL_TARGETS += $(AGENT_SO)

# The agent exports its public API and nothing else (but GDB's two JIT
# interface symbols, src/agent/gdbjit.c), and needs only libc.
.PHONY: check-agent-exports
check-agent-exports: $(AGENT_SO)
	@bad=$$(nm -D --defined-only $(AGENT_SO) | awk '{print $$3}' | grep -v '^xsplice_' | \
		grep -vx -e __jit_debug_register_code -e __jit_debug_descriptor || true); \
	if [ -n "$$bad" ]; then echo "libxsplice.so exports non-API symbols: $$bad"; exit 1; fi
	@bad=$$(readelf -d $(AGENT_SO) | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -v '^libc\.so' || true); \
	if [ -n "$$bad" ]; then echo "libxsplice.so needs more than libc: $$bad"; exit 1; fi
	@echo "libxsplice.so: exports only xsplice_* API, needs only libc"
CHECK_TARGETS += check-agent-exports

# Unit test of the rendezvous (tests/unit/test_quiesce.c), built by
# tests/unit/module.mk with these sources under ASan.
UNIT_SRCS_quiesce := src/agent/quiesce.c src/agent/threadinfo.c src/agent/sysrestart.c \
	src/agent/rawsys.c
UNIT_LIBS_quiesce := -lpthread
