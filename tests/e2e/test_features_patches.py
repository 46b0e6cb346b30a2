"""Issue 4, special patches: NOP patches, expectations, inline patches.

The patched functions are hand-written in ftarget.c so that their bytes are
known exactly.
"""
from features.fhelp import compact_hex, fb, states  # noqa: F401


def test_nop_patch_removes_an_instruction(fb, start):
    nop = fb.payload("nop")
    t = start([fb.target])
    assert t.query("nop 5") == "6"
    t.cli("upload", "nop", nop, check=0)
    t.cli("apply", "nop", check=0)
    assert t.query("nop 5") == "5"  # the addq $1 is gone
    assert t.query("nop 41") == "41"
    t.cli("revert", "nop", check=0)
    assert t.query("nop 5") == "6"
    t.cli("apply", "nop", check=0)
    assert t.query("nop 7") == "7"


def test_nop_patch_inside_a_function(fb, start):
    nop = fb.payload("nop_inline")
    t = start([fb.target])
    assert t.query("inline 5") == str(5 + 0x100)
    t.cli("upload", "nop", nop, check=0)
    t.cli("apply", "nop", check=0)
    assert t.query("inline 5") == "5"
    t.cli("revert", "nop", check=0)
    assert t.query("inline 5") == str(5 + 0x100)


def test_expectation_that_matches_applies(fb, start):
    ok = fb.payload("expect_ok")
    t = start([fb.target])
    assert t.query("expect 5") == "15"
    t.cli("upload", "ok", ok, check=0)
    t.cli("apply", "ok", check=0)
    assert t.query("expect 5") == "20"
    t.cli("revert", "ok", check=0)
    assert t.query("expect 5") == "15"


def test_expectation_that_does_not_match_is_refused_showing_the_bytes(fb, start):
    bad = fb.payload("expect_bad")
    t = start([fb.target])
    t.cli("upload", "bad", bad, check=0)
    p = t.cli("apply", "bad", check=1)
    assert "expect_victim" in p.stderr, p.stderr
    shown = compact_hex(p.stderr)
    assert "deadc0debabe" in shown, p.stderr          # expected
    assert "488d047f9090" in shown, p.stderr          # found
    assert t.query("expect 5") == "15"
    assert states(t) == {"bad": "CHECKED"}


def test_expectation_checked_again_when_the_code_changed(fb, start):
    """A matching expectation stops matching once another payload has
    replaced the function: applying it on top is refused."""
    ok = fb.payload("expect_ok")
    t = start([fb.target])
    t.cli("upload", "first", ok, check=0)
    t.cli("apply", "first", check=0)
    second = fb.payload("expect_ok", out="expect_ok_second", extra=["--meta", "copy=2"])
    t.cli("upload", "second", second, check=0)
    p = t.cli("apply", "second", "--nodeps", check=1)
    assert "expect_victim" in p.stderr, p.stderr
    assert "488d047f90909090" in compact_hex(p.stderr), p.stderr
    assert t.query("expect 5") == "20"
    assert states(t) == {"first": "APPLIED", "second": "CHECKED"}


def test_inline_patch_inside_a_function(fb, start):
    inl = fb.payload("inline")
    t = start([fb.target])
    assert t.query("inline 1") == str(1 + 0x100)
    t.cli("upload", "inline", inl, check=0)
    t.cli("apply", "inline", check=0)
    assert t.query("inline 1") == str(1 + 0x200)
    assert t.query("inline 1000") == str(1000 + 0x200)
    t.cli("revert", "inline", check=0)
    assert t.query("inline 1") == str(1 + 0x100)
