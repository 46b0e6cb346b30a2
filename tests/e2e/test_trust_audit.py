"""Issue 12, the audit trail: every action and refusal is one syslog(3)
line, read back from the /dev/log of a private mount namespace."""
import json
import re

import pytest

from features.fhelp import fb  # noqa: F401
from trustlib import Syslog, fields


@pytest.fixture
def syslog(tmp_path):
    s = Syslog(tmp_path)
    yield s
    s.close()


def test_every_action_and_refusal_is_one_syslog_line(fb, start, syslog):
    hello = fb.payload("hello")
    argv, env = syslog.wrap([fb.target])
    t = start(argv, env={**env, "XSPLICE_REQUIRE_SIGNED": "0"})
    t.cli("upload", "hello", hello, check=0)
    bid = json.loads(t.cli("list", "--json", check=0).stdout)["payloads"][0]["build_id"]
    t.cli("apply", "hello", check=0)
    assert t.query("greet") == "Hello World"
    t.cli("revert", "hello", check=0)
    t.cli("apply", "nosuch", check=1)
    t.cli("upload", "hello", hello, check=1)     # the name is taken
    t.cli("unload", "hello", check=0)
    lines = syslog.read(6)
    assert len(lines) == 6, syslog.lines
    parsed = [fields(l) for l in lines]
    assert [v for v, _ in parsed] == ["upload", "apply", "revert", "apply", "upload", "unload"]
    for (verb, f), line in zip(parsed, lines):
        assert f["process"] == str(t.pid), line
        assert f["uid"] == "0" and re.fullmatch(r"\d+", f["pid"]), line
        assert f["exe"] == str(fb.target), line
        assert re.fullmatch(r"\d+", f["pause_us"]), line
    ok = [parsed[i][1] for i in (0, 1, 2, 5)]
    for f in ok:
        assert f["payload"] == "hello" and f["build-id"] == bid
        assert f["signer"] == "unsigned" and f["result"] == "done"
    nosuch = parsed[3][1]
    assert nosuch["payload"] == "nosuch" and nosuch["result"] == "failed"
    assert nosuch["error"] == "ENOENT" and "no payload named nosuch" in nosuch["message"]
    dup = parsed[4][1]
    assert dup["result"] == "failed" and dup["error"] == "EEXIST"
    # each line came from the target itself, through syslog(3)
    assert all(re.match(r"<\d+>", l) for l in syslog.lines)
    # the priority: LOG_AUTHPRIV (10) with notice (5) or warning (4)
    pris = [int(re.match(r"<(\d+)>", l).group(1)) for l in syslog.lines]
    assert pris == [10 * 8 + (4 if f["result"] == "failed" else 5) for _, f in parsed]


def test_refused_signature_is_logged_with_the_signer(fb, start, syslog, tmp_path):
    from test_trust_signing import SIGN, signed_copy
    from conftest import run
    run([SIGN, "--keygen", tmp_path / "k"])
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o755)
    signed = signed_copy(fb.payload("hello"), tmp_path / "s.xsplice", tmp_path / "k.key")
    keyid = (tmp_path / "k.pub").read_text().split()[1][:16]
    argv, env = syslog.wrap([fb.target])
    t = start(argv, env={**env, "XSPLICE_KEYS": str(keys), "XSPLICE_REQUIRE_SIGNED": "1"})
    t.cli("upload", "s", signed, check=1)
    (keys / "k.pub").write_text((tmp_path / "k.pub").read_text())
    t.cli("upload", "s", signed, check=0)
    lines = [fields(l) for l in syslog.read(2)]
    assert [(v, f["result"], f["signer"]) for v, f in lines] == [
        ("upload", "failed", f"{keyid}(untrusted)"), ("upload", "done", f"{keyid}(trusted)")]
    assert lines[0][1]["error"] == "ENOKEY"
    assert "not a trusted key" in lines[0][1]["message"]
