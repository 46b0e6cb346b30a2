"""Unwinding through patched code: a C++ exception thrown below a patched
function and pthread_cancel of a thread blocked inside a patched function
still work (the agent registers the payload's .eh_frame with the unwinder).
"""
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, cc, pack, run

HERE = Path(__file__).resolve().parent / "targets"


@pytest.fixture(scope="session")
def cxx(tmp_path_factory):
    d = tmp_path_factory.mktemp("cxx")
    target = d / "etarget_cxx"
    run(["g++", "-std=gnu++17", "-O2", "-g", "-ffunction-sections", "-fdata-sections",
         "-pthread", "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=sha1", "-o", target,
         HERE / "etarget_cxx.cc"])
    obj = cc(d / "p_cxx.o", HERE / "p_cxx.c", flags=PAYLOAD_CFLAGS, link=False)
    return target, pack(d / "p_cxx.xsplice", target, obj)


def test_exception_and_cancel_unwind_through_patched_functions(cxx, start):
    target, payload = cxx
    t = start([target])
    assert t.query("throw 4") == "ok 8"
    assert t.query("throw -4") == "caught negative -4"
    assert t.query("cancel") == "cancelled 1 cleanup 1 innew 0"

    t.cli("load", payload, check=0)
    assert t.query("throw 4") == "ok 12"  # the payload's checked()
    # thrown in the target's thrower(), through the payload's frame
    assert t.query("throw -4") == "caught negative -4"
    # cancelled while blocked in read() inside the payload's waiter(): the
    # forced unwind runs the C++ destructor of the frame above it
    assert t.query("cancel") == "cancelled 1 cleanup 1 innew 1"
    assert t.proc.poll() is None

    t.cli("revert", "p_cxx", check=0)
    t.cli("unload", "p_cxx", check=0)
    assert t.query("throw -5") == "caught negative -5"
    assert t.query("throw 5") == "ok 10"
