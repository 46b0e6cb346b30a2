/*
 * Unit tests for the fleet's client-side readers: the JSON reader of the
 * agent's reports (src/ctl/json.c: untrusted input, bounded) and the patch
 * store's names and trust rules (src/common/store.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/store.h"
#include "ctl/json.h"

static struct xs_json *parse(const char *s)
{
	return xs_json_parse(s, strlen(s));
}

static void json_reads_an_agent_report(void **state)
{
	(void)state;
	const char *doc = "{\"version\":\"0.1.0\",\"pid\":42,\"exe\":\"/bin/a\\\"b\\u00e9\","
	                  "\"modules\":[{\"path\":\"/x\",\"build_id\":\"ab12\"},"
	                  "{\"path\":\"\",\"build_id\":\"\"}],\"ok\":true,\"none\":null}\n";
	struct xs_json *j = parse(doc);
	assert_non_null(j);
	assert_int_equal(xs_json_num(j, "pid"), 42);
	assert_string_equal(xs_json_str(j, "exe"), "/bin/a\"b\xc3\xa9");
	assert_int_equal(xs_json_num(j, "ok"), 1);
	assert_int_equal(xs_json_get(j, "none")->type, XS_J_NULL);
	const struct xs_json *mods = xs_json_get(j, "modules");
	assert_non_null(mods);
	assert_int_equal(mods->type, XS_J_ARR);
	assert_string_equal(xs_json_str(mods->child, "build_id"), "ab12");
	assert_string_equal(xs_json_str(mods->child->next, "path"), "");
	assert_null(mods->child->next->next);
	/* absent keys, wrong types: empty answers, no crash */
	assert_string_equal(xs_json_str(j, "missing"), "");
	assert_string_equal(xs_json_str(j, "pid"), "");
	assert_null(xs_json_get(mods, "path"));
	xs_json_free(j);
}

static void json_refuses_every_truncation_and_garbage(void **state)
{
	(void)state;
	const char *doc = "{\"payloads\":[{\"name\":\"store:x\",\"state\":\"APPLIED\","
	                  "\"applied_order\":3,\"metadata\":{\"k\":\"v\"}}]}";
	size_t n = strlen(doc);
	/* every proper prefix is invalid (read under ASan: no byte past len) */
	for (size_t i = 0; i < n; i++) {
		char *cut = malloc(i ? i : 1);
		memcpy(cut, doc, i);
		struct xs_json *j = xs_json_parse(cut, i);
		assert_null(j);
		free(cut);
	}
	static const char *const bad[] = {
	    "",    "{",   "}",          "[1,]",  "{\"a\"}", "{\"a\":}", "{a:1}",      "\"\\u12\"",
	    "tru", "nul", "{\"a\":1}x", "[1 2]", "--",      "\"abc",    "{\"a\":1,}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(parse(bad[i]));
}

static void json_depth_is_bounded(void **state)
{
	(void)state;
	char deep[4096];
	size_t n = 0;
	for (int i = 0; i < 2000; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	assert_null(xs_json_parse(deep, n));
	/* 20 levels are fine */
	char ok[64];
	memset(ok, '[', 20);
	memset(ok + 20, ']', 20);
	struct xs_json *j = xs_json_parse(ok, 40);
	assert_non_null(j);
	xs_json_free(j);
}

static void json_survives_mutations(void **state)
{
	(void)state;
	const char *doc = "{\"modules\":[{\"path\":\"/lib/a\\n\",\"build_id\":\"00ff\"}],"
	                  "\"n\":-1.5e3,\"t\":[true,false,null,\"\\\\\"]}";
	size_t n = strlen(doc);
	char *buf = malloc(n);
	srand(7);
	for (int round = 0; round < 20000; round++) {
		memcpy(buf, doc, n);
		for (int k = 0; k < 1 + round % 4; k++)
			buf[rand() % n] = (char)(rand() % 256);
		xs_json_free(xs_json_parse(buf, n));
	}
	free(buf);
}

static void store_names(void **state)
{
	(void)state;
	const char *why;
	char name[XS_STORE_NAME_MAX + 1];
	assert_int_equal(xs_store_check_name("cve-2024.1", &why), 0);
	assert_int_equal(xs_store_check_name("", &why), -EINVAL);
	assert_int_equal(xs_store_check_name(".hidden", &why), -EINVAL);
	assert_int_equal(xs_store_check_name("a/b", &why), -EINVAL);
	assert_int_equal(xs_store_check_name("a b", &why), -EINVAL);
	char longname[200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(xs_store_check_name(longname, &why), -EINVAL);
	assert_int_equal(xs_store_entry_name("fix.xsplice", name, sizeof(name)), 0);
	assert_string_equal(name, "fix");
	assert_int_equal(xs_store_entry_name(".fix.123.tmp", name, sizeof(name)), -1);
	assert_int_equal(xs_store_entry_name(".xsplice", name, sizeof(name)), -1);
	assert_int_equal(xs_store_entry_name("fix.so", name, sizeof(name)), -1);
}

static void store_trust(void **state)
{
	(void)state;
	char dir[] = "/tmp/xsplice-ut-store.XXXXXX", why[512], file[64], link[64];
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(xs_store_check_trusted(dir, 1, geteuid(), why, sizeof(why)), 0);
	/* a store others may write is refused, with the reason */
	assert_int_equal(chmod(dir, 0775), 0);
	assert_int_equal(xs_store_check_trusted(dir, 1, geteuid(), why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by its group"));
	assert_int_equal(chmod(dir, 0755), 0);
	/* owned by another uid (root is always fine) */
	if (geteuid() == 0) {
		assert_int_equal(chown(dir, 12345, 0), 0);
		assert_int_equal(xs_store_check_trusted(dir, 1, 0, why, sizeof(why)), -EPERM);
		assert_non_null(strstr(why, "uid 12345"));
		assert_int_equal(chown(dir, 0, 0), 0);
	}
	snprintf(file, sizeof(file), "%s/p.xsplice", dir);
	FILE *f = fopen(file, "w");
	fputs("payload", f);
	fclose(f);
	chmod(file, 0644);
	void *data;
	size_t len;
	assert_int_equal(xs_store_read(file, geteuid(), 100, &data, &len, why, sizeof(why)), 0);
	assert_int_equal(len, 7);
	free(data);
	/* too big for the caller's limit */
	assert_int_equal(xs_store_read(file, geteuid(), 3, &data, &len, why, sizeof(why)), -EFBIG);
	chmod(file, 0666);
	assert_int_equal(xs_store_read(file, geteuid(), 100, &data, &len, why, sizeof(why)),
	                 -EPERM);
	/* a symlink is not a payload file */
	snprintf(link, sizeof(link), "%s/l.xsplice", dir);
	assert_int_equal(symlink(file, link), 0);
	assert_int_equal(xs_store_read(link, geteuid(), 100, &data, &len, why, sizeof(why)),
	                 -EPERM);
	assert_non_null(strstr(why, "symlink"));
	unlink(link);
	unlink(file);
	assert_int_equal(xs_store_check_trusted(file, 0, geteuid(), why, sizeof(why)), -ENOENT);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(json_reads_an_agent_report),
	    cmocka_unit_test(json_refuses_every_truncation_and_garbage),
	    cmocka_unit_test(json_depth_is_bounded),
	    cmocka_unit_test(json_survives_mutations),
	    cmocka_unit_test(store_names),
	    cmocka_unit_test(store_trust),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
