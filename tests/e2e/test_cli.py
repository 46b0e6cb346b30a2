"""The xsplice command and the agent's control endpoint, end to end.

Real targets under the agent, the real command; every check is what a user
would see: exit status, messages, the target's behaviour.
"""
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import AGENT, XSPLICE, run
from test_transcript import UNPATCHED, ab, payload_list, states  # noqa: F401 (ab: fixture)

# struct xs_req_hdr / xs_reply_hdr (src/common/proto.h), host byte order
REQ = struct.Struct("=IHHIIIIII")
REPLY = struct.Struct("=IHHiII")
MAGIC = 0x4C505358
OP_UPLOAD, OP_LIST = 1, 6


def build_id(path, section=".note.gnu.build-id"):
    out = run(["readelf", "-n", path]).stdout
    return re.search(rf"in: {re.escape(section)}\n.*?Build ID: ([0-9a-f]+)", out, re.S).group(1)


def wait_for(pred, what, timeout=20.0):
    """Poll until pred() is true (a bound for hung tests, not a timing check)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


# ---- usage ---------------------------------------------------------------------


def test_usage_errors_exit_1(tmp_path):
    p = run([XSPLICE, "--version"])
    assert p.stdout.startswith("xsplice ")
    assert "upload NAME FILE" in run([XSPLICE, "--help"]).stdout
    assert run([XSPLICE, "apply", "x"], check=False).returncode == 1  # no -p
    p = run([XSPLICE, "-p", "1", "frobnicate"], check=False)
    assert p.returncode == 1 and "unknown command 'frobnicate'" in p.stderr
    p = run([XSPLICE, "-p", "1", "list", "--nodeps"], check=False)
    assert p.returncode == 1 and "--nodeps" in p.stderr
    p = run([XSPLICE, "-p", "1", "apply"], check=False)
    assert p.returncode == 1 and "usage" in p.stderr


def test_process_without_agent(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        env = dict(os.environ, XSPLICE_DIR=str(tmp_path))
        p = run([XSPLICE, "-p", sleeper.pid, "list"], check=False, env=env)
        assert p.returncode == 1
        assert f"process {sleeper.pid} has no xsplice agent socket" in p.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    p = run([XSPLICE, "-p", "999999999", "list"], check=False)
    assert p.returncode == 1 and "no process 999999999" in p.stderr


# ---- the socket ----------------------------------------------------------------


def test_socket_modes_and_cleanup(start, ab, sockdir):
    t = ab.start(start)
    st = os.lstat(t.socket)
    assert oct(st.st_mode & 0o777) == oct(0o600)
    assert oct(os.stat(sockdir).st_mode & 0o777) == oct(0o700)
    t.proc.stdin.close()  # the target's main loop ends: a normal exit
    assert t.proc.wait(timeout=20) == 0
    assert not t.socket.exists()


def test_unsafe_socket_dir_is_refused(tmp_path, ab):
    bad = tmp_path / "open"
    bad.mkdir()
    bad.chmod(0o755)
    env = dict(os.environ, LD_PRELOAD=str(AGENT), XSPLICE_DIR=str(bad))
    p = run([ab.target], input="q\n", env=env)
    assert p.stdout == UNPATCHED + "\n"  # the target runs as ever
    assert "xsplice: the socket directory" in p.stderr and "not safe" in p.stderr
    assert list(bad.iterdir()) == []

    link = tmp_path / "link"
    link.symlink_to(tmp_path / "sock-target-dir")
    (tmp_path / "sock-target-dir").mkdir(mode=0o700)
    env["XSPLICE_DIR"] = str(link)
    p = run([ab.target], input="q\n", env=env)
    assert "symlink" in p.stderr
    assert list((tmp_path / "sock-target-dir").iterdir()) == []


def test_default_socket_dir_is_created_0700(tmp_path, ab):
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    env = dict(os.environ, LD_PRELOAD=str(AGENT), XDG_RUNTIME_DIR=str(xdg))
    env.pop("XSPLICE_DIR", None)
    proc = subprocess.Popen([ab.target], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        sock = xdg / "xsplice" / f"{proc.pid}.sock"
        wait_for(lambda: sock.exists() or proc.poll() is not None, sock)
        assert proc.poll() is None, "the target exited"
        assert oct(os.stat(xdg / "xsplice").st_mode & 0o777) == oct(0o700)
        # the client finds it through the target's environment, not its own
        cenv = dict(os.environ)
        cenv.pop("XSPLICE_DIR", None)
        cenv.pop("XDG_RUNTIME_DIR", None)
        p = run([XSPLICE, "-p", proc.pid, "list", "--json"], env=cenv)
        assert json.loads(p.stdout) is not None
    finally:
        proc.kill()
        proc.wait()


def test_disable(tmp_path, ab, sockdir):
    env = dict(os.environ, LD_PRELOAD=str(AGENT), XSPLICE_DIR=str(sockdir), XSPLICE_DISABLE="1")
    p = run([ab.target], input="q\n", env=env)
    assert p.stdout == UNPATCHED + "\n" and p.stderr == ""
    assert list(sockdir.iterdir()) == []


# ---- another uid ------------------------------------------------------------------


def as_nobody(cmd, caps=False):
    pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if caps:
        # a foreign uid that can still reach the socket file: only the
        # agent's credential check stands in its way
        pre += ["--inh-caps=+dac_override", "--ambient-caps=+dac_override"]
    return run(pre + [str(c) for c in cmd], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")
def test_another_uid_cannot_connect(start, ab):
    t = ab.start(start)
    bindir = Path(tempfile.mkdtemp(prefix="xsplice-nobody-"))
    try:
        bindir.chmod(0o755)
        cli = bindir / "xsplice"
        shutil.copy(XSPLICE, cli)
        cli.chmod(0o755)
        payload = bindir / "test1.xsplice"
        shutil.copy(ab.payload["test1"], payload)
        payload.chmod(0o644)
        env_dir = f"XSPLICE_DIR={t.sockdir}"

        p = as_nobody(["env", env_dir, cli, "-p", t.pid, "upload", "x", payload])
        assert p.returncode == 1 and "Permission denied" in p.stderr, p.stderr
        p = as_nobody(["env", env_dir, cli, "-p", t.pid, "list"])
        assert p.returncode == 1 and "Permission denied" in p.stderr, p.stderr

        p = as_nobody(["env", env_dir, cli, "-p", t.pid, "list"], caps=True)
        if "setpriv:" in p.stderr:
            pytest.skip(f"no ambient capabilities here: {p.stderr.strip()}")
        assert p.returncode == 1
        assert "refused the connection" in p.stderr and "uid 65534" in p.stderr, p.stderr

        # the owner still can, and nothing changed
        assert payload_list(t) == []
        assert t.query("q") == UNPATCHED
    finally:
        shutil.rmtree(bindir)
    t.proc.kill()
    err = t.proc.stderr.read()
    assert "refused a control connection" in err and "uid 65534" in err


# ---- garbage on the wire ------------------------------------------------------------


def connect(t):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(t.socket))
    hdr = s.recv(REPLY.size, socket.MSG_WAITALL)
    magic, _ver, _res, status, mlen, blen = REPLY.unpack(hdr)
    assert magic == MAGIC and status == 0
    greeting = s.recv(mlen, socket.MSG_WAITALL).decode()
    assert greeting.startswith("xsplice-agent ")
    return s


def read_reply(s):
    hdr = s.recv(REPLY.size, socket.MSG_WAITALL)
    if len(hdr) < REPLY.size:
        return None
    magic, _v, _r, status, mlen, blen = REPLY.unpack(hdr)
    assert magic == MAGIC
    return status, s.recv(mlen, socket.MSG_WAITALL).decode()


def req(op, name=b"", payload=b"", params=b"", magic=MAGIC, version=1, flags=0, lens=None):
    lens = lens or (len(name), len(payload), len(params))
    return REQ.pack(magic, version, op, flags, 0, 0, *lens) + name + payload + params


def test_garbage_frames_do_not_hurt_the_target(start, ab):
    t = ab.start(start)
    t.cli("upload", "test1", ab.payload["test1"], check=0)
    t.cli("apply", "test1", check=0)

    # connect and hang up at once
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(t.socket))
    s.close()

    bad_frames = {
        "random bytes": os.urandom(64),
        "bad magic": req(OP_LIST, magic=0xDEADBEEF),
        "bad version": req(OP_LIST, version=99),
        "unknown op": req(77),
        "unknown flags": req(OP_LIST, flags=0x80000000),
        "huge payload": req(OP_UPLOAD, b"x", lens=(1, 0xFFFFFFFF, 0)),
        "huge name": req(OP_UPLOAD, b"x", lens=(0x7FFFFFFF, 1, 0)),
        "name on list": req(OP_LIST, b"x"),
        "bad name": req(OP_UPLOAD, b"a/b", b"\x7fELF"),
        "params not key=value": req(OP_UPLOAD, b"p", b"\x7fELF", b"novalue\0"),
        "params unterminated": req(OP_UPLOAD, b"p", b"\x7fELF", b"k=v"),
    }
    for what, frame in bad_frames.items():
        s = connect(t)
        s.sendall(frame)
        r = read_reply(s)
        assert r is not None and r[0] < 0, what
        s.close()

    # a garbage ELF that is well framed: the engine refuses it
    s = connect(t)
    s.sendall(req(OP_UPLOAD, b"junk", os.urandom(4096)))
    status, msg = read_reply(s)
    assert status < 0 and msg
    s.close()

    # truncated frames: the client dies mid-header and mid-upload
    for cut in (3, REQ.size + 1, REQ.size + 1 + 100):
        s = connect(t)
        s.sendall(req(OP_UPLOAD, b"y", b"\0" * 4096)[:cut])
        s.close()

    assert t.query("q") == "1001 201"
    assert states(t) == {"test1": "APPLIED"}
    t.cli("revert", "test1", check=0)
    assert t.query("q") == UNPATCHED


def test_client_dying_mid_upload(start, ab):
    """A real client process killed while it streams a big payload."""
    t = ab.start(start)
    code = (
        "import socket,struct,sys,os\n"
        "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.recv(64)\n"
        f"s.sendall(struct.pack('=IHHIIIIII',{MAGIC},1,1,0,0,0,1,32<<20,0)+b'z')\n"
        "s.sendall(b'\\0'*(1<<20)); os._exit(0)\n"
    )
    run(["/usr/bin/python3", "-c", code, t.socket])
    assert t.query("q") == UNPATCHED
    assert payload_list(t) == []


# ---- commands -------------------------------------------------------------------------


def test_load_unloads_when_apply_fails(start, ab, tmp_path):
    t = ab.start(start)
    assert t.query("hold") == "held"  # a thread sleeps inside func_a
    p = t.cli("--timeout", "300", "load", ab.payload["test1"], check=2)
    assert "apply test1: " in p.stderr
    assert "unloaded again" in p.stderr
    assert payload_list(t) == []
    assert t.query("q") == UNPATCHED
    assert t.query("release") == "released"
    p = t.cli("load", ab.payload["test1"], check=0)
    assert "test1: applied" in p.stdout
    assert states(t) == {"test1": "APPLIED"}
    assert t.query("q") == "1001 201"


def test_upload_params_and_names(start, ab):
    t = ab.start(start)
    p = t.cli("upload", "bad/name", ab.payload["test1"], check=1)
    assert "invalid payload name" in p.stderr
    p = t.cli("upload", "t1", ab.payload["test1"], "novalue", check=1)
    assert "key=value" in p.stderr
    p = t.cli("upload", "t1", ab.dir / "missing.xsplice", check=1)
    assert "missing.xsplice" in p.stderr
    t.cli("upload", "t1", ab.payload["test1"], "mode=fast", "limit=3", check=0)
    p = t.cli("upload", "t1", ab.payload["test1"], check=1)  # the name is taken
    assert "t1" in p.stderr
    (entry,) = payload_list(t)
    assert entry["name"] == "t1" and entry["state"] == "CHECKED"
    assert entry["params"] == {"mode": "fast", "limit": "3"}
    assert "mode=fast" in t.cli("list", check=0).stdout


def test_ps_info_list_report_sane_data(start, ab):
    t = ab.start(start)
    t.cli("upload", "test1", ab.payload["test1"], check=0)
    t.cli("apply", "test1", check=0)
    bid = build_id(ab.target)

    ps = json.loads(run([XSPLICE, "ps", "--json"], env=t.env_for_cli()).stdout)
    assert ps["version"] == 1
    mine = [p for p in ps["processes"] if p["pid"] == t.pid]
    assert len(mine) == 1
    assert mine[0]["exe"] == str(ab.target)
    assert mine[0]["build_id"] == bid
    assert mine[0]["socket"] == str(t.socket)
    text = run([XSPLICE, "ps"], env=t.env_for_cli()).stdout
    assert re.search(rf"^{t.pid}\s+{bid}\s+{re.escape(str(ab.target))}$", text, re.M)

    info = t.cli("info", check=0).stdout
    assert bid in info and "0.1.0" in info
    info_json = json.loads(t.cli("info", "--json", check=0).stdout)
    assert bid in json.dumps(info_json)

    (entry,) = payload_list(t)
    assert entry["name"] == "test1" and entry["state"] == "APPLIED"
    assert entry["metadata"] == {"description": "test1: func_a + 1000"}
    assert entry["target"] == bid and entry["depends"] == bid
    assert entry["build_id"] == build_id(ab.payload["test1"])
    text = t.cli("list", check=0).stdout
    assert "test1: APPLIED" in text and "description=test1: func_a + 1000" in text

    dump = t.cli("dump", check=0).stdout
    assert "func_a" in dump and "test1" in dump
    hist = t.cli("history", check=0).stdout
    assert re.search(r"upload\s+test1\s+done", hist) and re.search(r"apply\s+test1\s+done", hist)
    entries = json.loads(t.cli("history", "--json", check=0).stdout)["entries"]
    assert [(e["action"], e["name"], e["error"]) for e in entries] == [
        ("upload", "test1", None), ("apply", "test1", None)]


def read_stderr_until(t, needle, timeout=20.0):
    fd = t.proc.stderr.fileno()
    got = b""
    end = time.monotonic() + timeout
    while needle.encode() not in got:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"no {needle!r} on the target's stderr; got {got!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AssertionError(f"stderr closed; got {got!r}")
        got += chunk
    return got.decode()


def test_dump_on_signal(start, ab):
    t = ab.start(start, env={"XSPLICE_DUMP_SIGNAL": "USR2"})
    t.cli("upload", "test1", ab.payload["test1"], check=0)
    t.cli("apply", "test1", check=0)
    os.kill(t.pid, signal.SIGUSR2)
    out = read_stderr_until(t, "func_a")
    assert f"xsplice: state dump of process {t.pid}" in out
    assert "test1" in out
    assert t.query("q") == "1001 201"  # the process goes on


def test_run_preloads_the_agent(tmp_path, ab, sockdir):
    env = dict(os.environ, XSPLICE_DIR=str(sockdir), LD_PRELOAD="")
    proc = subprocess.Popen([XSPLICE, "run", "--", ab.target], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        sock = sockdir / f"{proc.pid}.sock"  # exec keeps the pid
        wait_for(lambda: sock.exists() or proc.poll() is not None, sock)
        assert proc.poll() is None, "xsplice run exited"
        cenv = dict(os.environ, XSPLICE_DIR=str(sockdir))
        run([XSPLICE, "-p", proc.pid, "load", ab.payload["test1"]], env=cenv)
        proc.stdin.write("q\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "1001 201\n"
    finally:
        proc.kill()
        proc.wait()

    # an existing LD_PRELOAD is kept, after the agent; options after the
    # command are the command's
    env = dict(os.environ, XSPLICE_DISABLE="1", LD_PRELOAD=str(AGENT))
    p = run([XSPLICE, "run", "/bin/sh", "-c", 'echo "$LD_PRELOAD"'], env=env)
    assert p.stdout.strip() == f"{AGENT.resolve()}:{AGENT}"
    env["XSPLICE_AGENT"] = str(tmp_path / "nope.so")
    p = run([XSPLICE, "run", "true"], env=env, check=False)
    assert p.returncode == 1 and "nope.so" in p.stderr


def test_fork_child_has_its_own_endpoint(start, ab, tmp_path):
    child_file = tmp_path / "child.txt"
    t = ab.start(start, child_file=child_file)
    t.cli("upload", "test1", ab.payload["test1"], check=0)
    t.cli("apply", "test1", check=0)
    child = int(t.query("fork"))
    try:
        t.wait_socket(pid=child)
        # the child inherited the applied patch and the payloads
        wait_for(lambda: child_file.exists() and child_file.read_text().split()[1:] == ["1001", "201"],
                 "the child's first report")
        assert states(t) == {"test1": "APPLIED"}
        assert t.cli("list", "--json", pid=child, check=0).stdout
        # patched independently: revert in the child only
        t.cli("revert", "test1", pid=child, check=0)
        wait_for(lambda: child_file.read_text().split()[1:] == UNPATCHED.split(),
                 "the child to run unpatched")
        assert t.query("q") == "1001 201"
        assert states(t) == {"test1": "APPLIED"}
    finally:
        os.kill(child, 9)


def test_dump_signal_must_be_a_free_signal(ab, sockdir):
    env = dict(os.environ, LD_PRELOAD=str(AGENT), XSPLICE_DIR=str(sockdir))
    for value, why in (("RTMIN+8", "the agent's own quiesce signal"),
                       ("NOPE", "not a signal the agent can catch"),
                       ("KILL", "not a signal the agent can catch")):
        env["XSPLICE_DUMP_SIGNAL"] = value
        p = run([ab.target], input="q\n", env=env)
        assert p.stdout == UNPATCHED + "\n"
        assert f"XSPLICE_DUMP_SIGNAL={value} is {why}" in p.stderr, p.stderr
