"""Shared fixtures for the end-to-end tests: real processes, the real command.

Every test runs against the build tree (build/) produced by `make`.  A target
process is started with the agent preloaded and a private socket directory,
and is driven through its stdin/stdout (one request line, one reply line).
"""
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
BIN = BUILD / "bin"
LIB = BUILD / "lib"
AGENT = LIB / "libxsplice.so"
XSPLICE = BIN / "xsplice"
PACK = BIN / "xsplice-pack"
INCLUDE = ROOT / "include"

# Payload objects: position independent, one section per function.
PAYLOAD_CFLAGS = ["-O2", "-fPIC", "-ffunction-sections", "-fdata-sections", "-I", str(INCLUDE)]
# Targets: built the way xsplice-cc builds production binaries.
TARGET_CFLAGS = ["-O2", "-g", "-ffunction-sections", "-fdata-sections", "-pthread"]


def run(cmd, check=True, **kw):
    """Run a command, return CompletedProcess with text output."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    p = subprocess.run([str(c) for c in cmd], **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}")
    return p


def cc(out, *srcs, flags=(), link=True):
    """Compile C sources into `out` (an executable, or an object if link=False)."""
    cmd = ["gcc", "-std=gnu11", *flags]
    cmd += [] if link else ["-c"]
    cmd += ["-o", out, *srcs]
    run(cmd)
    return Path(out)


def pack(out, target, *objs, extra=()):
    run([PACK, "-t", target, "-o", out, *extra, *objs])
    return Path(out)


class Target:
    """A live process under the agent, driven line by line on stdin/stdout."""

    def __init__(self, argv, sockdir, env=None, cwd=None):
        e = dict(os.environ)
        e["LD_PRELOAD"] = str(AGENT)
        e["XSPLICE_DIR"] = str(sockdir)
        # no patch store unless a test gives one (never the machine's own)
        e["XSPLICE_STORE"] = str(Path(sockdir).parent / "no-store")
        e.update(env or {})
        self.sockdir = Path(sockdir)
        self.proc = subprocess.Popen(
            [str(a) for a in argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1, env=e, cwd=cwd)
        self.pid = self.proc.pid
        self.env = e
        self.wait_socket()

    @property
    def socket(self):
        return self.sockdir / f"{self.pid}.sock"

    def wait_socket(self, pid=None, timeout=10.0):
        path = self.sockdir / f"{pid or self.pid}.sock"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if path.exists():
                return path
            if self.proc.poll() is not None:
                raise AssertionError(f"target exited {self.proc.returncode}: {self.proc.stderr.read()}")
            time.sleep(0.01)
        raise AssertionError(f"no agent socket at {path}")

    def query(self, line, timeout=60.0):
        """Send one request line, return the reply line (stripped).  A target
        that does not answer within `timeout` seconds fails the test."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            raise AssertionError(f"target {self.pid} did not answer {line!r} within {timeout} s")
        reply = self.proc.stdout.readline()
        if reply == "":
            raise AssertionError(f"target died: rc={self.proc.poll()} stderr={self.proc.stderr.read()}")
        return reply.rstrip("\n")

    def cli(self, *args, check=None, pid=None):
        """Run `xsplice -p PID args…`; check=0/1/2 asserts the exit status."""
        p = run([XSPLICE, "-p", pid or self.pid, *args], check=False, env=self.env_for_cli())
        if check is not None and p.returncode != check:
            raise AssertionError(f"xsplice {' '.join(map(str, args))} exited {p.returncode}, "
                                 f"wanted {check}\nstdout:{p.stdout}\nstderr:{p.stderr}")
        return p

    def env_for_cli(self):
        e = dict(os.environ)
        e.pop("LD_PRELOAD", None)
        e["XSPLICE_DIR"] = str(self.sockdir)
        return e

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except Exception:
                pass


@pytest.fixture
def sockdir(tmp_path):
    d = tmp_path / "sock"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture
def start(sockdir):
    """start(argv, env=None) -> Target; every target is killed at teardown."""
    started = []

    def _start(argv, env=None, cwd=None):
        t = Target(argv, sockdir, env=env, cwd=cwd)
        started.append(t)
        return t

    yield _start
    for t in started:
        t.stop()


@pytest.fixture(scope="session", autouse=True)
def built():
    for f in (AGENT, XSPLICE, PACK):
        if not f.exists():
            pytest.fail(f"{f} is missing: run `make` first")


def strip_copy(src, dst):
    shutil.copy(src, dst)
    run(["strip", "--strip-all", dst])
    return Path(dst)


@pytest.fixture(autouse=True)
def build_cache(tmp_path, monkeypatch):
    """Each test's xsplice-build runs keep their cache of original builds in
    the test's own directory (never the user's ~/.cache)."""
    d = tmp_path / "build-cache"
    monkeypatch.setenv("XSPLICE_BUILD_CACHE", str(d))
    return d
