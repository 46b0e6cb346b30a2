"""The agent under load (issue 9, observations 2 and 3, and the load test).

  - 8 CPU-bound threads of the target call the patched function while 8
    CPU hogs run outside it, on whatever CPUs the machine has: 20 of 20
    upload/apply/revert/unload cycles succeed at the default deadline (the
    per-attempt budget adapts to what the scheduler gives).
  - The demo service (kvd) under client load while 200 apply/revert cycles
    run: no request fails.
"""
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUILD, PAYLOAD_CFLAGS, ROOT, TARGET_CFLAGS, cc, pack, run

HERE = Path(__file__).resolve().parent / "targets"
sys.path.insert(0, str(ROOT / "python"))
import xsplice  # noqa: E402


@pytest.fixture
def hogs():
    """8 CPU hogs outside the target, killed at teardown."""
    procs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(8)]
    yield procs
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def test_20_cycles_with_8_busy_threads_and_8_hogs(tmp_path, start, hogs):
    flags = [*TARGET_CFLAGS, "-Wl,--build-id=sha1"]
    target = cc(tmp_path / "etarget", HERE / "etarget.c", flags=flags)
    obj = cc(tmp_path / "p_work.o", HERE / "p_work.c", flags=PAYLOAD_CFLAGS, link=False)
    payload = pack(tmp_path / "p_work.xsplice", target, obj)
    t = start([target])
    assert t.query("spin 8") == "spinning 8"
    for i in range(20):
        # the real command, default deadline: each must succeed first time
        t.cli("upload", "work", payload, check=0)
        t.cli("apply", "work", check=0)
        t.cli("revert", "work", check=0)
        t.cli("unload", "work", check=0)
    reply = t.query("spinstop").split()
    assert reply[2] == "bad" and reply[3] == "0", reply


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def fix_ping(tmp_path_factory):
    out = tmp_path_factory.mktemp("kvd")
    run([BUILD / "bin" / "xsplice-build", "-s", ROOT / "examples/demo",
         "-p", ROOT / "examples/demo/patches/fix-ping.patch",
         "-t", BUILD / "examples/kvd", "-o", out / "fix-ping"], timeout=300)
    return out / "fix-ping" / "fix-ping.xsplice"


def test_kvd_under_client_load_while_200_cycles_run(start, fix_ping):
    port = free_port()
    t = start([BUILD / "examples/kvd", str(port)])
    load = subprocess.Popen([BUILD / "examples/kvload", str(port), "4", "600"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        x = xsplice.Process(socket=str(t.socket))
        x.upload("fix", str(fix_ping))
        for _ in range(200):
            x.apply("fix")
            x.revert("fix")
        x.unload("fix")
        assert load.poll() is None, load.communicate()
    finally:
        load.send_signal(signal.SIGTERM)
        out, err = load.communicate(timeout=60)
    # "kvload: N requests answered correctly, M failed"
    words = out.split()
    ok, failed = int(words[1]), int(words[-2])
    assert failed == 0 and ok > 0, out + err
    assert load.returncode == 0, out + err
