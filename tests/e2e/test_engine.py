"""The agent's engine in live processes: the safe switch (issue 3, items 3-7).

The target (targets/etarget.c) keeps threads wherever a real program keeps
them - inside the function being replaced, in blocking syscalls, with every
signal blocked, in a tight loop, in a leaf function using its red zone - and
the real `xsplice` command patches it.  Every check is the target's own
observable behaviour.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, ROOT, TARGET_CFLAGS, cc, pack, run

HERE = Path(__file__).resolve().parent / "targets"
PAYLOADS = ("p_work", "p_hold", "p_cb", "p_lib", "p_user", "p_failapply")
# a short deadline where an action is expected to fail as busy
QUICK = ("--timeout", "300")


class Eng:
    """The built target, a second build of it, and the payloads."""

    def __init__(self, d):
        self.dir = d
        flags = [*TARGET_CFLAGS, "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=sha1"]
        self.target = cc(d / "etarget", HERE / "etarget.c", flags=flags)
        # another build of the same program: same symbols, another build-id
        self.other = cc(d / "etarget-other", HERE / "etarget.c",
                        flags=[*flags, "-DOTHER_BUILD=1"])
        self.payload = {}
        for name in PAYLOADS:
            obj = cc(d / f"{name}.o", HERE / f"{name}.c", flags=PAYLOAD_CFLAGS, link=False)
            self.payload[name] = pack(d / f"{name}.xsplice", self.target, obj)
        obj = d / "p_work.o"
        self.other_payload = pack(d / "p_work-other.xsplice", self.other, obj)
        # p_hold on top of p_work in the build-id chain
        self.hold_on_work = pack(d / "p_hold-on-work.xsplice", self.target, d / "p_hold.o",
                                 extra=["--depends", self.payload["p_work"]])


@pytest.fixture(scope="session")
def eng(tmp_path_factory):
    return Eng(tmp_path_factory.mktemp("engine"))


def build_id(path):
    out = run(["readelf", "-n", path]).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out).group(1)


def tid_named(pid, name):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == name:
                return int(tid)
    raise AssertionError(f"no thread {name} in {pid}")


def states(t, pid=None):
    import json
    doc = json.loads(t.cli("list", "--json", check=0, pid=pid).stdout)
    return {p["name"]: p["state"] for p in doc["payloads"]}


def cycles(t, n, name="work"):
    for _ in range(n):
        t.cli("apply", name, check=0)
        t.cli("revert", name, check=0)


def test_busy_function_refused_with_exit_2_then_applied(eng, start):
    t = start([eng.target])
    t.cli("upload", "hold", eng.payload["p_hold"], check=0)
    assert t.query("hold") == "held"
    holder = tid_named(t.pid, "holder")

    p = t.cli(*QUICK, "apply", "hold", check=2)
    assert "hold_fn" in p.stderr and "holder" in p.stderr and str(holder) in p.stderr, p.stderr
    assert states(t) == {"hold": "CHECKED"}

    assert t.query("release") == "released"
    assert t.query("holdfn") == "1"  # nothing was changed
    t.cli("apply", "hold", check=0)
    assert t.query("holdfn") == "2"


def test_revert_refused_while_a_thread_runs_the_new_code(eng, start):
    t = start([eng.target])
    t.cli("upload", "hold", eng.payload["p_hold"], check=0)
    t.cli("apply", "hold", check=0)
    assert t.query("hold") == "held"  # now inside the payload's hold_fn
    p = t.cli(*QUICK, "revert", "hold", check=2)
    assert "hold_fn" in p.stderr and "hold" in p.stderr and "holder" in p.stderr, p.stderr
    assert states(t) == {"hold": "APPLIED"}
    assert t.query("release") == "released"
    t.cli("revert", "hold", check=0)
    assert t.query("holdfn") == "1"


def test_thread_with_the_signal_blocked_gives_a_clear_timeout(eng, start):
    t = start([eng.target])
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    assert t.query("blocker") == "blocking"
    blocker = tid_named(t.pid, "blocker")

    p = t.cli(*QUICK, "apply", "work", check=2)
    msg = p.stderr
    assert str(blocker) in msg and "blocker" in msg and "blocks signal" in msg, msg
    assert t.query("work 1") == "2"
    assert states(t) == {"work": "CHECKED"}

    assert t.query("unblock") == "unblocked"
    t.cli("apply", "work", check=0)
    assert t.query("work 1") == "1001"


def test_payload_for_another_build_is_refused_naming_both_ids(eng, start):
    mine, other = build_id(eng.target), build_id(eng.other)
    assert mine != other
    t = start([eng.target])
    p = t.cli("upload", "work", eng.other_payload, check=1)
    assert mine in p.stderr and other in p.stderr, p.stderr
    assert states(t) == {}
    assert t.query("work 1") == "2"


def test_forked_child_is_patched_independently(eng, start):
    t = start([eng.target])
    t.cli("upload", "work", eng.payload["p_work"], check=0)

    # a child patched alone
    child = int(t.query("fork").split()[1])
    t.wait_socket(pid=child)
    t.cli("apply", "work", check=0, pid=child)
    assert t.query("work 1") == "1001"
    assert states(t, pid=child) == {"work": "APPLIED"}
    assert states(t) == {"work": "CHECKED"}
    assert t.query("exit") == "parent"
    assert t.query("work 1") == "2"

    # a child keeps its parent's patch, and reverts it alone
    t.cli("apply", "work", check=0)
    child = int(t.query("fork").split()[1])
    t.wait_socket(pid=child)
    assert t.query("work 1") == "1001"
    t.cli("revert", "work", check=0, pid=child)
    assert t.query("work 1") == "2"
    assert t.query("exit") == "parent"
    assert t.query("work 1") == "1001"
    assert states(t) == {"work": "APPLIED"}

    # exec starts clean
    child = int(t.query("exec").split()[1])
    t.wait_socket(pid=child)
    assert t.query("work 1") == "2"
    assert states(t, pid=child) == {}
    assert t.query("exit") == "parent"
    assert t.query("work 1") == "1001"


def test_1000_cycles_under_8_threads_calling_the_function(eng, start):
    """8 threads at normal priority (more than the CPUs) call work() in a
    loop; the cycles go through libxsplicectl (the Python binding) rather
    than 2000 runs of the command, which the spinners would slow down."""
    sys.path.insert(0, str(ROOT / "python"))
    import xsplice

    t = start([eng.target])
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    assert t.query("spin 8") == "spinning 8"
    calls = []
    x = xsplice.Process(socket=str(t.socket))
    for i in range(10):
        for _ in range(100):
            x.apply("work")
            x.revert("work")
        calls.append(int(t.query("spinstat").split()[1]))
        assert t.query("work 5") == "6"
    reply = t.query("spinstop").split()
    assert reply[0] == "calls" and reply[2] == "bad"
    assert int(reply[3]) == 0, reply  # every call returned the old or the new result
    assert calls == sorted(calls) and calls[-1] > calls[0], calls  # threads kept running
    assert t.proc.poll() is None


def test_blocking_syscalls_are_restarted(eng, start):
    """read, poll, nanosleep, futex, select and epoll_wait never see EINTR."""
    t = start([eng.target])
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    assert t.query("sys").startswith("sys ")
    cycles(t, 30)
    assert t.query("work 1") == "2"
    assert t.query("syswake") == "eintr 0 bad 0"


def test_red_zone_stays_intact(eng, start):
    t = start([eng.target])
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    assert t.query("redzone") == "redzone"
    cycles(t, 30)
    assert t.query("redstop") == "corrupted 0"


def test_threads_created_during_actions_are_caught(eng, start):
    t = start([eng.target])
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    assert t.query("spawn") == "spawning"
    cycles(t, 40)
    reply = t.query("spawnstop").split()
    assert int(reply[1]) > 0 and reply[2:] == ["bad", "0"], reply


def test_program_that_takes_every_signal_gets_a_clear_diagnosis(eng, start):
    t = start([eng.target])
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    assert t.query("sigall").startswith("sigall ")
    p = t.cli("apply", "work", check=1)
    assert "XSPLICE_SIGNAL" in p.stderr and "handler" in p.stderr, p.stderr
    assert t.query("work 1") == "2"
    assert states(t) == {"work": "CHECKED"}


def test_the_signal_is_configurable(eng, start):
    t = start([eng.target], env={"XSPLICE_SIGNAL": "RTMIN+3"})
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    t.cli("apply", "work", check=0)
    assert t.query("work 1") == "1001"
    info = t.cli("info", "--json", check=0).stdout
    rtmin = 34  # glibc's SIGRTMIN
    assert f'"signal":"SIGRTMIN+3","signal_number":{rtmin + 3}' in info.replace(" ", ""), info


def test_unload_waits_until_no_thread_runs_in_the_payload(eng, start):
    t = start([eng.target])
    t.cli("upload", "cb", eng.payload["p_cb"], check=0)
    t.cli("apply", "cb", check=0)
    t.cli("revert", "cb", check=0)
    # the load hook left `callback` pointing into the payload
    assert t.query("cbhold") == "cbheld"
    p = t.cli(*QUICK, "unload", "cb", check=2)
    assert "cbthread" in p.stderr and "cb" in p.stderr, p.stderr
    assert states(t) == {"cb": "CHECKED"}
    assert t.query("cbrelease") == "cbreleased"
    t.cli("unload", "cb", check=0)
    assert states(t) == {}
    assert t.query("work 1") == "2"


def test_works_when_memory_may_not_become_executable(eng, start):
    """systemd's MemoryDenyWriteExecute= (prctl PR_SET_MDWE): the payload's
    code is mapped executable from a memfd, never made executable later."""
    t = start([eng.target])
    if t.query("mdwe") != "mdwe 0":
        pytest.skip("this kernel has no PR_SET_MDWE")
    t.cli("load", eng.payload["p_work"], check=0)
    assert t.query("work 1") == "1001"
    t.cli("revert", "p_work", check=0)
    t.cli("unload", "p_work", check=0)
    assert t.query("work 1") == "2"


def test_payload_linked_against_another_keeps_it_loaded(eng, start):
    t = start([eng.target])
    # the symbol it needs is not loaded yet
    p = t.cli("upload", "user", eng.payload["p_user"], check=1)
    assert "engine_lib_add" in p.stderr, p.stderr
    t.cli("upload", "lib", eng.payload["p_lib"], check=0)
    t.cli("upload", "user", eng.payload["p_user"], check=0)
    t.cli("apply", "user", "--nodeps", check=0)
    assert t.query("holdfn") == "7"  # user calls lib's new function
    t.cli("revert", "user", check=0)
    p = t.cli("unload", "lib", check=1)
    assert "user" in p.stderr and "lib" in p.stderr, p.stderr
    t.cli("unload", "user", check=0)
    t.cli("unload", "lib", check=0)
    assert states(t) == {}
    assert t.query("holdfn") == "1"


def test_replace_that_fails_in_the_window_rolls_everything_back(eng, start):
    t = start([eng.target])
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    t.cli("upload", "hold", eng.payload["p_hold"], check=0)
    t.cli("upload", "bad", eng.payload["p_failapply"], check=0)
    t.cli("apply", "work", check=0)
    t.cli("apply", "hold", "--nodeps", check=0)
    assert (t.query("work 1"), t.query("holdfn")) == ("1001", "2")

    # reverts work and hold, applies bad, whose action fails: all undone
    p = t.cli("replace", "bad", check=1)
    assert "bad" in p.stderr and "action" in p.stderr, p.stderr
    assert (t.query("work 1"), t.query("holdfn")) == ("1001", "2")
    assert states(t) == {"work": "APPLIED", "hold": "APPLIED", "bad": "CHECKED"}

    # and the stack order is intact: LIFO revert still works
    t.cli("revert", "hold", check=0)
    t.cli("revert", "work", check=0)
    assert (t.query("work 1"), t.query("holdfn")) == ("2", "1")


def test_text_written_with_mprotect_when_proc_mem_is_refused(eng, start):
    """XSPLICE_TEXT_WRITE=mprotect takes the fallback path that kernels
    refusing /proc/self/mem writes need."""
    import json
    t = start([eng.target], env={"XSPLICE_TEXT_WRITE": "mprotect"})
    info = json.loads(t.cli("info", "--json", check=0).stdout)
    assert info["text_write"] == "mprotect", info
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    assert t.query("spin 2") == "spinning 2"
    cycles(t, 20)
    t.cli("apply", "work", check=0)
    assert t.query("work 1") == "1001"
    assert t.query("spinstop").endswith("bad 0")
    t.cli("revert", "work", check=0)
    assert t.query("work 1") == "2"
    # the text is executable and not writable again
    maps = open(f"/proc/{t.pid}/maps").read()
    for line in maps.splitlines():
        if line.endswith(str(eng.target)) and "x" in line.split()[1]:
            assert line.split()[1].startswith("r-x"), line


def test_revert_keeps_the_build_id_chain(eng, start):
    t = start([eng.target])
    t.cli("upload", "work", eng.payload["p_work"], check=0)
    t.cli("upload", "hold", eng.hold_on_work, check=0)
    t.cli("apply", "work", check=0)
    t.cli("apply", "hold", check=0)  # sits on work
    # other functions, but hold depends on work: work cannot go first (and
    # no retry changes that: exit 1, not 2)
    p = t.cli("revert", "work", check=1)
    assert "hold" in p.stderr and "work" in p.stderr, p.stderr
    assert (t.query("work 1"), t.query("holdfn")) == ("1001", "2")
    t.cli("revert", "hold", check=0)
    t.cli("revert", "work", check=0)
    assert (t.query("work 1"), t.query("holdfn")) == ("2", "1")
