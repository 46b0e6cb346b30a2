"""xsplice attach: the agent loaded into processes started without it.

Each target is a plain process (no LD_PRELOAD); only XSPLICE_DIR is in its
environment, so that the agent, once attached, puts its socket in the test's
private directory.  The refusals check the message, exit status 1 and that
the process is left exactly as it was (no agent mapped, not traced, still
answering).
"""
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (AGENT, PAYLOAD_CFLAGS, ROOT, TARGET_CFLAGS, XSPLICE, cc, pack, run)

TARGETS = ROOT / "tests" / "e2e" / "targets"
NOBODY = 65534


class Plain:
    """A process started without the agent, driven by lines on stdin."""

    def __init__(self, argv, sockdir, prefix=(), env=None):
        e = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        e["XSPLICE_DIR"] = str(sockdir)
        e.update(env or {})
        self.sockdir = sockdir
        self.proc = subprocess.Popen([*map(str, prefix), *map(str, argv)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, env=e)
        self.pid = self.proc.pid

    def line(self, timeout=60.0):
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            raise AssertionError(f"process {self.pid} said nothing within {timeout} s")
        reply = self.proc.stdout.readline()
        if reply == "":
            raise AssertionError(f"process died: rc={self.proc.poll()} "
                                 f"stderr={self.proc.stderr.read()}")
        return reply.rstrip("\n")

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def query(self, line):
        self.send(line)
        return self.line()

    def cli(self, *args, check=None, prefix=()):
        e = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        e["XSPLICE_DIR"] = str(self.sockdir)
        p = run([*prefix, XSPLICE, "-p", self.pid, *args], check=False, env=e)
        if check is not None and p.returncode != check:
            raise AssertionError(f"xsplice {' '.join(map(str, args))} exited {p.returncode}, "
                                 f"wanted {check}\nstdout:{p.stdout}\nstderr:{p.stderr}")
        return p

    def blocked_in(self, nr, tid=None):
        """Wait until thread tid (default: the main thread) sits in syscall nr."""
        path = f"/proc/{self.pid}/task/{tid or self.pid}/syscall"
        for _ in range(6000):
            with open(path) as f:
                if f.read().split(" ")[0] == str(nr):
                    return
            time.sleep(0.01)
        raise AssertionError(f"thread never blocked in system call {nr}")

    def has_agent(self):
        return "libxsplice.so" in Path(f"/proc/{self.pid}/maps").read_text()

    def status(self, key):
        for ln in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if ln.startswith(key + ":"):
                return ln.split(":", 1)[1].strip()
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


SYS_READ, SYS_CLOCK_NANOSLEEP, SYS_EPOLL_WAIT, SYS_PPOLL = 0, 230, 232, 271


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("attach")
    os.chmod(d, 0o755)  # the uid tests run the target as nobody
    tgt = cc(d / "attach_target", TARGETS / "attach_target.c", flags=TARGET_CFLAGS)
    obj = cc(d / "p_attach.o", TARGETS / "p_attach.c", flags=PAYLOAD_CFLAGS, link=False)
    payload = pack(d / "p_attach.xsplice", tgt, obj)
    static = cc(d / "attach_static", TARGETS / "attach_target.c",
                flags=[*TARGET_CFLAGS, "-static"])
    return {"dir": d, "target": tgt, "payload": payload, "static": static}


@pytest.fixture
def plain(sockdir):
    started = []

    def _start(argv, **kw):
        p = Plain(argv, sockdir, **kw)
        started.append(p)
        return p

    yield _start
    for p in started:
        p.stop()


def ready(p):
    assert p.line().startswith("ready")
    return p


def test_attach_then_every_verb_workers_see_old_or_new(built, plain):
    t = ready(plain([built["target"], "-w", "4"]))
    t.blocked_in(SYS_READ)
    assert not t.has_agent()
    p = t.cli("list", check=1)
    assert "has no xsplice agent" in p.stderr and f"xsplice -p {t.pid} attach" in p.stderr

    p = t.cli("attach", check=0)
    assert f"process {t.pid}: agent attached" in p.stdout, p.stdout
    assert t.has_agent() and t.status("TracerPid") == "0"
    assert t.cli("attach", check=0).stdout.strip() == "No action needed."

    t.cli("load", built["payload"], check=0)
    assert t.query("value") == "value 2"
    assert "p_attach" in t.cli("list", check=0).stdout
    t.cli("revert", "p_attach", check=0)
    assert t.query("value") == "value 1"
    t.cli("unload", "p_attach", check=0)
    calls, bad = t.query("check").split()[1::2]
    assert int(calls) > 0 and int(bad) == 0


def test_read_on_a_pipe_reads_the_next_line_exactly(built, plain):
    t = ready(plain([built["target"], "-w", "0"]))
    t.blocked_in(SYS_READ)
    t.cli("load", "--attach", built["payload"], check=0)
    # the read() that the attach interrupted goes on: no EINTR, nothing lost
    assert t.query("line exactly this line") == "exactly this line 2"
    t.send("line one\nline two")
    assert t.line() == "one 2"
    assert t.proc.stdout.readline() == "two 2\n"  # (already buffered by line())


def test_epoll_wait_sees_no_eintr(built, plain):
    """epoll_wait fails with EINTR after any ptrace stop; the attach issues it
    again (no signal was pending), so the program never sees it."""
    t = ready(plain([built["target"], "-w", "0", "-e"]))
    t.blocked_in(SYS_EPOLL_WAIT)
    p = t.cli("load", "--attach", built["payload"], check=0)
    assert t.query("line after epoll") == "after epoll 2", p.stderr


def test_a_thread_in_ppoll_with_a_mask_is_not_borrowed(built, plain):
    """ppoll with a signal mask: ptrace would see only the temporary mask, so
    that thread is never borrowed; it is the only waiting one: exit 2."""
    t = ready(plain([built["target"], "-w", "0", "-P"]))
    t.blocked_in(SYS_PPOLL)
    p = t.cli("attach")
    assert p.returncode == 2 and "try again" in p.stderr, p.stderr
    assert not t.has_agent() and t.status("TracerPid") == "0"
    assert t.query("value") == "value 1"


def test_nanosleep_resumes_with_what_remained(built, plain):
    t = ready(plain([built["target"], "-w", "0"]))
    t.send("sleep 8000")
    assert t.line() == "sleeping"
    t.blocked_in(SYS_CLOCK_NANOSLEEP)
    time.sleep(4)
    p = t.cli("attach", "--json", check=0)
    assert json.loads(p.stdout)["syscall"] == "clock_nanosleep"
    slept, ms, _, rc, _, elapsed = t.line().split()
    # not cut short, not failed; a restart of the full timeout after the
    # 4 s already slept would have taken 12 s or more
    assert rc == "0" and 8000 <= float(elapsed) < 12000, elapsed
    assert t.query("value") == "value 1"


def test_hundred_threads_half_blocked_half_spinning(built, plain):
    t = ready(plain([built["target"], "-w", "0", "-s", "50", "-b", "49"]))
    t.blocked_in(SYS_READ)
    p = t.cli("attach", "--json", check=0)
    r = json.loads(p.stdout)
    assert r["version"] == 1 and r["thread"] > 0 and not r["already"]
    print(f"\nattach of 100 threads: held thread {r['thread']} ({r['syscall']}) "
          f"for {r['held_us']:.0f} us, {r['total_us']:.0f} us in all; "
          "no other thread was stopped")
    t.cli("load", built["payload"], check=0)
    assert t.query("value") == "value 2"
    assert int(t.query("check").split()[3]) == 0


def test_a_program_using_the_default_signal_keeps_it(built, plain):
    """The program handles SIGRTMIN+8 (the agent's default): the agent
    attached late takes another, free, real-time signal."""
    t = ready(plain([built["target"], "-w", "2", "-m", "rtsig"]))
    t.blocked_in(SYS_READ)
    assert t.query("rtsig") == "rtsig 1"
    t.cli("load", "--attach", built["payload"], check=0)
    assert t.query("value") == "value 2"
    assert t.query("rtsig") == "rtsig 2"
    t.cli("revert", "p_attach", check=0)
    assert t.query("rtsig") == "rtsig 3"
    assert int(t.query("check").split()[3]) == 0


def test_a_program_with_a_private_tmp(built, plain):
    """Started in its own mount namespace with a private /tmp and no
    XSPLICE_DIR: the late agent's socket is where the program sees it, and
    the client still reaches it from here."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare")
    d = Path(tempfile.mkdtemp(prefix="xsattach.", dir="/var/tmp"))
    try:
        exe = shutil.copy(built["target"], d / "attach_target")
        t = plain(["unshare", "-m", "--propagation", "private", "/usr/bin/python3",
                   ROOT / "tests" / "e2e" / "privtmp.py", "--", exe, "-w", "2"],
                  env={"XSPLICE_DIR": "", "XDG_RUNTIME_DIR": ""})
        try:
            first = t.line()
        except AssertionError as e:  # unshare or mount refused
            pytest.skip(f"cannot give a process a private /tmp here: {e}")
        t.pid = int(first.split()[1])
        t.blocked_in(SYS_READ)
        e = {k: v for k, v in os.environ.items() if k not in ("XSPLICE_DIR", "LD_PRELOAD")}
        p = run([XSPLICE, "-p", t.pid, "load", "--attach", built["payload"]], check=False,
                env=e)
        assert p.returncode == 0, p.stderr
        assert t.query("value") == "value 2"
        assert int(t.query("check").split()[3]) == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_debian_program_and_its_shared_library(tmp_path, plain, sockdir):
    """/usr/bin/python3 (Debian's, not built here) computes zlib CRCs with
    libz.so.1; a hand-written payload packed against that library changes
    crc32 in the running interpreter, and reverts."""
    py, libz = Path("/usr/bin/python3"), Path("/lib/x86_64-linux-gnu/libz.so.1")
    if not py.exists() or not libz.exists():
        pytest.skip("needs Debian's python3 and zlib1g")
    src = tmp_path / "crc.c"
    src.write_text(
        "#include <xsplice/patch.h>\n"
        "extern unsigned long crc32(unsigned long crc, const unsigned char *buf,"
        " unsigned int len);\n"
        "static unsigned long crc32_fixed(unsigned long crc, const unsigned char *buf,"
        " unsigned int len)\n"
        "{ (void)crc; (void)buf; return 4000000000ul + len; }\n"
        "XSPLICE_REPLACE(crc32, crc32_fixed);\n")
    obj = cc(tmp_path / "crc.o", src, flags=PAYLOAD_CFLAGS, link=False)
    payload = pack(tmp_path / "crc.xsplice", libz, obj)
    t = plain([py, "-I", "-u", "-c",
               "import sys, zlib\n"
               "print('ready', flush=True)\n"
               "for l in sys.stdin: print(l.strip(), zlib.crc32(l.encode()), flush=True)\n"])
    ready(t)
    t.blocked_in(SYS_READ)
    before = t.query("abc")
    t.cli("load", "--attach", payload, check=0)
    assert t.query("abc") == "abc 4000000004"
    t.cli("revert", "crc", check=0)
    assert t.query("abc") == before


# ---- refusals -------------------------------------------------------------


def refused(t, p, *words):
    assert p.returncode == 1, (p.stdout, p.stderr)
    for w in words:
        assert w in p.stderr, p.stderr
    assert not t.has_agent() and t.status("TracerPid") == "0"


def still_itself(t):
    assert not t.has_agent()
    assert t.query("value") == "value 1"


def test_refuses_a_static_program(built, plain):
    t = ready(plain([built["static"]]))
    p = t.cli("attach")
    refused(t, p, "statically linked", "no dlopen")
    still_itself(t)


def test_refuses_a_traced_program(built, plain):
    t = ready(plain([built["target"], "-m", "traced"]))
    p = t.cli("attach")
    assert p.returncode == 1 and "already traced by process" in p.stderr, p.stderr
    still_itself(t)


def test_refuses_a_stopped_program(built, plain):
    t = ready(plain([built["target"]]))
    os.kill(t.pid, signal.SIGSTOP)
    try:
        for _ in range(500):
            if t.status("State").startswith("T"):
                break
            time.sleep(0.01)
        p = t.cli("attach")
        refused(t, p, "is stopped", "continue it first")
    finally:
        os.kill(t.pid, signal.SIGCONT)
    still_itself(t)


def test_refuses_seccomp(built, plain):
    t = ready(plain([built["target"], "-m", "seccomp"]))
    assert t.status("Seccomp") == "2"
    p = t.cli("attach")
    refused(t, p, "seccomp", "refusing")
    still_itself(t)


def as_nobody():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to act as another uid")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@pytest.fixture
def nobody_sockdir():
    d = Path(tempfile.mkdtemp(prefix="xsplice-attach-"))
    os.chown(d, NOBODY, NOBODY)
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_refuses_another_uid(built, plain):
    t = ready(plain([built["target"]]))
    p = t.cli("attach", prefix=as_nobody())
    refused(t, p, "belongs to uid 0", f"you are uid {NOBODY}", "CAP_SYS_PTRACE")
    still_itself(t)


def test_refuses_without_cap_sys_ptrace(built, plain, nobody_sockdir):
    t = ready(plain([built["target"]], prefix=as_nobody()))
    t.sockdir = nobody_sockdir
    p = t.cli("attach", prefix=["setpriv", "--bounding-set", "-sys_ptrace",
                                "--inh-caps", "-sys_ptrace"])
    refused(t, p, f"belongs to uid {NOBODY}", "you are uid 0 without CAP_SYS_PTRACE")
    still_itself(t)


def test_refuses_a_non_dumpable_process(built, plain, nobody_sockdir):
    t = plain([built["target"], "-m", "nodump"], prefix=as_nobody())
    ready(t)
    t.sockdir = nobody_sockdir
    p = t.cli("attach", prefix=as_nobody())
    assert p.returncode == 1 and "not dumpable" in p.stderr, p.stderr
    assert t.query("value") == "value 1"


def test_refuses_under_yama(built, plain):
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    if not scope.exists():
        pytest.skip("this kernel has no Yama LSM (kernel.yama.ptrace_scope)")
    if scope.read_text().strip() == "0":
        pytest.skip("kernel.yama.ptrace_scope is 0 here (and is not ours to change)")
    t = ready(plain([built["target"]], prefix=as_nobody()))
    p = t.cli("attach", prefix=as_nobody())
    refused(t, p, "Yama")


def i386_pause_program(path):
    """A 32-bit x86 ELF executable that loops on pause() (int 0x80)."""
    code = bytes([0xb8, 29, 0, 0, 0, 0xcd, 0x80, 0xeb, 0xf7])
    base, hdr = 0x08048000, 52 + 32
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)
    eh = struct.pack("<16sHHIIIIIHHHHHH", ident, 2, 3, 1, base + hdr, 52, 0, 0, 52, 32, 1,
                     0, 0, 0)
    ph = struct.pack("<IIIIIIII", 1, 0, base, base, hdr + len(code), hdr + len(code), 5,
                     0x1000)
    path.write_bytes(eh + ph + code)
    path.chmod(0o755)
    return path


def test_refuses_another_architecture(tmp_path, plain):
    prog = i386_pause_program(tmp_path / "i386-pause")
    try:
        t = plain([prog])
    except OSError as e:
        pytest.skip(f"this kernel does not run 32-bit x86 programs ({e})")
    time.sleep(0.2)
    if t.proc.poll() is not None:
        pytest.skip("this kernel does not run 32-bit x86 programs")
    p = t.cli("attach")
    assert p.returncode == 1 and "not an x86-64 program" in p.stderr, p.stderr
    assert t.proc.poll() is None and t.status("TracerPid") == "0"


def test_busy_when_no_thread_waits(built, plain):
    """Every thread computing: no safe point, exit 2 (a retry can succeed)."""
    t = ready(plain([built["target"], "-w", "0", "-s", "2", "-m", "spin"]))
    p = t.cli("attach")
    assert p.returncode == 2 and "try again" in p.stderr, p.stderr
    p = t.cli("load", "--attach", built["payload"])
    assert p.returncode == 2 and "try again" in p.stderr, p.stderr
    assert not t.has_agent() and t.status("TracerPid") == "0"


def test_ps_all_lists_attachable_processes(built, plain):
    t = ready(plain([built["target"], "-w", "0"]))
    p = run([XSPLICE, "ps", "--all", "--json"])
    mine = [r for r in json.loads(p.stdout)["processes"] if r["pid"] == t.pid]
    assert mine and mine[0]["agent"] is False
    t.cli("attach", check=0)
    p = run([XSPLICE, "ps", "--all", "--json"], env={**os.environ, "XSPLICE_DIR": str(t.sockdir)})
    mine = [r for r in json.loads(p.stdout)["processes"] if r["pid"] == t.pid]
    assert mine and mine[0]["agent"] is True
