"""Failure paths found in review: an action, upload or unload that fails
must say so and leave the process exactly as it was.

Payload sources are in review/; they patch the feature target
(features/ftarget.c, built once per session by the `fb` fixture).
"""
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, TARGET_CFLAGS, cc, pack
from features.fhelp import fb, states, trace  # noqa: F401

HERE = Path(__file__).resolve().parent
SRC = HERE / "review"
FEATURES = HERE / "features"


@pytest.fixture(scope="session")
def rp(fb, tmp_path_factory):
    """rp(name) -> review/NAME.c compiled and packed for the feature target."""
    d = tmp_path_factory.mktemp("review")
    done = {}

    def build(name, extra=()):
        if name not in done:
            obj = cc(d / f"{name}.o", SRC / f"{name}.c",
                     flags=[*PAYLOAD_CFLAGS, "-I", str(FEATURES), "-Wall", "-Wextra",
                            "-Werror"], link=False)
            done[name] = pack(d / f"{name}.xsplice", fb.target, obj, extra=list(extra))
        return done[name]
    return build


def both(t):
    return t.query("calc 1"), t.query("twice 2")


def test_action_hook_failing_with_a_positive_value_is_a_failure(fb, rp, start):
    """An action hook that returns 1 failed: the client must not be told
    "no action needed" (exit 0), the hooks must see a negative errno, and
    the function the hook switched before failing must be back."""
    t = start([fb.target])
    t.cli("upload", "pos", rp("action_positive"), check=0)

    t.cli("apply", "pos", check=1)
    assert trace(t) == ["post-apply=-125"]  # -ECANCELED
    assert both(t) == ("2", "4")
    assert states(t) == {"pos": "CHECKED"}

    t.cli("apply", "pos", check=0)
    assert trace(t) == ["post-apply=0"]
    assert both(t) == ("701", "14")

    t.cli("revert", "pos", check=1)
    assert trace(t) == ["post-revert=-125"]
    assert both(t) == ("701", "14")
    assert states(t) == {"pos": "APPLIED"}

    t.cli("revert", "pos", check=0)
    assert trace(t) == ["post-revert=0"]
    assert both(t) == ("2", "4")
    assert states(t) == {"pos": "CHECKED"}


def test_per_thread_action_cannot_use_the_builtin_switch(fb, rp, start):
    """Per-thread actions run on every thread at once: xsplice_func_apply
    there would race with itself (two threads saving each other's jump as
    "the original bytes").  It must answer -EPERM, as outside the window."""
    t = start([fb.target])
    assert t.query("threads 4").startswith("tids")
    t.cli("upload", "pt", rp("perthread_switch"), check=0)
    t.cli("apply", "pt", check=0)
    assert trace(t) == ["switched=0", "refused"]
    assert both(t) == ("801", "4")
    t.cli("revert", "pt", check=0)
    assert both(t) == ("2", "4")
    t.cli("unload", "pt", check=0)
    assert both(t) == ("2", "4")


# ---- a payload that understates the bytes its inline jump overwrites ----------


def funcs_old_size(path, value):
    """A copy of payload `path` whose single .xsplice.funcs entry says
    old_size = value (as a hand-made payload may): offset 28 of the entry."""
    import struct
    data = bytearray(Path(path).read_bytes())
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
            for i in range(shnum)]
    names_off = hdrs[shstrndx][4]
    for h in hdrs:
        name = data[names_off + h[0]:data.index(b"\0", names_off + h[0])].decode()
        if name == ".xsplice.funcs":
            assert h[5] == 80, "one funcs entry expected"
            struct.pack_into("<I", data, h[4] + 28, value)
            out = Path(path).with_name(Path(path).stem + f"-old{value}.xsplice")
            out.write_bytes(bytes(data))
            return out
    raise AssertionError(f"{path} has no .xsplice.funcs")


@pytest.fixture(scope="session")
def rtarget(tmp_path_factory):
    d = tmp_path_factory.mktemp("rtarget")
    exe = cc(d / "rtarget", SRC / "rtarget.c",
             flags=[*TARGET_CFLAGS, "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=sha1"])
    obj = cc(d / "inline_call.o", SRC / "inline_call.c",
             flags=[*PAYLOAD_CFLAGS, "-Wall", "-Wextra", "-Werror"], link=False)
    nop = cc(d / "nop_long.o", SRC / "nop_long.c",
             flags=[*PAYLOAD_CFLAGS, "-Wall", "-Wextra", "-Werror"], link=False)
    return exe, pack(d / "inline_call.xsplice", exe, obj), pack(d / "nop_long.xsplice", exe, nop)


# one quick attempt: busy answers come fast
QUICK_BUSY = ("--timeout", "300")


@pytest.mark.parametrize("old_size", [None, 1, 0])
def test_inline_jump_over_a_return_address_is_busy(rtarget, start, old_size):
    """The stack check must cover every byte the jump overwrites, whatever
    old_size the payload claims: a thread that will return to site + 2 makes
    the apply busy (exit 2, nothing written), and the apply succeeds once it
    has left."""
    exe, payload, _ = rtarget
    if old_size is not None:
        payload = funcs_old_size(payload, old_size)
    t = start([exe])
    assert t.query("start") == "started"
    t.cli("upload", "ic", payload, check=0)
    p = t.cli(*QUICK_BUSY, "apply", "ic", check=2)
    assert "in use" in p.stderr, p.stderr
    assert states(t) == {"ic": "CHECKED"}
    assert t.query("stop") == "stopped"
    t.cli("apply", "ic", check=0)
    # the patched loop runs: the thread calls through the replacement
    assert t.query("start") == "started"
    assert t.query("stop") == "stopped"
    assert t.query("ping") == "pong"
    t.cli("revert", "ic", check=0)
    t.cli("unload", "ic", check=0)


def test_load_and_unload_hooks_cannot_switch(fb, rp, start):
    """Only the action routine switches: an unload hook that re-applied the
    function after the revert left calc jumping into a CHECKED payload,
    and unload then freed the code it jumps to."""
    t = start([fb.target])
    t.cli("upload", "uh", rp("unload_hook_switch"), check=0)
    t.cli("apply", "uh", check=0)
    assert trace(t) == ["load-revert=-1"]  # -EPERM
    assert t.query("calc 1") == "901"
    t.cli("revert", "uh", check=0)
    assert trace(t) == ["unload-apply=-1"]
    assert t.query("calc 1") == "2"
    t.cli("unload", "uh", check=0)
    assert t.query("calc 1") == "2"


def test_revert_of_a_nop_patch_with_a_thread_between_its_nops_is_busy(rtarget, start):
    """A thread paused at +9 of a 10-byte NOP patch (between the 9- and the
    1-byte NOP) would resume in the middle of the original 10-byte
    instruction after the revert: the revert must be busy until it left."""
    exe, _, nop = rtarget
    t = start([exe])
    t.cli("upload", "nop", nop, check=0)
    t.cli("apply", "nop", check=0)
    assert t.query("nopstep") == "parked"
    p = t.cli(*QUICK_BUSY, "revert", "nop", check=2)
    assert "in use" in p.stderr, p.stderr
    assert states(t) == {"nop": "APPLIED"}
    assert t.query("nopgo") == "done"
    t.cli("revert", "nop", check=0)
    assert t.query("nopstep") == "passed"  # the original movabs again
    assert t.query("ping") == "pong"
