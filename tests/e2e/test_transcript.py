"""The issue-3 transcript, end to end: a live process, the real `xsplice`.

    xsplice -p PID upload test1 test1.xsplice   # ... test2, test3
    xsplice -p PID apply test1                  # test1 active
    xsplice -p PID apply test2                  # test1 and test2 active
    xsplice -p PID replace test3                # only test3 active
    xsplice -p PID revert test3                 # nothing active
    xsplice -p PID unload test1                 # ... test2, test3

Every step is checked by what the target does (it answers "q" with
func_a(1) and func_b(1)), and by `xsplice list --json`.

The target and payloads defined here are shared with test_cli*.py and
test_python*.py (they import `ab`).
"""
import json

import pytest

from conftest import PAYLOAD_CFLAGS, TARGET_CFLAGS, cc, pack

# func_a(1) / func_b(1) of the unpatched target
UNPATCHED = "101 201"

TARGET_SRC = r"""
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int hold = 1, holding;
static pthread_t holder;
static const char *child_file;

/* noipa: callers must really call these, never use a folded result */
__attribute__((noipa)) int func_a(int x)
{
	while (x == 7 && hold) { /* "hold": a thread stays inside func_a */
		holding = 1;
		poll(NULL, 0, 20);
	}
	return x + 100;
}

__attribute__((noipa)) int func_b(int x)
{
	return x + 200;
}

static void *hold_main(void *arg)
{
	(void)arg;
	func_a(7);
	return NULL;
}

/* A forked child reports func_a(1) func_b(1) in a file until its parent dies. */
static void child_loop(pid_t parent)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", child_file);
	while (getppid() == parent) {
		FILE *f = fopen(tmp, "w");
		if (f) {
			fprintf(f, "%d %d %d\n", (int)getpid(), func_a(1), func_b(1));
			fclose(f);
			rename(tmp, child_file);
		}
		poll(NULL, 0, 20);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	char line[256];
	child_file = argc > 1 ? argv[1] : "/dev/null";
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		if (!strcmp(line, "q\n")) {
			printf("%d %d\n", func_a(1), func_b(1));
		} else if (!strcmp(line, "hold\n")) {
			hold = 1;
			holding = 0;
			pthread_create(&holder, NULL, hold_main, NULL);
			while (!holding) /* answer once the thread is inside func_a */
				poll(NULL, 0, 1);
			printf("held\n");
		} else if (!strcmp(line, "release\n")) {
			hold = 0;
			pthread_join(holder, NULL);
			printf("released\n");
		} else if (!strcmp(line, "fork\n")) {
			pid_t parent = getpid(), c = fork();
			if (c == 0)
				child_loop(parent);
			printf("%d\n", (int)c);
		} else {
			printf("?\n");
		}
	}
	return 0;
}
"""

PAYLOADS = {
    "test1": r"""
#include <xsplice/patch.h>
extern int func_a(int x);
static int func_a_1(int x) { return x + 1000; }
XSPLICE_REPLACE(func_a, func_a_1);
XSPLICE_META(description, "test1: func_a + 1000");
""",
    "test2": r"""
#include <xsplice/patch.h>
extern int func_b(int x);
static int func_b_2(int x) { return x + 2000; }
XSPLICE_REPLACE(func_b, func_b_2);
XSPLICE_META(description, "test2: func_b + 2000");
""",
    "test3": r"""
#include <xsplice/patch.h>
extern int func_a(int x);
extern int func_b(int x);
static int func_a_3(int x) { return x + 3000; }
static int func_b_3(int x) { return x + 4000; }
XSPLICE_REPLACE(func_a, func_a_3);
XSPLICE_REPLACE(func_b, func_b_3);
XSPLICE_META(description, "test3: both, replaces test1 and test2");
""",
}


class AB:
    """The built target and its payloads (paths)."""

    def __init__(self, d):
        src = d / "target.c"
        src.write_text(TARGET_SRC)
        self.dir = d
        self.target = cc(d / "target", src, flags=TARGET_CFLAGS)
        self.payload = {}
        for name, code in PAYLOADS.items():
            (d / f"{name}.c").write_text(code)
            obj = cc(d / f"{name}.o", d / f"{name}.c", flags=PAYLOAD_CFLAGS, link=False)
            # test2 sits on test1 (the build-id chain); test1 and test3 on the target
            extra = ["--depends", d / "test1.xsplice"] if name == "test2" else []
            self.payload[name] = pack(d / f"{name}.xsplice", self.target, obj, extra=extra)

    def start(self, start, child_file=None, env=None):
        t = start([self.target, child_file or "/dev/null"], env=env)
        assert t.query("q") == UNPATCHED
        return t


@pytest.fixture(scope="session")
def ab(tmp_path_factory):
    return AB(tmp_path_factory.mktemp("ab"))


def payload_list(t):
    """`xsplice list --json` as a list of payload objects."""
    doc = json.loads(t.cli("list", "--json", check=0).stdout)
    if isinstance(doc, dict):
        doc = doc["payloads"]
    return doc


def states(t):
    """{name: "CHECKED" | "APPLIED"} from `xsplice list --json`."""
    return {p["name"]: p["state"] for p in payload_list(t)}


def test_transcript(start, ab):
    t = ab.start(start)

    for name in ("test1", "test2", "test3"):
        out = t.cli("upload", name, ab.payload[name], check=0).stdout
        assert name in out
    assert states(t) == {"test1": "CHECKED", "test2": "CHECKED", "test3": "CHECKED"}
    assert t.query("q") == UNPATCHED  # uploaded is not applied
    # the build-id chain: test2 sits on test1, test1 and test3 on the target
    ids = {p["name"]: p for p in payload_list(t)}
    assert ids["test2"]["depends"] == ids["test1"]["build_id"]
    assert ids["test1"]["depends"] == ids["test3"]["depends"] == ids["test1"]["target"]

    t.cli("apply", "test1", check=0)
    assert t.query("q") == "1001 201"

    p = t.cli("apply", "test1", check=0)  # already applied
    assert "No action needed." in p.stdout
    assert t.query("q") == "1001 201"

    t.cli("apply", "test2", check=0)
    assert t.query("q") == "1001 2001"
    assert states(t) == {"test1": "APPLIED", "test2": "APPLIED", "test3": "CHECKED"}

    t.cli("replace", "test3", check=0)
    assert t.query("q") == "3001 4001"
    assert states(t) == {"test1": "CHECKED", "test2": "CHECKED", "test3": "APPLIED"}

    p = t.cli("unload", "test3", check=1)  # applied: not unloadable
    assert "test3" in p.stderr
    assert t.query("q") == "3001 4001"

    t.cli("revert", "test3", check=0)
    assert t.query("q") == UNPATCHED
    p = t.cli("revert", "test3", check=0)
    assert "No action needed." in p.stdout

    for name in ("test1", "test2", "test3"):
        t.cli("unload", name, check=0)
    assert states(t) == {}
    p = t.cli("apply", "test1", check=1)  # gone
    assert p.stderr.startswith("xsplice: apply test1: ")
    assert t.query("q") == UNPATCHED


def test_revert_is_lifo_and_reapply_works(start, ab):
    """test1 then test3 (independent) on func_a: reverting test3 brings test1 back."""
    t = ab.start(start)
    t.cli("upload", "test1", ab.payload["test1"], check=0)
    t.cli("upload", "test3", ab.payload["test3"], check=0)
    t.cli("apply", "test1", check=0)
    t.cli("apply", "test3", "--nodeps", check=0)
    assert t.query("q") == "3001 4001"
    t.cli("revert", "test3", check=0)
    assert t.query("q") == "1001 201"
    t.cli("revert", "test1", check=0)
    assert t.query("q") == UNPATCHED
    t.cli("apply", "test1", check=0)
    assert t.query("q") == "1001 201"
