"""Failure paths found in review: an action, upload or unload that fails
must say so and leave the process exactly as it was.

Payload sources are in review/; they patch the feature target
(features/ftarget.c, built once per session by the `fb` fixture).
"""
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, cc, pack
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
