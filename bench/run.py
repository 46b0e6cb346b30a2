#!/usr/bin/python3
"""make bench: the three measurements of the agent issue, each a ratio
against a baseline measured in the same run, written to docs/performance.md.

 (a) the pause of one apply (first signal -> all released) with 1, 10 and
     100 busy threads, against the bare rendezvous floor (a payload whose
     apply is an empty action hook: signal + park + release, no work);
 (b) calls per second of a tiny patched function against the unpatched one;
 (c) upload + link time of payloads of 1, 100 and 1000 functions, against
     dlopen(RTLD_NOW) of the same code as a shared object;
 (d) xsplice-build's payload build time against the plain incremental
     rebuild of the same change (bench/buildtime.py, its own section).
"""
import ctypes
import _ctypes
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))
import xsplice  # noqa: E402
import manyfuncs  # noqa: E402
import attachbench  # noqa: E402
import buildtime  # noqa: E402
import fleet  # noqa: E402
import windows  # noqa: E402

TARGET_FLAGS = ["-O2", "-g", "-ffunction-sections", "-fdata-sections", "-Wl,--build-id", "-pthread"]
PAYLOAD_FLAGS = ["-O2", "-fPIC", "-ffunction-sections", "-fdata-sections", f"-I{ROOT / 'include'}"]


def sh(*cmd):
    subprocess.run([str(c) for c in cmd], check=True)


def build_target(src, out):
    sh("gcc", "-std=gnu11", *TARGET_FLAGS, src, "-o", out)


def build_payload(src, target, out):
    obj = Path(str(out) + ".o")
    sh("gcc", "-std=gnu11", *PAYLOAD_FLAGS, "-c", src, "-o", obj)
    sh(BUILD / "bin" / "xsplice-pack", "-t", target, "-o", out, obj)


class Live:
    """A bench target under the agent, driven line by line."""

    def __init__(self, exe, sockdir):
        env = dict(os.environ, LD_PRELOAD=str(BUILD / "lib" / "libxsplice.so"), XSPLICE_DIR=str(sockdir))
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1, env=env)
        sock = Path(sockdir) / f"{self.proc.pid}.sock"
        for _ in range(500):
            if sock.exists():
                break
            time.sleep(0.01)
        os.environ["XSPLICE_DIR"] = str(sockdir)
        self.x = xsplice.Process(self.proc.pid)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.kill()
        self.proc.wait()


def last_pause_us(x):
    return x.history()["entries"][-1]["pause_ns"] / 1000


def bench_pause(tmp):
    exe = tmp / "pausebench"
    build_target(ROOT / "bench/pausebench.c", exe)
    build_payload(ROOT / "bench/pause_patch.c", exe, tmp / "pause.xsplice")
    build_payload(ROOT / "bench/floor_patch.c", exe, tmp / "floor.xsplice")
    live = Live(exe, tmp / "sock-pause")
    rows = []
    try:
        live.x.upload("work", str(tmp / "pause.xsplice"))
        live.x.upload("floor", str(tmp / "floor.xsplice"))
        have = 0
        for want in (1, 10, 100):
            live.ask(f"THREADS {want - have}")
            have = want
            time.sleep(0.2)
            work, floor = [], []
            for _ in range(21):
                live.x.apply("floor", timeout_ms=10000)
                floor.append(last_pause_us(live.x))
                live.x.revert("floor", timeout_ms=10000)
                live.x.apply("work", timeout_ms=10000)
                work.append(last_pause_us(live.x))
                live.x.revert("work", timeout_ms=10000)
            w, f = statistics.median(work), statistics.median(floor)
            rows.append((want, w, f, w / f if f else float("nan")))
            print(f"  pause, {want:3d} busy threads: apply {w:.0f} us, floor {f:.0f} us, ratio {w / f:.2f}")
    finally:
        live.close()
    return rows


def bench_calls(tmp):
    exe = tmp / "callrate"
    build_target(ROOT / "bench/callrate.c", exe)
    build_payload(ROOT / "bench/callrate_patch.c", exe, tmp / "callrate.xsplice")
    live = Live(exe, tmp / "sock-calls")
    n = 200_000_000
    ratios, base, patched = [], [], []
    try:
        live.x.upload("tiny", str(tmp / "callrate.xsplice"))
        for _ in range(7):
            b = int(live.ask(f"RUN {n}").split()[0])
            live.x.apply("tiny", timeout_ms=10000)
            p = int(live.ask(f"RUN {n}").split()[0])
            live.x.revert("tiny", timeout_ms=10000)
            base.append(n / b * 1e9)
            patched.append(n / p * 1e9)
            ratios.append(b / p)
    finally:
        live.close()
    r = statistics.median(ratios)
    print(f"  calls/s: unpatched {statistics.median(base):.3g}, patched {statistics.median(patched):.3g}, "
          f"ratio {r:.3f}")
    return statistics.median(base), statistics.median(patched), r


def dlopen_ms(so, reps=15):
    times = []
    for i in range(reps):
        copy = so.with_name(f"{so.stem}.{i}.so")  # a fresh file: no cached handle
        copy.write_bytes(so.read_bytes())
        t = time.perf_counter()
        h = ctypes.CDLL(str(copy), mode=os.RTLD_NOW | os.RTLD_LOCAL)
        dt = time.perf_counter() - t
        _ctypes.dlclose(h._handle)
        times.append(dt * 1e3)
        copy.unlink()
    return statistics.median(times)


def bench_upload(tmp):
    exe = tmp / "manyfuncs"
    (tmp / "manyfuncs.c").write_text(manyfuncs.target_source(1000))
    build_target(tmp / "manyfuncs.c", exe)
    live = Live(exe, tmp / "sock-upload")
    rows = []
    try:
        for k in (1, 100, 1000):
            src = tmp / f"p{k}.c"
            src.write_text(manyfuncs.payload_source(k))
            payload = tmp / f"p{k}.xsplice"
            build_payload(src, exe, payload)
            so_src = tmp / f"s{k}.c"
            so_src.write_text(manyfuncs.shared_source(k))
            so = tmp / f"s{k}.so"
            sh("gcc", "-O2", "-shared", "-fPIC", "-ffunction-sections", so_src, "-o", so)
            times = []
            for i in range(15):
                t = time.perf_counter()
                live.x.upload(f"p{k}_{i}", str(payload))
                times.append((time.perf_counter() - t) * 1e3)
                live.x.unload(f"p{k}_{i}")
            up, dl = statistics.median(times), dlopen_ms(so)
            size = payload.stat().st_size
            rows.append((k, size, up, dl, up / dl))
            print(f"  upload+link {k:4d} functions ({size} bytes): {up:.2f} ms, dlopen {dl:.2f} ms, "
                  f"ratio {up / dl:.2f}")
    finally:
        live.close()
    return rows


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def write_report(pause, calls, upload, extra=()):
    base, patched, ratio = calls
    out = ROOT / "docs" / "performance.md"
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (bench/run.py). Every figure is a ratio against a baseline",
        "measured in the same run on the same machine; absolute numbers are for orientation only.",
        "",
        f"Last run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs "
        f"({cpu_model()}), kernel {platform.release()}.",
        "",
        "## (a) Pause of one apply",
        "",
        "First signal to the release of the last thread, as the agent measures it (median of 21).",
        "Baseline: the bare rendezvous floor, a payload whose apply is an empty action hook",
        "(signal, park, release; no stack check, no text write). Goal: at most 1.5x the floor.",
        "",
        "| busy threads | apply (us) | floor (us) | ratio |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {t} | {w:.0f} | {f:.0f} | {r:.2f} |" for t, w, f, r in pause]
    lines += [
        "",
        f"With more busy threads than CPUs ({os.cpu_count()} here), both figures are dominated by",
        "the scheduler: every thread must be given a CPU once to run the agent's handler, so the",
        "rendezvous itself takes several scheduler time slices and the per-attempt timeout grows",
        "with the agent's retries. The apply's own work (stack check, text write) stays small",
        "next to it, which is what the ratio shows.",
    ]
    lines += [
        "",
        "## (b) Calls per second of a tiny patched function",
        "",
        "`tiny()` (5 bytes: lea + ret) called in a dependent loop of 2e8 calls, unpatched and then",
        "patched with an identical function (the call now goes through one `jmp rel32`), 7",
        "interleaved rounds, median. Goal: at least 0.98.",
        "",
        "| unpatched calls/s | patched calls/s | ratio |",
        "|---:|---:|---:|",
        f"| {base:.3g} | {patched:.3g} | {ratio:.3f} |",
        "",
        "## (c) Upload + link",
        "",
        "Client-side time of one upload through libxsplicectl (socket transfer, verify, near",
        "placement, symbol resolution, relocation, W^X finalisation), median of 15. Baseline:",
        "`dlopen(RTLD_NOW)` of the same replacement functions built as a shared object.",
        "Goal: at most 10 ms for 1000 functions.",
        "",
        "| functions | payload bytes | upload (ms) | dlopen (ms) | ratio |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {k} | {s} | {u:.2f} | {d:.2f} | {r:.2f} |" for k, s, u, d, r in upload]
    lines += list(extra)
    out.write_text("\n".join(lines) + "\n")
    print(f"bench: wrote {out.relative_to(ROOT)}")


def main():
    with tempfile.TemporaryDirectory(prefix="xsplice-bench.") as t:
        tmp = Path(t)
        print("bench: (a) pause of one apply")
        pause = bench_pause(tmp)
        print("bench: (b) calls per second")
        calls = bench_calls(tmp)
        print("bench: (c) upload + link")
        upload = bench_upload(tmp)
        print("bench: attach")
        attach = attachbench.section(attachbench.run(tmp, build_target))
        print("bench: fleet (sync --all, start-up with a store)")
        fleet_res = fleet.bench(tmp)
    write_report(pause, calls, upload, attach)
    fleet.write_section(ROOT / "docs" / "performance.md", fleet_res)
    print("bench: (d) payload build time (xsplice-build vs an incremental rebuild)")
    buildtime.run()  # writes its own section of docs/performance.md
    with tempfile.TemporaryDirectory(prefix="xsplice-bench.") as t:
        windows.run(Path(t), build_target, build_payload)  # its own section too


if __name__ == "__main__":
    main()
