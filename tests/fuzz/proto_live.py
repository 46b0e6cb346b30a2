#!/usr/bin/python3
"""Protocol fuzzing of a live agent: random framed and unframed messages on
its socket, from several clients at once, while a well-behaved client checks
that the target keeps serving.  Fails when the target dies, stops answering,
or holds more descriptors or memory after the run than before it.

    proto_live.py BUILD_DIR SECONDS [SEED]

Prints the number of messages sent and the target's RSS and open
descriptors before and after.
"""
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

REQ = struct.Struct("=IHHIIIIII")
REPLY = struct.Struct("=IHHiII")
MAGIC = 0x4C505358


def status(pid, key):
    for ln in open(f"/proc/{pid}/status"):
        if ln.startswith(key + ":"):
            return int(ln.split()[1])
    return -1


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def message(rng):
    """One request: a valid header with fuzzed fields, or noise."""
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 200))
    op = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xFFFF])
    name = rng.choice([b"", b"p", b"a" * 127, b"a" * 128, b"bad name", b"x/y", b"\x1b[2J",
                       rng.randbytes(rng.randrange(1, 20))])
    payload = b"" if rng.random() < 0.5 else rng.choice([
        rng.randbytes(rng.randrange(1, 4096)), b"\x7fELF" + rng.randbytes(200)])
    params = rng.choice([b"", b"k=v\0", b"k=v", b"=v\0", b"novalue\0",
                         b"k=\x1b[31m\nAPPLIED\0", rng.randbytes(rng.randrange(1, 64))])
    flags = rng.choice([0, 1, 2, 3, 4, 0xFFFFFFFF])
    lens = [len(name), len(payload), len(params)]
    if rng.random() < 0.2:  # lie about a length
        lens[rng.randrange(3)] = rng.choice([0, 1, 0xFFFF, 64 << 20, (64 << 20) + 1, 0xFFFFFFFF])
    hdr = REQ.pack(rng.choice([MAGIC, MAGIC, MAGIC, 0]), rng.choice([1, 1, 1, 2]), op & 0xFFFF,
                   flags, rng.randrange(0, 50), rng.randrange(0, 200), *lens)
    body = hdr + name + payload + params
    if rng.random() < 0.3:  # truncated
        body = body[:rng.randrange(1, len(body) + 1)]
    return body


def one_client(path, rng):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
        if rng.random() < 0.8:
            s.recv(4096)  # the greeting
        s.sendall(message(rng))
        if rng.random() < 0.7:  # wait for the answer (or the close)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
    except OSError:
        pass
    finally:
        s.close()


def list_ok(xsplice, pid, sockdir):
    env = dict(os.environ, XSPLICE_DIR=sockdir)
    env.pop("LD_PRELOAD", None)
    p = subprocess.run([xsplice, "--timeout", "20000", "-p", str(pid), "list", "--json"],
                       capture_output=True, text=True, env=env, timeout=60)
    return p.returncode == 0


def main():
    build, seconds = sys.argv[1], float(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else int(time.time())
    rng = random.Random(seed)
    agent = os.path.join(build, "lib", "libxsplice.so")
    xsplice = os.path.join(build, "bin", "xsplice")
    sockdir = tempfile.mkdtemp(prefix="xsplice-protofuzz-")
    env = dict(os.environ, LD_PRELOAD=agent, XSPLICE_DIR=sockdir)
    target = subprocess.Popen(["sleep", "100000"], env=env, stderr=subprocess.DEVNULL)
    path = os.path.join(sockdir, f"{target.pid}.sock")
    ok = False
    try:
        end = time.monotonic() + 20
        while not os.path.exists(path) and time.monotonic() < end:
            time.sleep(0.01)
        # warm up (first report, lazy allocations), then measure
        for _ in range(50):
            one_client(path, rng)
        assert list_ok(xsplice, target.pid, sockdir), "the agent does not answer at start"
        rss0, fd0 = status(target.pid, "VmRSS"), nfds(target.pid)
        sent, checks = 0, 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            socks = []
            for _ in range(rng.randrange(1, 8)):  # a few idle connections at once
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                socks.append(s)
            for _ in range(20):
                one_client(path, rng)
                sent += 1
            for s in socks:
                s.close()
            if target.poll() is not None:
                raise AssertionError(f"the target died: {target.returncode} (seed {seed})")
            assert list_ok(xsplice, target.pid, sockdir), f"the agent stopped serving (seed {seed})"
            checks += 1
        # the agent closes each connection by its deadline at the latest;
        # they are all closed by the client here, so they go at once - but
        # "at once" is the agent's next pass over its connections, which
        # may come after the client has read list's reply (the agent
        # writes it, then closes): wait for the count to settle, up to a
        # bound no real leak survives
        assert list_ok(xsplice, target.pid, sockdir)
        end = time.monotonic() + 10
        while nfds(target.pid) > fd0 and time.monotonic() < end:
            time.sleep(0.05)
        rss1, fd1 = status(target.pid, "VmRSS"), nfds(target.pid)
        print(f"proto fuzz (live): {sent} messages, {checks} checks, seed {seed}; "
              f"target RSS {rss0} -> {rss1} KiB, fds {fd0} -> {fd1}")
        assert fd1 <= fd0, f"the target holds {fd1 - fd0} more descriptors (seed {seed})"
        assert rss1 - rss0 < 16 * 1024, f"the target's RSS grew by {rss1 - rss0} KiB (seed {seed})"
        ok = True
    finally:
        target.kill()
        target.wait()
        shutil.rmtree(sockdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
