# bench: `make bench` runs bench/run.py against the built tree and writes
# docs/performance.md.
.PHONY: bench-run
bench-run: all
	$(PYTHON) bench/run.py
BENCH_TARGETS += bench-run
