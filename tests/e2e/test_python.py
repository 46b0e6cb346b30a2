"""The Python bindings (python/xsplice) against live processes."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, run
from test_transcript import UNPATCHED, ab  # noqa: F401 (ab: fixture)

sys.path.insert(0, str(ROOT / "python"))
import xsplice  # noqa: E402


def test_upload_apply_list_revert_unload(start, ab):
    t = ab.start(start)
    with xsplice.Process(t.pid) as p:
        assert p.socket_path == str(t.socket)
        assert p.agent_version.startswith("xsplice-agent ")
        assert p.list() == []

        assert p.upload("test1", ab.payload["test1"], params={"mode": "fast"})
        with open(ab.payload["test2"], "rb") as f:
            assert p.upload("test2", f.read(), params=["limit=3"])
        (one,) = [x for x in p.list() if x["name"] == "test1"]
        assert one["state"] == "CHECKED"
        assert one["params"] == {"mode": "fast"}
        assert one["metadata"] == {"description": "test1: func_a + 1000"}
        assert p.status("test2")["params"] == {"limit": "3"}

        assert p.apply("test1", timeout_ms=10000, quiesce_timeout_ms=50) is True
        assert t.query("q") == "1001 201"
        assert p.apply("test1") is False  # no action needed
        assert p.status("test1")["state"] == "APPLIED"
        assert p.apply("test2") is True
        assert t.query("q") == "1001 2001"

        with pytest.raises(xsplice.Error) as e:
            p.unload("test2")  # applied
        assert e.value.status < 0 and "test2" in e.value.message

        assert p.revert("test2") and p.revert("test1")
        assert t.query("q") == UNPATCHED
        assert p.unload("test1") and p.unload("test2")
        assert p.list() == []
        with pytest.raises(xsplice.Error):
            p.status("test1")
        info = p.info()
        assert info["pid"] == t.pid and info["exe"] == str(ab.target)
        actions = [(e["action"], e["name"]) for e in p.history()["entries"]]
        assert actions[:3] == [("upload", "test1"), ("upload", "test2"), ("apply", "test1")]
        assert "engine:" in p.dump()


def test_replace_and_nodeps(start, ab):
    t = ab.start(start)
    p = xsplice.Process(socket=t.socket)
    for n in ("test1", "test3"):
        p.upload(n, ab.payload[n])
    p.apply("test1")
    p.apply("test3", nodeps=True)
    assert t.query("q") == "3001 4001"
    p.revert("test3")
    p.replace("test3")
    assert t.query("q") == "3001 4001"
    assert {x["name"]: x["state"] for x in p.list()} == {
        "test1": "CHECKED", "test3": "APPLIED"}
    p.close()


def test_busy_and_errors(start, ab):
    t = ab.start(start)
    p = xsplice.Process(t.pid)
    p.upload("test1", ab.payload["test1"])
    assert t.query("hold") == "held"  # a thread sleeps in func_a
    with pytest.raises(xsplice.Busy) as e:
        p.apply("test1", timeout_ms=300)
    assert xsplice.Busy.__mro__[1] is xsplice.Error and e.value.message
    assert t.query("q") == UNPATCHED
    assert t.query("release") == "released"
    assert p.apply("test1")
    with pytest.raises(ValueError):
        p.action("test1", "explode")
    with pytest.raises(xsplice.Error) as e:
        p.upload("bad/name", b"\x7fELF")
    assert "invalid payload name" in e.value.message
    with pytest.raises(xsplice.Error) as e:
        xsplice.Process(999999999)
    assert "no process" in e.value.message


def test_installed_module(start, ab, tmp_path):
    """`make install` puts the module where python3 finds it, and it finds the library."""
    prefix = tmp_path / "usr"
    run(["make", "-s", "-C", ROOT, "install-python", f"PREFIX={prefix}"])
    site = prefix / "lib" / ("python%d.%d" % sys.version_info[:2]) / "dist-packages"
    assert (site / "xsplice" / "__init__.py").exists()
    t = ab.start(start)
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("XSPLICE_CTL_LIB", None)
    code = ("import sys, xsplice\n"
            "assert xsplice.__file__.startswith(sys.argv[3]), xsplice.__file__\n"
            "p = xsplice.Process(int(sys.argv[1]))\n"
            "p.upload('test1', sys.argv[2]); p.apply('test1')\n"
            "print(xsplice.load_library()._name)\n")
    out = subprocess.run(["/usr/bin/python3", "-c", code, str(t.pid), str(ab.payload["test1"]),
                          str(site)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(prefix / "lib" / "libxsplicectl.so.0")
    assert t.query("q") == "1001 201"
