"""Issue 12, hand-written payloads that cannot work say so: xsplice-pack
warns about a replaced function the target inlined into its callers, and
about a symbol in neither the target nor its DT_NEEDED libraries."""
from pathlib import Path

from conftest import PACK, PAYLOAD_CFLAGS, cc, run

HERE = Path(__file__).resolve().parent / "trust"


def build(tmp_path, payload):
    target = cc(tmp_path / "inltarget", HERE / "inltarget.c",
                flags=["-O2", "-g", "-Wl,--build-id"])
    obj = cc(tmp_path / f"{payload}.o", HERE / f"{payload}.c", flags=PAYLOAD_CFLAGS, link=False)
    return run([PACK, "-t", target, "-o", tmp_path / f"{payload}.xsplice", obj]), target


def test_warns_when_the_replaced_function_was_inlined(tmp_path):
    p, target = build(tmp_path, "inlfix")
    assert p.returncode == 0 and (tmp_path / "inlfix.xsplice").exists()
    warn = [l for l in p.stderr.splitlines() if "warning:" in l]
    assert len(warn) == 1, p.stderr
    assert "helper was inlined into" in warn[0], warn
    assert "helper_out" in warn[0] and "user_b" in warn[0], warn
    assert "noinline" in warn[0]


def test_warns_when_a_symbol_is_in_no_library(tmp_path):
    p, _ = build(tmp_path, "nolib")
    warn = [l for l in p.stderr.splitlines() if "warning:" in l]
    assert len(warn) == 1, p.stderr
    assert "'no_such_symbol_anywhere' is neither in" in warn[0]
    assert "DT_NEEDED" in warn[0]


def test_no_warning_for_a_payload_that_can_work(tmp_path):
    """printf is in libc (DT_NEEDED), helper_out is not inlined anywhere."""
    src = tmp_path / "ok.c"
    src.write_text('#include <stdio.h>\n#include <xsplice/patch.h>\nint helper_out(int x);\n'
                   'static int helper_out_new(int x) { printf("%d", x); return x; }\n'
                   'XSPLICE_REPLACE(helper_out, helper_out_new);\n')
    target = cc(tmp_path / "inltarget", HERE / "inltarget.c", flags=["-O2", "-g", "-Wl,--build-id"])
    obj = cc(tmp_path / "ok.o", src, flags=PAYLOAD_CFLAGS, link=False)
    p = run([PACK, "-t", target, "-o", tmp_path / "ok.xsplice", obj])
    assert "warning" not in p.stderr, p.stderr
