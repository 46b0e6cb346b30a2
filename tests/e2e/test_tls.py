"""Payload code using the target's thread-local variables, in a live process.

The target keeps a per-thread counter (`__thread int counter`) and bumps it
in its main thread, in a worker thread that exists while the patch is
applied, and in threads created afterwards.  The SDK payload (tls/fix.c)
replaces bump() by one counting by ten; it is compiled in each TLS model a
compiler may use for an extern __thread variable:

    general-dynamic   -fPIC (the default for payloads): TLSGD + a call to
                      __tls_get_addr, relaxed by the agent's linker
    initial-exec      -ftls-model=initial-exec: GOTTPOFF, a GOT slot
    local-exec        -ftls-model=local-exec: TPOFF32

Every thread must keep its own count across the patch.  A payload with a
__thread variable of its own is refused.
"""
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, TARGET_CFLAGS, cc, pack, run, PACK

HERE = Path(__file__).parent / "tls"
MODELS = {"general-dynamic": [], "initial-exec": ["-ftls-model=initial-exec"],
          "local-exec": ["-ftls-model=local-exec"]}
RELOC = {"general-dynamic": "R_X86_64_TLSGD", "initial-exec": "R_X86_64_GOTTPOFF",
         "local-exec": "R_X86_64_TPOFF32"}


@pytest.fixture
def target(tmp_path):
    return cc(tmp_path / "target", HERE / "target.c",
              flags=[*TARGET_CFLAGS, "-Wl,--build-id=sha1"])


@pytest.mark.parametrize("model", list(MODELS))
def test_payload_reaches_the_targets_tls_in_every_thread(model, target, tmp_path, start):
    obj = cc(tmp_path / "fix.o", HERE / "fix.c", flags=[*PAYLOAD_CFLAGS, *MODELS[model]],
             link=False)
    assert RELOC[model] in run(["readelf", "-rW", obj]).stdout, \
        f"the compiler did not use {model} for the extern __thread variable"
    payload = pack(tmp_path / "fix.xsplice", target, obj)

    t = start([target])
    assert [t.query(q) for q in ("bump", "bump", "wbump", "fresh")] == ["1", "2", "1", "1"]
    t.cli("load", payload, check=0)
    # each thread continues from its own count; a new thread starts at 0
    assert [t.query(q) for q in ("bump", "wbump", "wbump", "fresh", "bump")] == \
        ["12", "11", "21", "10", "22"]
    t.cli("revert", "fix", check=0)
    assert [t.query(q) for q in ("bump", "wbump", "fresh")] == ["23", "22", "1"]
    assert t.proc.poll() is None


def test_payload_with_its_own_tls_variable_is_refused(target, tmp_path):
    obj = cc(tmp_path / "newtls.o", HERE / "newtls.c", flags=PAYLOAD_CFLAGS, link=False)
    p = run([PACK, "-t", target, "-o", tmp_path / "newtls.xsplice", obj], check=False)
    assert p.returncode == 1, p.stderr
    assert "'mine' is a new thread-local variable" in p.stderr, p.stderr
    assert not (tmp_path / "newtls.xsplice").exists()
