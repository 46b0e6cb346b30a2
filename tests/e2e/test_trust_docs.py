"""Issue 12, documentation that runs: the examples of libxsplicectl(3) and
xsplice-sdk(7) are compiled and run against live processes, the README's
walk-through is run as pasted (with a free port), the CLI's help, and the
install layout in a DESTDIR."""
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, BUILD, INCLUDE, LIB, PACK, ROOT, XSPLICE, run
from features.fhelp import fb  # noqa: F401


def roff_examples(page):
    """{file name: source} of the .EX/.EE blocks that start with /* file: NAME */."""
    out = {}
    text = (ROOT / "man" / page).read_text()
    for block in re.findall(r"^\.EX\n(.*?)^\.EE\n", text, re.S | re.M):
        src = block.replace("\\e", "\\").replace("\\-", "-").replace("\\&", "")
        m = re.match(r"/\* file: (\S+) \*/\n", src)
        if m:
            out[m.group(1)] = src
    return out


def test_libxsplicectl_man_page_example_runs(fb, start, tmp_path):
    src = roff_examples("libxsplicectl.3")
    assert list(src) == ["apply.c"]
    (tmp_path / "apply.c").write_text(src["apply.c"])
    exe = tmp_path / "apply"
    run(["gcc", "-std=gnu11", "-Wall", "-Werror", "-o", exe, tmp_path / "apply.c",
         "-I", INCLUDE, "-L", LIB, f"-Wl,-rpath,{LIB}", "-lxsplicectl"])
    t = start([fb.target])
    assert t.query("greet") != "Hello World"
    p = run([exe, t.pid, "hello", fb.payload("hello")], env=t.env_for_cli())
    assert "hello: APPLIED" in p.stdout, p.stdout
    assert t.query("greet") == "Hello World"
    p = run([exe, t.pid, "hello", fb.payload("hello")], env=t.env_for_cli(), check=False)
    assert p.returncode == 1 and "already loaded" in p.stderr, p.stderr


def test_sdk_man_page_example_builds_and_patches(start, tmp_path):
    src = roff_examples("xsplice-sdk.7")
    assert sorted(src) == ["fix.c", "greet.c"]
    for name, text in src.items():
        (tmp_path / name).write_text(text)
    # the commands of the page's "Build, start, patch" block
    run(["cc", "-O2", "-g", "-Wl,--build-id", "-o", tmp_path / "greet", tmp_path / "greet.c"])
    run(["cc", "-O2", "-fPIC", "-ffunction-sections", "-fdata-sections", "-I", INCLUDE, "-c",
         "-o", tmp_path / "fix.o", tmp_path / "fix.c"])
    run([PACK, "-t", tmp_path / "greet", "-o", tmp_path / "fix.xsplice", tmp_path / "fix.o"])
    t = start([tmp_path / "greet"])
    assert t.query("") == "hello"
    t.cli("load", tmp_path / "fix.xsplice", check=0)
    assert t.query("") == "hello, patched"
    assert "a friendlier greeting" in t.cli("list", check=0).stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_readme_walk_through_runs_as_pasted(tmp_path):
    readme = (ROOT / "README.md").read_text()
    part = readme[readme.index("## A five-minute walk-through"):]
    block = re.search(r"```bash\n(.*?)```", part, re.S).group(1)
    port = str(free_port())
    script = block.replace("7070", port)   # the one change: a port nobody else uses
    sock = tmp_path / "sock"
    sock.mkdir(mode=0o700)
    env = dict(os.environ, XSPLICE_DIR=str(sock), TMPDIR=str(tmp_path))
    env.pop("LD_PRELOAD", None)
    p = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    leak = [l for l in lines if l.startswith("hi")]
    assert len(leak) == 2, p.stdout
    assert "admin-token" in leak[0] and leak[1] == "hi", p.stdout
    assert "fix-ping: APPLIED" in p.stdout, p.stdout


def test_help_for_every_command():
    top = run([XSPLICE, "help"]).stdout
    cmds = re.findall(r"^  (\S+) ", top.split("commands:")[1].split("options:")[0], re.M)
    assert {"upload", "apply", "list", "dump", "help"} <= set(cmds)
    for c in cmds:
        a = run([XSPLICE, "help", c]).stdout
        b = run([XSPLICE, c, "--help"]).stdout
        assert a == b and a.startswith("usage: xsplice"), (c, a, b)
        assert f" {c} " in a.splitlines()[0]
    p = run([XSPLICE, "help", "nosuch"], check=False)
    assert p.returncode == 1 and "unknown command 'nosuch'" in p.stderr


def test_every_json_output_is_one_versioned_object(fb, start):
    t = start([fb.target], env={"XSPLICE_SIGNAL": "RTMIN+8"})
    t.cli("upload", "hello", fb.payload("hello"), check=0)
    t.cli("upload", "hello", fb.payload("hello"), check=1)
    docs = {v: json.loads(t.cli(v, "--json", check=0).stdout)
            for v in ("list", "info", "dump", "history")}
    docs["ps"] = json.loads(run([XSPLICE, "ps", "--json"], env=t.env_for_cli()).stdout)
    for v, d in docs.items():
        assert isinstance(d, dict) and d["version"] == 1, (v, d)
    assert docs["info"]["signal"] == "SIGRTMIN+8"
    assert docs["dump"]["engine"]["signal"] == "SIGRTMIN+8"
    assert docs["dump"]["payloads"][0]["funcs"][0]["name"] == "greet"
    assert docs["list"]["payloads"][0]["error"] is None
    failed = [e for e in docs["history"]["entries"] if e["error"]]
    assert failed[0]["error"] == "EEXIST" and "already loaded" in failed[0]["message"]
    assert "rc" not in docs["list"]["payloads"][0]


def test_stdout_comes_before_stderr(tmp_path):
    """Messages written to one log in the order they happened."""
    run([BIN / "xsplice-sign", "--keygen", tmp_path / "k"])
    good = tmp_path / "good"
    good.write_bytes(b"\x7fELF" + b"\0" * 60)
    p = subprocess.run(f"{BIN / 'xsplice-sign'} -k {tmp_path / 'k.key'} {good} "
                       f"{tmp_path / 'missing'} 2>&1", shell=True, capture_output=True, text=True)
    out = p.stdout.splitlines()
    assert out[0].startswith("signed ") and "missing" in out[1], out


def test_install_layout_in_a_destdir(tmp_path, fb, start):
    pyver = "%d.%d" % sys.version_info[:2]
    for prefix, site in (("/usr/local", f"/usr/local/lib/python{pyver}/dist-packages"),
                         ("/usr", "/usr/lib/python3/dist-packages")):
        dest = tmp_path / prefix.strip("/").replace("/", "_")
        run(["make", "-s", "-C", ROOT, "install", f"PREFIX={prefix}", f"DESTDIR={dest}"])
        root = dest / prefix.lstrip("/")
        lib = root / "lib"
        # SONAME and the development link
        dyn = run(["readelf", "-d", lib / "libxsplicectl.so.0"]).stdout
        assert "Library soname: [libxsplicectl.so.0]" in dyn
        assert os.readlink(lib / "libxsplicectl.so") == "libxsplicectl.so.0"
        syms = run(["readelf", "--dyn-syms", "-W", lib / "libxsplicectl.so.0"]).stdout
        assert "xsctl_attach@@XSPLICECTL_0.1" in syms
        # man pages in their sections
        for page in ("man1/xsplice.1", "man1/xsplice-sign.1", "man3/libxsplicectl.3",
                     "man7/xsplice-sdk.7"):
            assert (root / "share" / "man" / page).exists(), page
        # pkg-config
        pc = run(["pkg-config", "--cflags", "--libs", "xsplice"],
                 env=dict(os.environ, PKG_CONFIG_PATH=str(lib / "pkgconfig"),
                          PKG_CONFIG_SYSROOT_DIR=str(dest))).stdout
        assert "-lxsplicectl" in pc and f"{dest}{prefix}/include" in pc.replace("//", "/"), pc
        # Debian's python3 imports the module from where it was put
        pkg = dest / site.lstrip("/") / "xsplice"
        assert (pkg / "__init__.py").exists(), list(dest.rglob("__init__.py"))
        stock = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(sys.path)"],
                               capture_output=True, text=True).stdout
        assert site in stock
        t = start([fb.target])
        code = ("import sys, xsplice\n"
                "p = xsplice.Process(int(sys.argv[1]))\n"
                "print(p.info()['version'], p.info()['signal'])\n")
        env = dict(os.environ, PYTHONPATH=str(pkg.parent),
                   XSPLICE_CTL_LIB=str(lib / "libxsplicectl.so.0"))
        env.update(XSPLICE_DIR=t.env_for_cli()["XSPLICE_DIR"])
        out = subprocess.run(["/usr/bin/python3", "-c", code, str(t.pid)], env=env,
                             capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 0 and out.stdout.split() == ["1", "SIGRTMIN+8"], out
        # and uninstall takes all of it away
        run(["make", "-s", "-C", ROOT, "uninstall", f"PREFIX={prefix}", f"DESTDIR={dest}"])
        left = [str(f) for f in dest.rglob("*") if f.is_file() or f.is_symlink()]
        assert left == [], left
