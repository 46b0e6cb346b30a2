/*
 * remote_sym.c: finding a library in /proc/PID/maps and one of its dynamic
 * symbols, checked against the dynamic loader's own answer in this very
 * process (dlvsym on libc.so.6).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/inject.h"

static void *libc_sym(const char *name, const char *version)
{
	void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	void *p = version ? dlvsym(h, name, version) : dlsym(h, name);
	dlclose(h);
	return p;
}

static void finds_a_plain_function(void **state)
{
	(void)state;
	struct xs_remote_lib lib;
	char why[256] = "";
	uint64_t addr = 0;
	assert_int_equal(xs_remote_lib_find(getpid(), "libc.so.6", &lib), 0);
	assert_true(lib.text_start < lib.text_end);
	assert_int_equal(xs_remote_sym(getpid(), &lib, "getppid", &addr, why, sizeof(why)), 0);
	assert_ptr_equal((void *)(uintptr_t)addr, libc_sym("getppid", NULL));
	assert_true(addr >= lib.text_start && addr < lib.text_end);
}

/* dlopen has two versions in glibc >= 2.34: the default one is taken. */
static void takes_the_default_version(void **state)
{
	(void)state;
	struct xs_remote_lib lib;
	char why[256] = "";
	uint64_t addr = 0;
	void *want = libc_sym("dlopen", "GLIBC_2.34");
	if (!want)
		skip(); /* an older glibc: dlopen lives in libdl */
	assert_int_equal(xs_remote_lib_find(getpid(), "libc.so.6", &lib), 0);
	assert_int_equal(xs_remote_sym(getpid(), &lib, "dlopen", &addr, why, sizeof(why)), 0);
	assert_ptr_equal((void *)(uintptr_t)addr, want);
}

static void missing_symbol_and_library(void **state)
{
	(void)state;
	struct xs_remote_lib lib;
	char why[256] = "";
	uint64_t addr = 0;
	assert_int_equal(xs_remote_lib_find(getpid(), "libc.so.6", &lib), 0);
	assert_int_equal(
	    xs_remote_sym(getpid(), &lib, "no_such_function_here", &addr, why, sizeof(why)),
	    -ENOENT);
	assert_non_null(strstr(why, "does not define no_such_function_here"));
	/* a prefix of a real name is not that name */
	assert_int_equal(xs_remote_sym(getpid(), &lib, "getpp", &addr, why, sizeof(why)), -ENOENT);
	assert_int_equal(xs_remote_lib_find(getpid(), "libnot-mapped-here.so.1", &lib), -ENOENT);
	assert_int_equal(xs_remote_lib_find(getpid(), "libc.so", &lib), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(finds_a_plain_function),
	    cmocka_unit_test(takes_the_default_version),
	    cmocka_unit_test(missing_symbol_and_library),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
