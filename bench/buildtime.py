#!/usr/bin/python3
"""make bench, (d): how long xsplice-build takes to make a payload, against
the plain incremental rebuild of the same change, on a real project: Lua
5.4.4 from Debian's lua5.4 source package and the CVE-2022-28805 fix Debian
carries (the subject of tests/corpus/real/lua.sh).

 - baseline: `make` in a built tree after applying the fix (what a developer
   waits for after editing the file), median of 3;
 - cold: xsplice-build with an empty cache (the original is built from
   scratch), once;
 - warm: xsplice-build again against the same original (the cached original
   build is reused), median of 3;
 - series: the next fix of a series, xsplice-build against the source with
   the first fix applied (only the changed file is rebuilt), once.

Called from bench/run.py; also runs alone (`bench/buildtime.py`), replacing
its own section of docs/performance.md.  Skips itself, saying why, when the
source package cannot be fetched.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "build" / "bin"
FETCH = ROOT / "build" / "realworld" / "lua"
JOBS = 2
TITLE = "## (d) Payload build time (xsplice-build)"


def sh(cmd, cwd=None, env=None):
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p


def timed(cmd, cwd=None, env=None):
    t0 = time.monotonic()
    sh(cmd, cwd=cwd, env=env)
    return time.monotonic() - t0


def fetch():
    """The lua5.4 source package in build/realworld/lua; None when it cannot be fetched."""
    FETCH.mkdir(parents=True, exist_ok=True)
    if not list(FETCH.glob("lua5.4_*.orig.tar.gz")):
        subprocess.run(["apt-get", "source", "--download-only", "lua5.4"], cwd=FETCH,
                       capture_output=True, timeout=300)
    orig = sorted(FETCH.glob("lua5.4_*.orig.tar.gz"))
    deb = sorted(FETCH.glob("lua5.4_*.debian.tar.xz"))
    return (orig[0], deb[0]) if orig and deb else None


def unpack(orig, deb, tmp):
    src = tmp / "src"
    with tarfile.open(orig) as t:
        t.extractall(tmp / "x")
    (next((tmp / "x").iterdir())).rename(src)
    with tarfile.open(deb) as t:
        t.extractall(tmp / "deb")
    for p in sorted((tmp / "deb" / "debian" / "patches").iterdir()):
        if "28805" in p.name or "_ENV is <const>" in p.read_text(errors="replace"):
            return src, p
    raise RuntimeError("the CVE-2022-28805 fix is not in this lua5.4 source package")


def lua_make():
    return ["make", "linux", f"CC={BIN / 'xsplice-cc'} -std=gnu99", f"-j{JOBS}"]


def xbuild(src, patch, target, out, cache):
    env = dict(os.environ, XSPLICE_BUILD_CACHE=str(cache))
    return timed([BIN / "xsplice-build", "-q", "-s", src, "-p", patch, "-t", target, "-o", out,
                  "-n", "fix", "-j", str(JOBS), "--build", 'make linux CC="$CC -std=gnu99"'], env=env)


def incremental(prod, patch, d, rounds=3):
    """Seconds of `make` in copies of the built tree `prod` after `patch`."""
    times = []
    for _ in range(rounds):
        sh(["cp", "-a", prod, d])
        sh(["patch", "-p1", "-s", "-i", patch], cwd=d)
        times.append(timed(lua_make(), cwd=d))
        shutil.rmtree(d)
    return times


def bench(tmp):
    got = fetch()
    if not got:
        return None
    src, fix = unpack(*got, tmp)
    prod = tmp / "prod"
    shutil.copytree(src, prod, symlinks=True)
    sh(lua_make(), cwd=prod)

    incr = incremental(prod, fix, tmp / "incr")
    cache = tmp / "cache"
    cold = xbuild(src, fix, prod / "src" / "lua", tmp / "out-cold", cache)
    warm = [xbuild(src, fix, prod / "src" / "lua", tmp / f"out-warm{i}", cache) for i in range(3)]

    # the next fix of a series: the source now carries the fix; the next
    # change touches another file (a message text of the library loader)
    src2 = tmp / "src2"
    shutil.copytree(src, src2, symlinks=True)
    sh(["patch", "-p1", "-s", "--no-backup-if-mismatch", "-i", fix], cwd=src2)
    prod2 = tmp / "prod2"
    shutil.copytree(src2, prod2, symlinks=True)
    sh(lua_make(), cwd=prod2)
    lauxlib = (src2 / "src" / "lauxlib.c").read_text()
    changed = lauxlib.replace('"bad argument #%d (%s)"', '"bad argument #%d: %s"', 1)
    assert changed != lauxlib
    (tmp / "next").mkdir()
    (tmp / "next" / "lauxlib.c").write_text(changed)
    nxt = tmp / "next.patch"
    d = subprocess.run(["diff", "-u", "--label", "a/src/lauxlib.c", "--label", "b/src/lauxlib.c",
                        src2 / "src" / "lauxlib.c", tmp / "next" / "lauxlib.c"],
                       capture_output=True, text=True)
    nxt.write_text(d.stdout)
    incr_next = incremental(prod2, nxt, tmp / "incr")
    series = xbuild(src2, nxt, prod2 / "src" / "lua", tmp / "out-next", cache)
    return {
        "load": os.getloadavg()[0],
        "package": got[0].name.replace(".orig.tar.gz", ""),
        "incremental": statistics.median(incr),
        "incremental_next": statistics.median(incr_next),
        "cold": cold,
        "warm": statistics.median(warm),
        "series": series,
    }


def section(r):
    lines = [TITLE, ""]
    if r is None:
        return lines + ["Skipped: the lua5.4 source package could not be fetched (apt-get source).", ""]
    inc, nxt = r["incremental"], r["incremental_next"]
    lines += [
        f"Lua 5.4.4 ({r['package']}, Debian's source package) built with its own Makefile through",
        f"xsplice-cc, -j{JOBS}. Baseline: the plain incremental rebuild of the same change (`make`",
        "in a built tree after applying the fix; median of 3). Payload: the whole `xsplice-build`",
        "run (copy, original build or cache, target check, patched and line-aligned rebuilds,",
        "comparison, packing). Goal: a payload against an original already built once (warm)",
        "or the next fix of a series costs at most 2x the incremental rebuild.",
        "",
        "| payload build | xsplice-build (s) | incremental rebuild (s) | ratio |",
        "|---|---:|---:|---:|",
        f"| cold: empty cache, the original built from scratch | {r['cold']:.2f} | {inc:.2f} | "
        f"{r['cold'] / inc:.1f} |",
        f"| warm: the same original again (CVE-2022-28805, lparser.c) | {r['warm']:.2f} | {inc:.2f} | "
        f"{r['warm'] / inc:.1f} |",
        f"| series: the next fix (lauxlib.c) on the fixed source | {r['series']:.2f} | {nxt:.2f} | "
        f"{r['series'] / nxt:.1f} |",
        "",
        "The cold figure includes one full build of the original, which every later payload",
        "against that source (or a source that differs by a few files) reuses from the cache",
        "(xsplice-build(1), THE CACHE OF ORIGINAL BUILDS). Beyond the incremental rebuild, a",
        "warm run compiles the changed file once more (line-aligned, to tell `__LINE__`-only",
        "changes apart) and restores the cached tree; the series run also recompiles the file the",
        "previous fix changed and, its target being a new binary, checks every original object",
        "against it (step 3, the largest fixed cost: about 700 functions compared here).",
        f"Load average at the end of the run: {r.get('load', 0):.0f} on {os.cpu_count()} CPUs (the",
        "machine was shared); the ratios move by tens of percent from run to run under such load.",
        "",
    ]
    return lines


def write(lines, path=ROOT / "docs" / "performance.md"):
    """Replace (or add) this section of docs/performance.md."""
    text = path.read_text() if path.exists() else "# Performance\n"
    out, skip = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            skip = line == TITLE
        if not skip:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    path.write_text("\n".join(out + [""] + lines).rstrip("\n") + "\n")


def run():
    with tempfile.TemporaryDirectory(prefix="xsplice-bench-build.") as t:
        r = bench(Path(t))
    write(section(r))
    if r:
        print(f"bench: (d) warm {r['warm']:.2f}s vs incremental {r['incremental']:.2f}s; "
              f"series {r['series']:.2f}s vs {r['incremental_next']:.2f}s; cold {r['cold']:.2f}s")
    return r


if __name__ == "__main__":
    sys.exit(0 if run() is not None else 0)
