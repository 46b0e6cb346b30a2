# tests/corpus: the xsplice-build corpus.  Each case directory holds a small
# program, its Makefile, fix.patch and case.txt (the expected outcome); they
# run end to end in live processes as part of check-e2e
# (tests/e2e/test_corpus*.py).  `make check-corpus` runs only them, plus the
# real-project tests (Lua 5.4.4, tests/corpus/real/lua.sh; cJSON 1.7.15,
# tests/corpus/real/cjson.sh).
.PHONY: check-corpus
check-corpus: all
	$(PYTEST) $(PYTEST_FLAGS) tests/e2e/test_corpus.py tests/e2e/test_corpus_tools.py \
		tests/e2e/test_corpus_real.py tests/e2e/test_build_driver.py
