"""The precise stack check (issue 3, item 4): stale return addresses do not
make a function busy, live frames still do.

The agent unwinds every parked thread with the DWARF CFI of its modules and
payloads (src/agent/unwind*.c) and scans conservatively only from a frame it
cannot unwind.  The kvd demo service reproduces the field problem: a
connection thread idling in read() keeps old return addresses into
handle_line in the unused parts of its live frames, which the purely
conservative scan took for frames forever.  The unwind target
(unwind/utarget.c) makes each case deterministic and reports that the stale
word really is on the thread's stack; live frames are checked inside the old
function, in a function it called, and behind the thread's own signal
handler, on its stack and on a sigaltstack.
"""
import socket
from pathlib import Path

import pytest

from conftest import BIN, BUILD, PAYLOAD_CFLAGS, ROOT, TARGET_CFLAGS, cc, pack, run

HERE = Path(__file__).resolve().parent / "unwind"
KVD = BUILD / "examples" / "kvd"
DEMO = ROOT / "examples" / "demo"
# where an action is expected to fail as busy: a short deadline, but attempts
# that wait long enough for a thread to park on a loaded machine
QUICK = ("--timeout", "1000", "--quiesce-timeout", "500")


@pytest.fixture(scope="module")
def ut(tmp_path_factory):
    d = tmp_path_factory.mktemp("unwind")
    target = cc(d / "utarget", HERE / "utarget.c",
                flags=[*TARGET_CFLAGS, "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=sha1"])
    obj = cc(d / "p_old.o", HERE / "p_old.c", flags=[*PAYLOAD_CFLAGS, "-Wall", "-Werror"],
             link=False)
    return target, pack(d / "p_old.xsplice", target, obj)


def started(start, ut):
    target, payload = ut
    t = start([target])
    t.cli("upload", "p", payload, check=0)
    assert t.query("call 1") == "2"
    return t


# ---- stale return addresses: apply succeeds ------------------------------------------


@pytest.mark.parametrize("mode", ["read", "sig", "altsig"])
def test_stale_return_address_does_not_make_the_function_busy(ut, start, mode):
    t = started(start, ut)
    # the idle thread's frame holds an old return address into old_fn:
    # a word-by-word scan of its stack finds it, the unwinder does not
    assert t.query(f"stale {mode}") == "stale 1"
    p = t.cli(*QUICK, "apply", "p", check=0)
    assert "applied" in p.stdout
    assert t.query("call 1") == "1001"
    assert t.query("release") == "released"
    assert t.query("call 2") == "1002"


# ---- live frames: busy, exit 2, naming the function and the thread -------------------


@pytest.mark.parametrize("mode,how", [
    ("sleep", "will return into it"),    # in poll(), called by old_fn
    ("loop", "is executing it"),         # spinning inside old_fn
    ("callee", "will return into it"),   # in read() in a function old_fn called
    ("nocfi", "will return into it"),    # the same in code without CFI: the scan finds it
    ("sig", None),                       # in its own signal handler, raised below old_fn
    ("altsig", None),                    # the same on a sigaltstack
    ("userstack", "will return into it"),  # sleep, on a stack given to pthread_create
    # in read() below old_fn on a stack the thread made, of two mappings:
    # old_fn's frame in the upper one, the thread's SP in the lower one
    ("ownstack", "will return into it"),
])
def test_live_frame_makes_the_function_busy(ut, start, mode, how):
    t = started(start, ut)
    assert t.query(f"in {mode}") == "in"
    p = t.cli(*QUICK, "apply", "p", check=2)
    msg = p.stderr
    assert "old_fn is in use" in msg and "(inside)" in msg, msg
    if how:
        assert how in msg, msg
    assert t.query("call 1") == "2"  # nothing changed
    assert t.query("release") == "released"
    t.cli("apply", "p", check=0)
    assert t.query("call 1") == "1001"


def test_revert_ignores_stale_words_into_the_payload(ut, start):
    """Revert switches away from the payload's code: an old return address
    into it left on an idle thread's stack does not block."""
    t = started(start, ut)
    t.cli("apply", "p", check=0)
    assert t.query("stale read") == "stale 1"  # left by the payload's old_fn
    t.cli(*QUICK, "revert", "p", check=0)
    assert t.query("call 1") == "2"
    assert t.query("release") == "released"


def test_revert_refused_while_a_thread_will_return_into_the_payload(ut, start):
    t = started(start, ut)
    t.cli("apply", "p", check=0)
    assert t.query("in sleep") == "in"  # in hold_here(), called by the payload
    p = t.cli(*QUICK, "revert", "p", check=2)
    msg = p.stderr
    assert "old_fn (payload p's replacement) is in use" in msg, msg
    assert "(inside) will return into it" in msg, msg
    assert t.query("call 1") == "1001"
    assert t.query("release") == "released"
    t.cli("revert", "p", check=0)
    assert t.query("call 1") == "2"


# ---- the demo service ------------------------------------------------------------------


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Conn:
    def __init__(self, port, proc):
        for _ in range(1000):
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except ConnectionRefusedError:
                if proc.poll() is not None:
                    raise AssertionError(f"kvd exited {proc.returncode}")
                proc_wait(proc)
        else:
            raise AssertionError("kvd does not listen")
        self.f = self.s.makefile("rw", newline="\n")

    def ask(self, line):
        self.f.write(line + "\n")
        self.f.flush()
        return self.f.readline().rstrip("\n")

    def close(self):
        self.f.close()
        self.s.close()


def proc_wait(proc):
    try:
        proc.wait(timeout=0.01)
    except Exception:
        pass


def test_kvd_idle_connection_does_not_block_the_fix(start, tmp_path):
    if not KVD.exists():
        pytest.fail(f"{KVD} is missing: run `make` first")
    out = tmp_path / "out"
    run([BIN / "xsplice-build", "-q", "-s", DEMO, "-p", DEMO / "patches" / "fix-ping.patch",
         "-t", KVD, "-o", out])
    port = free_port()
    t = start([KVD, port])
    # a first client comes and goes: its thread's stack is cached and reused
    first = Conn(port, t.proc)
    assert first.ask("PING 3 abc") == "abc"
    first.close()
    # the second client's thread runs requests, then idles in read()
    c = Conn(port, t.proc)
    leak = c.ask("PING 10 abc")
    assert leak.startswith("abc") and len(leak) == 10, leak  # the over-read
    assert c.ask("VERSION").startswith("kvd ")
    assert c.ask("SET a b") == "OK"
    assert c.ask("GET a") == "b"
    c.ask("STATS")

    p = t.cli("load", out / "fix-ping.xsplice", check=0)
    assert "applied" in p.stdout
    assert c.ask("PING 10 abc") == "abc"  # the same idle thread runs the fix
    c.close()
