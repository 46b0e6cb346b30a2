"""Helpers of tests/e2e/test_channel.py that also run inside a private mount
namespace (`unshare -m`, a fresh tmpfs on /tmp) and as another uid.

    python3 chanlib.py fake SOCKPATH LOG   serve a fake agent at SOCKPATH,
                                           logging every byte received to LOG
"""
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "build"
AGENT = BUILD / "lib" / "libxsplice.so"
XSPLICE = BUILD / "bin" / "xsplice"
CHAN = BUILD / "tests" / "channel"
CHANDIR = Path(__file__).resolve().parent
PY = "/usr/bin/python3"

REQ = struct.Struct("=IHHIIIIII")
REPLY = struct.Struct("=IHHiII")
MAGIC = 0x4C505358


def frame(status, msg, body=b""):
    m = msg.encode()
    return REPLY.pack(MAGIC, 1, 0, status, len(m), len(body)) + m + body


def fake_agent(path, log):
    """What an impostor serves: a greeting, then "done" to every request,
    with a forged list (and terminal escapes) as the body."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o777)
    s.listen(16)
    forged = b"fix: APPLIED\n\x1b[2J"
    with open(log, "ab", buffering=0) as f:
        while True:
            c, _ = s.accept()
            c.settimeout(5)
            try:
                c.sendall(frame(0, "xsplice-agent 0.1.0"))
                data = b""
                while len(data) < REQ.size:
                    d = c.recv(65536)
                    if not d:
                        break
                    data += d
                if len(data) >= REQ.size:
                    h = REQ.unpack(data[:REQ.size])
                    need = REQ.size + h[6] + h[7] + h[8]
                    while len(data) < need:
                        d = c.recv(65536)
                        if not d:
                            break
                        data += d
                f.write(data)
                c.sendall(frame(0, "", forged))
            except OSError:
                pass
            c.close()


def wait_for(pred, what, timeout=20.0):
    """Poll until pred() is true (a bound for hung tests, not a timing check)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    p = subprocess.run([str(c) for c in cmd], **kw)
    return {"rc": p.returncode, "out": p.stdout, "err": p.stderr}


def start(argv, env, user=None, group=None):
    """A target under the agent as uid/gid `user`/`group`."""
    return subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1, env=env,
                            user=user, group=group, extra_groups=[] if user is not None else None)


def query(proc, line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def private_tmp():
    """Called first inside `unshare -m`: a tmpfs of our own on /tmp (the
    checkout kept in sight: ../privtmp.py)."""
    sys.path.insert(0, str(CHANDIR.parent))
    import privtmp
    privtmp.private_tmp()


def emit(obj):
    print("RESULT " + json.dumps(obj), flush=True)


if __name__ == "__main__" and sys.argv[1] == "fake":
    fake_agent(sys.argv[2], sys.argv[3])
