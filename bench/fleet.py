#!/usr/bin/python3
"""Fleet bench (issue 11), called from bench/run.py; alone it rewrites only its
own section of docs/performance.md.

 (1) `xsplice sync --all` of 1 stored payload into 1, 10, 50 and 200 processes
     of the same target (10 threads each), against a loop of single-process
     `xsplice -p PID load` over the same processes, measured in the same run;
 (2) time from exec to main with 1 and 20 stored payloads that match the
     program, against the same start with an empty store.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
XSPLICE = BUILD / "bin" / "xsplice"
AGENT = BUILD / "lib" / "libxsplice.so"
HEADING = "## Fleet: `sync --all` and patches that survive restarts"
COUNTS = (1, 10, 50, 200)
STARTUP_RUNS = 31


def sh(*cmd, env=None):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if p.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}: {p.stderr}")
    return p


def build(tmp):
    exe = tmp / "fleet_target"
    sh("gcc", "-std=gnu11", "-O2", "-g", "-ffunction-sections", "-fdata-sections", "-pthread",
       "-Wl,--build-id", ROOT / "bench" / "fleet_target.c", "-o", exe)
    payloads = []
    for k in range(20):
        src = tmp / f"p{k}.c"
        src.write_text("#include <xsplice/patch.h>\n"
                       f"extern long f{k}(long x);\n"
                       f"static long f{k}_new(long x) {{ return x + 1000 + {k}; }}\n"
                       f"XSPLICE_REPLACE(f{k}, f{k}_new);\n")
        obj = tmp / f"p{k}.o"
        sh("gcc", "-std=gnu11", "-O2", "-fPIC", "-ffunction-sections", "-fdata-sections",
           f"-I{ROOT / 'include'}", "-c", src, "-o", obj)
        out = tmp / f"p{k}.xsplice"
        # a build-id chain: each payload stacks on the previous one
        dep = ["--depends", payloads[-1]] if payloads else []
        sh(BUILD / "bin" / "xsplice-pack", "-t", exe, "-o", out, *dep, obj)
        payloads.append(out)
    return exe, payloads


def cli_env(sockdir, store):
    e = dict(os.environ, XSPLICE_DIR=str(sockdir), XSPLICE_STORE=str(store))
    e.pop("LD_PRELOAD", None)
    return e


def start(exe, n, sockdir, store):
    env = dict(os.environ, LD_PRELOAD=str(AGENT), XSPLICE_DIR=str(sockdir),
               XSPLICE_STORE=str(store))
    procs = [subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, bufsize=1, env=env) for _ in range(n)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    return procs


def ask(p, line):
    p.stdin.write(line + "\n")
    p.stdin.flush()
    return p.stdout.readline().strip()


def stop(procs):
    for p in procs:
        p.stdin.close()
    for p in procs:
        p.wait(timeout=30)
        p.stdout.close()


def bench_sync(tmp, exe, payload):
    rows = []
    for n in COUNTS:
        sockdir = tmp / f"sock{n}"
        sockdir.mkdir(mode=0o700)
        store = tmp / f"store{n}"
        env = cli_env(sockdir, store)
        print(f"bench: fleet of {n} processes", flush=True)
        procs = start(exe, n, sockdir, store)
        # baseline: one `load` per process, one after the other
        t0 = time.monotonic()
        for p in procs:
            sh(XSPLICE, "-p", p.pid, "load", payload, env=env)
        loop = time.monotonic() - t0
        assert all(ask(p, "call 0") == "1001" for p in procs)
        for p in procs:
            sh(XSPLICE, "-p", p.pid, "revert", payload.stem, env=env)
            sh(XSPLICE, "-p", p.pid, "unload", payload.stem, env=env)
        assert all(ask(p, "call 0") == "1" for p in procs)
        times, noop = [], []
        for _ in range(3):
            sh(XSPLICE, "store", "add", payload, env=env)
            t0 = time.monotonic()
            sh(XSPLICE, "sync", "--all", env=env)
            times.append(time.monotonic() - t0)
            assert all(ask(p, "call 0") == "1001" for p in procs)
            t0 = time.monotonic()
            out = sh(XSPLICE, "sync", "--all", env=env).stdout
            noop.append(time.monotonic() - t0)
            assert "No action needed" in out
            sh(XSPLICE, "store", "remove", payload.stem, env=env)
            sh(XSPLICE, "sync", "--all", env=env)
        stop(procs)
        sync = statistics.median(times)
        rows.append((n, sync, statistics.median(noop), loop, loop / sync))
        print(f"bench: sync --all into {n}: {sync:.3f} s, loop of load {loop:.3f} s")
    return rows


def startup_ms(exe, store, runs=STARTUP_RUNS):
    env = dict(os.environ, LD_PRELOAD=str(AGENT), XSPLICE_STORE=str(store),
               XSPLICE_DIR=str(store.parent / "sock-startup"))
    vals = []
    for _ in range(runs):
        t0 = time.monotonic_ns()
        out = subprocess.run([str(exe), "startup"], check=True, capture_output=True, text=True,
                             env=env).stdout
        vals.append((int(out.strip()) - t0) / 1e6)
    return statistics.median(vals)


def bench_startup(tmp, exe, payloads):
    (tmp / "sock-startup").mkdir(mode=0o700)
    stores = {}
    for k in (0, 1, 20):
        d = tmp / f"startup-store{k}"
        d.mkdir(mode=0o755)
        env = cli_env(tmp / "sock-startup", d)
        for p in payloads[:k]:
            sh(XSPLICE, "store", "add", p, env=env)
        stores[k] = d
    # interleaved rounds so that a noisy moment hits every store alike
    res = {k: [] for k in stores}
    for _ in range(3):
        for k, d in stores.items():
            res[k].append(startup_ms(exe, d))
    empty = statistics.median(res[0])
    return [(k, statistics.median(res[k]), empty, statistics.median(res[k]) / empty)
            for k in (1, 20)]


def bench(tmp):
    exe, payloads = build(tmp)
    return {"sync": bench_sync(tmp, exe, payloads[0]),
            "startup": bench_startup(tmp, exe, payloads)}


def section(res):
    lines = [
        HEADING,
        "",
        "(1) `xsplice sync --all` with one payload in the store, into N processes of the same",
        "target (bench/fleet_target.c: 10 threads each), median of 3. Baseline: a loop of",
        "`xsplice -p PID load` over the same processes, one after the other, measured in the",
        "same run. The last column is a second `sync --all` that finds nothing to do.",
        "Goal: at most 0.25 s for 50 processes.",
        "",
        "| processes | sync --all (s) | loop of load (s) | speed-up | idempotent re-run (s) |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {s:.3f} | {l:.3f} | {r:.1f}x | {z:.3f} |"
              for n, s, z, l, r in res["sync"]]
    lines += [
        "",
        "(2) Time from `exec` to `main` of the same program under the agent, with 1 and 20",
        "stored payloads that match it (each replaces one function, the 20 form one build-id",
        "chain; the agent uploads and applies them before main), median of 3 x",
        f"{STARTUP_RUNS} starts. Baseline: the same start with an empty store.",
        "",
        "| stored payloads | exec to main (ms) | empty store (ms) | ratio |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {k} | {t:.2f} | {e:.2f} | {r:.2f} |" for k, t, e, r in res["startup"]]
    lines += [
        "",
        "Where the time goes (measured with perf, strace and the Python bindings on this",
        "machine): a single `xsplice -p PID load` is mostly the cost of starting the `xsplice`",
        "process itself; inside the agent the apply (one quiesce window over 10 threads,",
        "1-4 ms here) dominates the upload (about 0.5 ms) and each report (0.1-0.3 ms). `sync`",
        "starts one process, reads and verifies the store once, and keeps two connections per",
        "CPU in flight (1 worker: 2.5x slower for 50 processes; 2 to 32 workers: the same on",
        "2 CPUs), so the agents' windows overlap. At start-up, the first stored payload also",
        "loads libgcc_s into a C program (to register the payload's `.eh_frame`) and opens",
        "`/proc/self/mem`; each further payload costs an upload (its `/proc/self/maps` reads",
        "and near mapping) and a window with one thread, about 3 ms on this virtual machine,",
        "where `mprotect`/`munmap` TLB flushes are expensive. With one stored payload the",
        "process's CPU time grows by only about 1 ms (perf stat task-clock); where the rest of",
        "the wall-clock difference goes on this loaded machine we have not pinned down.",
    ]
    return "\n".join(lines) + "\n"


def write_section(path, res):
    """Replace our section of performance.md (or append it)."""
    text = path.read_text() if path.exists() else "# Performance\n"
    new = section(res)
    start = text.find(HEADING)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + new
    else:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + new + ("\n" + text[end + 1:] if end >= 0 else "")
    path.write_text(text)


def main():
    with tempfile.TemporaryDirectory(prefix="xsplice-bench-fleet.") as t:
        res = bench(Path(t))
    write_section(ROOT / "docs" / "performance.md", res)
    print("bench: wrote the fleet section of docs/performance.md")


if __name__ == "__main__":
    sys.exit(main())
