"""The control channel can be trusted (issue 8) and answers honestly (issue 9,
observations 5, 7, 8): real processes, real uids, the real command.

Another local user is an attacker here: two users with unique names
(xsplt8-<random>a / b) are created for the module and removed after it.
Scenarios that need the default socket directories under /tmp run in a
private mount namespace with a tmpfs of their own on /tmp (`unshare -m`),
so the shared /tmp is never touched.  The docs/security.md rules name the
tests that prove them.
"""
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import AGENT, BUILD, INCLUDE, PACK, ROOT, XSPLICE, run

HERE = Path(__file__).resolve().parent
CHANDIR = HERE / "channel"
OUT = BUILD / "tests" / "channel"
PY = "/usr/bin/python3"
sys.path.insert(0, str(CHANDIR))
from chanlib import REQ, frame, query, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates users)")

PAYLOAD_FLAGS = ["-O2", "-fPIC", "-ffunction-sections", "-fdata-sections", "-I", str(INCLUDE)]


# ---- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def built():
    """The target (plain, and linked with the agent with and without the
    opt-in), and payloads: p_chan (forged metadata), p_bss (255 MiB .bss)."""
    OUT.mkdir(parents=True, exist_ok=True)
    os.chmod(OUT, 0o755)
    src = CHANDIR / "ctarget.c"
    run(["gcc", "-O2", "-g", "-ffunction-sections", "-fdata-sections", "-o", OUT / "ctarget", src])
    for name, extra in (("linked", []), ("linked_optin", ["-DLINKED_OPT_IN"])):
        run(["gcc", "-O2", "-g", "-I", INCLUDE, *extra, "-o", OUT / name, src,
             "-L", AGENT.parent, "-Wl,--no-as-needed", "-lxsplice", f"-Wl,-rpath,{AGENT.parent}"])
    out = {}
    for p, variants in (("p_chan", (0, 1)), ("p_bss", (0, 1))):
        for v in variants:
            obj = OUT / f"{p}{v}.o"
            run(["gcc", "-c", *PAYLOAD_FLAGS, f"-DVARIANT={v}", "-o", obj, CHANDIR / f"{p}.c"])
            run([PACK, "-t", OUT / "ctarget", "-o", OUT / f"{p}{v}.xsplice", obj])
            out[f"{p}{v}"] = OUT / f"{p}{v}.xsplice"
    for f in OUT.iterdir():
        os.chmod(f, 0o755)
    return out


@pytest.fixture(scope="module")
def users():
    """Two fresh uids: a (the service's) and b (the attacker's)."""
    tag = secrets.token_hex(4)
    names = [f"xsplt8-{tag}a", f"xsplt8-{tag}b"]
    made = []
    try:
        for n in names:
            run(["useradd", "-M", "-U", "-s", "/usr/sbin/nologin", n])
            made.append(n)
        yield [pwd.getpwnam(n).pw_uid for n in names] + [pwd.getpwnam(n).pw_gid for n in names]
    finally:
        for n in made:
            subprocess.run(["userdel", n], capture_output=True)


@pytest.fixture
def world(tmp_path):
    """A directory every uid can traverse (pytest's tmp_path is 0700)."""
    d = Path(tempfile.mkdtemp(prefix="xsplt8-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def cli_env(sockdir=None):
    e = dict(os.environ)
    e.pop("LD_PRELOAD", None)
    e.pop("XDG_RUNTIME_DIR", None)
    e.pop("XSPLICE_DIR", None)
    if sockdir:
        e["XSPLICE_DIR"] = str(sockdir)
    return e


def target_env(sockdir=None, **kw):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LD_PRELOAD": str(AGENT)}
    if sockdir:
        e["XSPLICE_DIR"] = str(sockdir)
    e.update(kw)
    return e


class Proc:
    """A line-driven ctarget; killed at the end of the test."""

    def __init__(self, argv, env, user=None):
        self.p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  bufsize=1, env=env, user=user, group=user,
                                  extra_groups=[] if user is not None else None)
        self.pid = self.p.pid
        assert self.ask("a") == "1", self.p.stderr.read()  # constructors have run

    def ask(self, line):
        return query(self.p, line)

    def stop(self):
        if self.p.poll() is None:
            os.kill(self.pid, signal.SIGCONT)
            self.p.kill()
        self.p.wait(timeout=20)
        return self.p.stderr.read()


@pytest.fixture
def procs():
    started = []

    def _start(argv, env, user=None):
        t = Proc(argv, env, user)
        started.append(t)
        return t

    yield _start
    for t in started:
        t.stop()


def xs(*args, sockdir=None, env=None, check=None, user=None, timeout=120):
    p = subprocess.run([str(XSPLICE), *map(str, args)], capture_output=True, text=True,
                       env=env or cli_env(sockdir), timeout=timeout, user=user)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
    return p


def in_private_tmp(script, *args):
    """Run a python script in a new mount namespace with its own /tmp; its
    last line "RESULT {json}" is returned."""
    prelude = (f"import sys, os, json, time, subprocess\nsys.path.insert(0, {str(CHANDIR)!r})\n"
               "from chanlib import *\nprivate_tmp()\n")
    p = subprocess.run(["unshare", "-m", PY, "-c", prelude + script, *map(str, args)],
                       capture_output=True, text=True, timeout=240)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"namespace script failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return json.loads(lines[-1][7:])


# ---- 1. squatting the default socket directory ---------------------------------


SQUAT = r"""
A, B, payload = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
d = f"/tmp/xsplice-{A}"
os.mkdir(d); os.chmod(d, 0o777); os.chown(d, B, B)          # the attacker was first
env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": str(AGENT)}
t = start([CHAN / "ctarget"], env, user=A, group=A)
before = query(t, "a")
sock = f"{d}/{t.pid}.sock"
fake = subprocess.Popen([PY, str(CHANDIR / "chanlib.py"), "fake", sock, "/tmp/fake.log"],
                        user=B, group=B, extra_groups=[])
wait_for(lambda: os.path.exists(sock), sock)
cenv = {"PATH": "/usr/bin:/bin"}
load = run([XSPLICE, "-p", t.pid, "upload", "fix", payload, "api_key=secret"], env=cenv)
lst = run([XSPLICE, "-p", t.pid, "list"], env=cenv)
as_a = run([XSPLICE, "-p", t.pid, "list"], env=cenv, user=A, group=A, extra_groups=[])
after = query(t, "a")
fake.kill(); t.kill(); t.wait()
log = open("/tmp/fake.log", "rb").read() if os.path.exists("/tmp/fake.log") else b""
emit({"before": before, "after": after, "load": load, "list": lst, "as_a": as_a,
      "agent_err": t.stderr.read(), "log": log.decode("latin1")})
"""


def test_squatted_default_dir_denies_service_but_never_impersonates(built, users):
    a, b = users[:2]
    r = in_private_tmp(SQUAT, a, b, built["p_chan0"])
    # the agent said why it has no socket
    assert f"/tmp/xsplice-{a}" in r["agent_err"] and "not safe" in r["agent_err"]
    assert "writable by others" in r["agent_err"] or f"uid {b}" in r["agent_err"]
    # root's and the owner's commands refuse the impostor, naming path and owner
    for res in (r["load"], r["list"], r["as_a"]):
        assert res["rc"] == 1, res
        assert f"/tmp/xsplice-{a}" in res["err"] and f"uid {b}" in res["err"], res
        assert "APPLIED" not in res["out"] and "\x1b" not in res["out"] + res["err"]
    # the impostor received nothing: no payload, no parameter
    assert r["log"] == ""
    assert r["before"] == r["after"] == "1"


# ---- 2. every component of XSPLICE_DIR -----------------------------------------


def test_xsplice_dir_parent_of_another_user_is_refused(built, users, world, procs):
    a, b = users[:2]
    parent = world / "parent"
    parent.mkdir(mode=0o755)
    os.chown(parent, b, b)  # the attacker owns a parent
    sd = parent / "sock"
    sd.mkdir(mode=0o700)
    os.chown(sd, a, a)
    t = procs([OUT / "ctarget"], target_env(sd), user=a)
    assert list(sd.iterdir()) == []
    # the attacker swaps the directory and serves a fake agent in it
    os.rename(sd, parent / "old")
    sd.mkdir(mode=0o700)
    os.chown(sd, b, b)
    sock = sd / f"{t.pid}.sock"
    fake = subprocess.Popen([PY, CHANDIR / "chanlib.py", "fake", sock, world / "fake.log"],
                            user=b, group=b, extra_groups=[])
    try:
        wait_for(sock.exists, sock)
        p = xs("-p", t.pid, "upload", "fix", built["p_chan0"], "api_key=secret", sockdir=sd, check=1)
        assert "refusing" in p.stderr and f"uid {b}" in p.stderr and str(parent) in p.stderr
        assert not (world / "fake.log").exists() or (world / "fake.log").read_bytes() == b""
    finally:
        fake.kill()
        fake.wait()
    err = t.stop()
    assert "not safe" in err and str(parent) in err and f"owned by uid {b}" in err


def test_xsplice_dir_symlink_with_trailing_slash_and_relative_are_refused(built, world, procs):
    real = world / "real"
    real.mkdir(mode=0o700)
    link = world / "link"
    link.symlink_to(real)
    t = procs([OUT / "ctarget"], target_env(f"{link}/"))
    assert list(real.iterdir()) == []
    assert "symlink" in t.stop()
    t = procs([OUT / "ctarget"], target_env("rel/dir"), )
    assert "not an absolute path" in t.stop()
    # and a normalised path works: //a//b/ is /a/b
    t = procs([OUT / "ctarget"], target_env(f"/{real}//"))
    assert (real / f"{t.pid}.sock").exists()
    xs("-p", t.pid, "list", sockdir=real, check=0)


# ---- 3. a privileged program ---------------------------------------------------------


PRIV = r"""
A, B, AG, BG = map(int, sys.argv[1:5])
res = {}
for name, mode, owner in (("linked", 0o2755, (0, BG)), ("linked_optin", 0o4755, (B, BG))):
    exe = f"/tmp/{name}"
    subprocess.run(["cp", str(CHAN / name), exe], check=True)
    os.chown(exe, *owner); os.chmod(exe, mode)
    t = start([exe], {"PATH": "/usr/bin:/bin"}, user=A, group=AG)
    ident = query(t, "id")
    socks = sorted(str(p) for p in __import__("pathlib").Path("/tmp").glob("xsplice-*/*.sock"))
    cenv = {"PATH": "/usr/bin:/bin"}
    res[name] = {"id": ident, "socks": socks,
                 "as_a": run([XSPLICE, "-p", t.pid, "list"], env=cenv, user=A, group=AG,
                             extra_groups=[]),
                 "as_root": run([XSPLICE, "-p", t.pid, "list"], env=cenv)}
    t.kill(); t.wait()
    res[name]["err"] = t.stderr.read()
emit(res)
"""


def test_setgid_program_is_not_served_and_opted_in_setuid_only_by_its_euid(built, users):
    a, b, ag, bg = users
    r = in_private_tmp(PRIV, a, b, ag, bg)
    sg = r["linked"]
    assert sg["id"] == f"uid {a} {a} gid {ag} {bg}"  # really setgid
    assert "more privilege" in sg["err"] and sg["socks"] == []
    assert sg["as_a"]["rc"] == 1 and sg["as_root"]["rc"] == 1
    su = r["linked_optin"]
    assert su["id"].startswith(f"uid {a} {b} ")  # really setuid
    assert su["socks"] == [s for s in su["socks"] if f"/xsplice-{b}/" in s] and su["socks"]
    assert su["as_root"]["rc"] == 0, su
    assert su["as_a"]["rc"] == 1, su  # the invoking user may not control it


# ---- 4. no starvation --------------------------------------------------------------


def test_idle_clients_do_not_block_others_and_500_connect(built, sockdir, procs):
    t = procs([OUT / "ctarget"], target_env(sockdir))
    sock = str(sockdir / f"{t.pid}.sock")
    idle = []
    for _ in range(5):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        idle.append(s)  # connected, greeted, never sends a request
    p = xs("--timeout", "10000", "-p", t.pid, "list", sockdir=sockdir, check=0)
    assert "no payloads loaded" in p.stdout
    # 500 clients connect at once: none is turned away by the backlog
    many, refused = [], 0
    for _ in range(500):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(sock)
        except BlockingIOError:
            refused += 1
        many.append(s)
    assert refused == 0
    for s in many + idle:
        s.close()
    xs("--timeout", "10000", "-p", t.pid, "list", sockdir=sockdir, check=0)
    # a client that sends half a header holds only its own connection
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(REQ.pack(0x4C505358, 1, 6, 0, 0, 0, 0, 0, 0)[:10])
    xs("--timeout", "10000", "-p", t.pid, "upload", "c", built["p_chan0"], sockdir=sockdir,
       check=0)
    s.close()
    assert t.ask("a") == "1"


# ---- 5. text output escapes --------------------------------------------------------


def test_text_output_escapes_payload_and_client_strings(built, sockdir, procs):
    t = procs([OUT / "ctarget"], target_env(sockdir))
    xs("-p", t.pid, "upload", "c", built["p_chan0"], "k=v\nfake: APPLIED\x1b[2J", sockdir=sockdir,
       check=0)
    for verb in ("list", "dump"):
        out = xs("-p", t.pid, verb, sockdir=sockdir, check=0).stdout
        assert "\x1b" not in out and "\x07" not in out
        assert not any(ln.startswith("fake: APPLIED") for ln in out.splitlines()), out
        assert "fix\\nfake: APPLIED\\x1b]0;owned\\x07" in out
        assert "k=v\\nfake: APPLIED\\x1b[2J" in out
    js = json.loads(xs("-p", t.pid, "list", "--json", sockdir=sockdir, check=0).stdout)
    (pl,) = js["payloads"]
    assert pl["metadata"]["description"] == "fix\nfake: APPLIED\x1b]0;owned\x07\x1b[2J"
    assert pl["params"]["k"] == "v\nfake: APPLIED\x1b[2J"


# ---- 6. pid namespaces sharing a directory ---------------------------------------


def child_of(pid):
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        kids += open(f"/proc/{pid}/task/{tid}/children").read().split()
    return int(kids[0]) if kids else None


def test_two_pid_namespaces_sharing_a_directory_do_not_collide(built, sockdir, procs):
    outer = [procs(["unshare", "-p", "-f", "--kill-child", OUT / "ctarget"], target_env(sockdir))
             for _ in range(2)]
    inner = [wait_for(lambda o=o: child_of(o.pid), "the namespace's pid 1") for o in outer]
    for i in inner:
        assert open(f"/proc/{i}/status").read().split("NSpid:")[1].split("\n")[0].split()[-1] == "1"
    socks = wait_for(lambda: len(list(sockdir.glob("1-*.sock"))) == 2 and
                     sorted(sockdir.glob("1-*.sock")), "two sockets")
    assert len(socks) == 2
    xs("-p", inner[0], "load", built["p_chan0"], sockdir=sockdir, check=0)
    assert outer[0].ask("a") == "2" and outer[1].ask("a") == "1"
    assert "no payloads loaded" in xs("-p", inner[1], "list", sockdir=sockdir, check=0).stdout
    assert "p_chan0: APPLIED" in xs("-p", inner[0], "list", sockdir=sockdir, check=0).stdout


# ---- 7. memory ---------------------------------------------------------------------


def rss_kb(pid):
    for ln in open(f"/proc/{pid}/status"):
        if ln.startswith("VmRSS:"):
            return int(ln.split()[1])
    raise AssertionError("no VmRSS")


def test_bss_is_not_committed_and_budgets_hold(built, sockdir, procs):
    t = procs([OUT / "ctarget"], target_env(sockdir))
    p = xs("-p", t.pid, "upload", "big", built["p_bss0"], sockdir=sockdir, check=1)
    assert "XSPLICE_PAYLOAD_MAX_MB" in p.stderr and "64 MiB" in p.stderr
    t.stop()
    t = procs([OUT / "ctarget"], target_env(sockdir, XSPLICE_PAYLOAD_MAX_MB="300",
                                            XSPLICE_MEM_MAX_MB="300"))
    before = rss_kb(t.pid)
    xs("-p", t.pid, "load", built["p_bss0"], sockdir=sockdir, check=0)
    assert t.ask("a") == "10"
    assert rss_kb(t.pid) - before < 32 * 1024  # 255 MiB of .bss, not committed
    p = xs("-p", t.pid, "upload", "big2", built["p_bss1"], sockdir=sockdir, check=1)
    assert "XSPLICE_MEM_MAX_MB" in p.stderr and "already hold" in p.stderr
    xs("-p", t.pid, "upload", "small", built["p_chan1"], sockdir=sockdir, check=0)


# ---- issue 9: a stopped process, stale sockets, private /tmp -----------------------


def test_stopped_process_answers_within_timeout_exit_2(built, sockdir, procs):
    t = procs([OUT / "ctarget"], target_env(sockdir))
    xs("-p", t.pid, "upload", "c", built["p_chan0"], sockdir=sockdir, check=0)
    os.kill(t.pid, signal.SIGSTOP)
    wait_for(lambda: open(f"/proc/{t.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "T",
             "stopped")
    # the subprocess bound (60 s) is far below the old 120 s hang
    for args in (["list"], ["apply", "c"], ["info"]):
        p = xs("--timeout", "2000", "-p", t.pid, *args, sockdir=sockdir, timeout=60)
        assert p.returncode == 2, p
        assert f"process {t.pid} is stopped" in p.stderr and f"kill -CONT {t.pid}" in p.stderr
    # without --timeout: at the default action deadline (3 s), not after 120 s
    p = xs("-p", t.pid, "list", sockdir=sockdir, timeout=60)
    assert p.returncode == 2 and f"process {t.pid} is stopped" in p.stderr, p
    os.kill(t.pid, signal.SIGCONT)
    xs("-p", t.pid, "apply", "c", sockdir=sockdir, check=0)
    assert t.ask("a") == "2"


def test_stale_sockets_are_cleaned_up_and_live_ones_kept(built, sockdir, procs):
    t = procs([OUT / "ctarget"], target_env(sockdir))
    assert t.ask("fork 50") == "forked 50"
    others = [f for f in sockdir.glob("*.sock") if f.name != f"{t.pid}.sock"]
    # a stale socket under the pid of a live process that is no agent (reused pid)
    if others:
        others[0].rename(sockdir / f"{os.getpid()}.sock")
    xs("ps", sockdir=sockdir, check=0)
    assert sorted(f.name for f in sockdir.glob("*.sock")) == [f"{t.pid}.sock"]
    # a killed agent's socket: removed by the next agent that starts there
    k = procs([OUT / "ctarget"], target_env(sockdir))
    os.kill(k.pid, signal.SIGKILL)
    k.p.wait()
    assert (sockdir / f"{k.pid}.sock").exists()
    n = procs([OUT / "ctarget"], target_env(sockdir))
    assert not (sockdir / f"{k.pid}.sock").exists()
    assert (sockdir / f"{t.pid}.sock").exists() and (sockdir / f"{n.pid}.sock").exists()
    xs("-p", t.pid, "list", sockdir=sockdir, check=0)


def test_a_forked_child_sweeps_the_sockets_of_children_that_died(built, sockdir, procs):
    # children that _exit() run no code of ours and leave their sockets; the
    # next forked child's agent removes them (from its control thread), so a
    # pre-fork server never piles up one socket per fork
    t = procs([OUT / "ctarget"], target_env(sockdir))
    assert t.ask("fork 50") == "forked 50"
    child = int(t.ask("spawn").split()[1])
    want = sorted([f"{t.pid}.sock", f"{child}.sock"])
    wait_for(lambda: sorted(f.name for f in sockdir.glob("*.sock")) == want,
             "only the live parent's and child's sockets left", timeout=60)
    xs("-p", child, "list", sockdir=sockdir, check=0)


def test_agent_in_a_private_tmp_is_found_like_ps_shows_it(built, procs):
    t = procs(["unshare", "-m", PY, ROOT / "tests" / "e2e" / "privtmp.py", "--mkdir", "/tmp/xs:700",
               "--", "env", "XSPLICE_DIR=/tmp/xs", f"LD_PRELOAD={AGENT}", OUT / "ctarget"],
              {"PATH": os.environ["PATH"]})
    wait_for(lambda: os.path.exists(f"/proc/{t.pid}/root/tmp/xs/{t.pid}.sock"), "socket")
    assert not os.path.exists(f"/tmp/xs/{t.pid}.sock")
    xs("-p", t.pid, "load", built["p_chan0"], check=0)
    assert t.ask("a") == "2"
    ps = json.loads(xs("ps", "--json", check=0).stdout)
    rows = ps["processes"] if isinstance(ps, dict) else ps
    (row,) = [r for r in rows if r["pid"] == t.pid]
    assert row["socket"] == f"/proc/{t.pid}/root/tmp/xs/{t.pid}.sock"
