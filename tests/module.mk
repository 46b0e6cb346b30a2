# tests: end-to-end suites (pytest) over the built tree.  Unit tests and
# fuzzing live in tests/unit/module.mk and tests/fuzz/module.mk.
PYTEST := $(PYTHON) -m pytest
# Every test has a hard time limit so a hung target can never hang CI; the
# slowest are listed, to keep `make check` within its 15-minute budget, and
# every skipped test with its reason.
PYTEST_FLAGS ?= -q -rs -p timeout --timeout=300 --durations=15

.PHONY: check-e2e
# The unit suites first (they take seconds): a failure there is not hidden
# behind minutes of end-to-end output.
check-e2e: all | check-unit
	$(PYTEST) $(PYTEST_FLAGS) tests/e2e
CHECK_TARGETS += check-e2e
