"""Exit status of `xsplice` actions: 2 only when a later retry can succeed
(issue 9, observations 4 and 6).

  0  done, or nothing to do
  1  an error no retry fixes: unknown payload, reverting against the stack
     order, a function that is a thread's outermost frame (main, a start
     routine) - with a message saying what to do instead
  2  busy: a thread is in the function now, or did not pause in time
     (tested in test_engine.py: test_busy_function_refused_with_exit_2_then_applied,
     test_thread_with_the_signal_blocked_gives_a_clear_timeout; a late thread in
     tests/unit/test_quiesce.c)

And fork() in the target waits for one attempt of an action at most, not
for its whole retry loop.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, TARGET_CFLAGS, XSPLICE, cc, pack

HERE = Path(__file__).resolve().parent / "targets"


class Build:
    def __init__(self, d):
        flags = [*TARGET_CFLAGS, "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=sha1"]
        self.target = cc(d / "etarget", HERE / "etarget.c", flags=flags)
        self.payload = {}
        for name in ("p_work", "p_work2", "p_hold", "p_main", "p_outer"):
            obj = cc(d / f"{name}.o", HERE / f"{name}.c", flags=PAYLOAD_CFLAGS, link=False)
            self.payload[name] = pack(d / f"{name}.xsplice", self.target, obj)
        self.hold_on_work = pack(d / "p_hold-on-work.xsplice", self.target, d / "p_hold.o",
                                 extra=["--depends", self.payload["p_work"]])


@pytest.fixture(scope="module")
def b(tmp_path_factory):
    return Build(tmp_path_factory.mktemp("exitstatus"))


def test_done_and_nothing_to_do_exit_0(b, start):
    t = start([b.target])
    t.cli("upload", "w", b.payload["p_work"], check=0)
    t.cli("apply", "w", check=0)
    assert "No action needed." in t.cli("apply", "w", check=0).stdout
    t.cli("revert", "w", check=0)
    t.cli("unload", "w", check=0)


def test_unknown_payload_exits_1(b, start):
    t = start([b.target])
    p = t.cli("apply", "nosuch", check=1)
    assert "nosuch" in p.stderr


def test_revert_against_the_stack_order_exits_1(b, start):
    t = start([b.target])
    # the same function patched twice: w2 on top of w1
    t.cli("upload", "w1", b.payload["p_work"], check=0)
    t.cli("upload", "w2", b.payload["p_work2"], check=0)
    t.cli("apply", "w1", check=0)
    t.cli("apply", "w2", "--nodeps", check=0)
    p = t.cli("revert", "w1", check=1)
    assert "revert w2 first" in p.stderr, p.stderr
    assert t.query("work 1") == "2001"
    t.cli("revert", "w2", check=0)
    t.cli("revert", "w1", check=0)
    assert t.query("work 1") == "2"


def test_revert_against_the_build_id_chain_exits_1(b, start):
    t = start([b.target])
    t.cli("upload", "work", b.payload["p_work"], check=0)
    t.cli("upload", "hold", b.hold_on_work, check=0)
    t.cli("apply", "work", check=0)
    t.cli("apply", "hold", check=0)
    p = t.cli("revert", "work", check=1)
    assert "revert hold first" in p.stderr, p.stderr
    t.cli("revert", "hold", check=0)
    t.cli("revert", "work", check=0)


def test_replacing_main_exits_1_and_says_what_to_patch(b, start):
    t = start([b.target])
    t.cli("upload", "m", b.payload["p_main"], check=0)
    p = t.cli("apply", "m", check=1)
    assert "outermost" in p.stderr and "main" in p.stderr, p.stderr
    assert "patch the functions it calls instead" in p.stderr, p.stderr
    assert t.query("work 1") == "2"  # unchanged, still serving


def test_replacing_a_thread_start_routine_exits_1(b, start):
    t = start([b.target])
    assert t.query("outer") == "outer"
    t.cli("upload", "o", b.payload["p_outer"], check=0)
    p = t.cli("apply", "o", check=1)
    assert "outer_main" in p.stderr and "outermost" in p.stderr, p.stderr
    # once the thread has ended, nothing holds the function any more
    assert t.query("outerstop") == "outerstopped"
    t.cli("apply", "o", check=0)


def test_fork_waits_for_one_attempt_not_the_retry_loop(b, start):
    """A thread sits in the function an apply wants to switch, so the apply
    retries for 60 s; meanwhile the program forks: the fork completes while
    the apply is still retrying (before: only when it gave up)."""
    t = start([b.target])
    t.cli("upload", "hold", b.payload["p_hold"], check=0)
    assert t.query("hold") == "held"
    apply = subprocess.Popen([str(XSPLICE), "-p", str(t.pid), "apply", "hold",
                              "--timeout", "60000"], env=t.env_for_cli(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # let the apply begin retrying (if it has not yet, the fork below
        # cannot wait for it: the test passes without proving anything)
        time.sleep(1)
        child = int(t.query("fork", timeout=50).split()[1])
        assert apply.poll() is None, "the fork waited for the whole apply"
        t.wait_socket(pid=child)
        assert t.query("exit") == "parent"
        assert t.query("release") == "released"
        out, err = apply.communicate(timeout=90)
        assert apply.returncode == 0, err
        assert t.query("holdfn") == "2"
    finally:
        if apply.poll() is None:
            apply.kill()
            apply.wait()


def agent_thread(pid):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == "xsplice-agent":
                return int(tid)
    raise AssertionError("no xsplice-agent thread")


def test_a_process_stopped_during_an_action_is_answered_at_its_timeout(b, start):
    """The process is stopped while its agent retries an apply (a thread
    holds the function): the command answers at its --timeout, exit 2,
    saying the process is stopped and the request is undecided (before: it
    waited 30 s more for a reply that cannot come)."""
    t = start([b.target])
    t.cli("upload", "hold", b.payload["p_hold"], check=0)
    assert t.query("hold") == "held"
    ctl = agent_thread(t.pid)
    apply = subprocess.Popen([str(XSPLICE), "-p", str(t.pid), "apply", "hold",
                              "--timeout", "4000"], env=t.env_for_cli(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = False
    try:
        # the agent runs the action once its thread sleeps between attempts
        # (nanosleep: clock_nanosleep, 230, or nanosleep, 35); it leaves
        # poll() (7) earlier, to accept and greet, before it has the request
        end = time.monotonic() + 60
        while open(f"/proc/{t.pid}/task/{ctl}/syscall").read().split()[0] not in ("230", "35"):
            assert time.monotonic() < end and apply.poll() is None, "the apply never started"
            time.sleep(0.001)
        os.kill(t.pid, signal.SIGSTOP)
        stopped = True
        # 4 s + the 30 s of slack before; the bound is far from both
        out, err = apply.communicate(timeout=25)
        assert apply.returncode == 2, err
        assert f"process {t.pid} was stopped" in err and f"kill -CONT {t.pid}" in err, err
        assert "list` before trying again" in err, err
    finally:
        if stopped:
            os.kill(t.pid, signal.SIGCONT)
        if apply.poll() is None:
            apply.kill()
            apply.wait()
    # resumed, the agent gives up at its deadline (passed while it was
    # stopped) and goes back to poll(): nothing was changed
    end = time.monotonic() + 60
    while open(f"/proc/{t.pid}/task/{ctl}/syscall").read().split()[0] != "7":
        assert time.monotonic() < end, "the agent did not finish the apply"
        time.sleep(0.005)
    assert t.query("release") == "released"
    assert t.query("holdfn") == "1"
    t.cli("apply", "hold", check=0)
    assert t.query("holdfn") == "2"
