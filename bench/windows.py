"""make bench, section "Quiesce windows": quiesce windows as operators meet them (issue 9).

 (d1) the pause of a fresh process's FIRST apply and of a warm one (median of
      later applies), for 1, 10, 100 and 1000 threads that are busy, loop on
      usleep(1000), or are blocked in epoll_wait / read; each against the
      floor measured the same way (a payload whose apply is an empty action
      hook: the bare rendezvous), in a fresh process of its own.
 (d2) kvd request latency (p50 / p99 / p99.9) under 4 client connections,
      without and with 200 apply/revert cycles of a real fix running.

Called from bench/run.py after the other sections; writes its own section
of docs/performance.md (replacing an earlier one).
"""
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
sys.path.insert(0, str(ROOT / "python"))
import xsplice  # noqa: E402

KINDS = ("busy", "usleep", "epoll", "read")
SIZES = (1, 10, 100, 1000)
FRESH = 5  # fresh processes per row: the first window is the median of their first applies
WARM = 3   # warm applies in each of them
HEADING = "## Quiesce windows: first and warm, busy and sleeping threads; kvd latency"


def sh(*cmd):
    subprocess.run([str(c) for c in cmd], check=True)


def pause_us(x):
    return x.history()["entries"][-1]["pause_ns"] / 1000


class Fresh:
    """A new wintarget process with n threads of a kind, under the agent."""

    def __init__(self, exe, n, kind, sockdir):
        env = dict(os.environ, LD_PRELOAD=str(BUILD / "lib" / "libxsplice.so"),
                   XSPLICE_DIR=str(sockdir))
        self.proc = subprocess.Popen([str(exe), str(n), kind], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        assert self.proc.stdout.readline().startswith("ready")
        sock = Path(sockdir) / f"{self.proc.pid}.sock"
        while not sock.exists():
            time.sleep(0.01)
        self.x = xsplice.Process(socket=str(sock), io_timeout_ms=600000)

    def close(self):
        self.x.close()
        self.proc.kill()
        self.proc.wait()


def first_and_warm(exe, n, kind, name, payload, sockdir):
    """(median first pause, median warm pause) over FRESH new processes."""
    first, warm = [], []
    for _ in range(FRESH if n < 1000 else 3):
        f = Fresh(exe, n, kind, sockdir)
        try:
            f.x.upload(name, str(payload))
            time.sleep(0.2)  # let the threads reach their loop or block
            f.x.apply(name, timeout_ms=30000)
            first.append(pause_us(f.x))
            f.x.revert(name, timeout_ms=30000)
            for _ in range(WARM):
                f.x.apply(name, timeout_ms=30000)
                warm.append(pause_us(f.x))
                f.x.revert(name, timeout_ms=30000)
        finally:
            f.close()
    return statistics.median(first), statistics.median(warm)


def bench_windows(tmp, build_target, build_payload):
    exe = tmp / "wintarget"
    build_target(ROOT / "bench/wintarget.c", exe)
    build_payload(ROOT / "bench/pause_patch.c", exe, tmp / "wpause.xsplice")
    build_payload(ROOT / "bench/floor_patch.c", exe, tmp / "wfloor.xsplice")
    sockdir = tmp / "sock-windows"
    sockdir.mkdir(mode=0o700)
    rows = []
    for kind in KINDS:
        for n in SIZES:
            if kind == "busy" and n > os.cpu_count() * 100:
                # 1000 busy threads on 2 CPUs leave the agent's control
                # thread 1/1000 of a CPU: one attempt took 87 s here
                rows.append((kind, n, None, None, None, None))
                continue
            try:
                ff, fw = first_and_warm(exe, n, kind, "floor", tmp / "wfloor.xsplice", sockdir)
                af, aw = first_and_warm(exe, n, kind, "work", tmp / "wpause.xsplice", sockdir)
            except xsplice.Error as e:  # busy at the deadline: say so in the table
                print(f"  window, {n:4d} {kind:6s} threads: failed: {e}")
                rows.append((kind, n, None, None, None, str(e)))
                continue
            rows.append((kind, n, af, ff, aw, fw))
            print(f"  window, {n:4d} {kind:6s} threads: first {af:.0f} us (floor {ff:.0f}, "
                  f"{af / ff:.2f}x), warm {aw:.0f} us (floor {fw:.0f}, {aw / fw:.2f}x)")
    return rows


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kvlat_run(kvlat, port, during):
    """Latency while during() runs; returns (requests, failed, p50, p99, p999)."""
    p = subprocess.Popen([str(kvlat), str(port), "4"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    during()
    p.send_signal(signal.SIGTERM)
    out = p.communicate(timeout=60)[0].split()
    return int(out[1]), int(out[3]), float(out[5]), float(out[7]), float(out[9])


def bench_kvd(tmp):
    kvlat = tmp / "kvlat"
    sh("gcc", "-std=gnu11", "-O2", "-pthread", ROOT / "bench/kvlat.c", "-o", kvlat)
    sh(BUILD / "bin" / "xsplice-build", "-s", ROOT / "examples/demo",
       "-p", ROOT / "examples/demo/patches/fix-ping.patch", "-t", BUILD / "examples/kvd",
       "-o", tmp / "fix-ping")
    sockdir = tmp / "sock-kvd"
    sockdir.mkdir(mode=0o700)
    port = free_port()
    env = dict(os.environ, LD_PRELOAD=str(BUILD / "lib" / "libxsplice.so"), XSPLICE_DIR=str(sockdir))
    kvd = subprocess.Popen([str(BUILD / "examples/kvd"), str(port)], env=env,
                           stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = sockdir / f"{kvd.pid}.sock"
    while not sock.exists():
        time.sleep(0.01)
    x = xsplice.Process(socket=str(sock), io_timeout_ms=600000)
    try:
        x.upload("fix", str(tmp / "fix-ping" / "fix-ping.xsplice"))
        spent = []

        def cycles():
            t0 = time.monotonic()
            for _ in range(200):
                x.apply("fix", timeout_ms=30000)
                x.revert("fix", timeout_ms=30000)
            spent.append(time.monotonic() - t0)

        with_cycles = kvlat_run(tmp / "kvlat", port, cycles)
        without = kvlat_run(tmp / "kvlat", port, lambda: time.sleep(spent[0]))
        pauses = [e["pause_ns"] / 1000 for e in x.history()["entries"] if e.get("pause_ns")]
    finally:
        x.close()
        kvd.kill()
        kvd.wait()
    print(f"  kvd latency: without cycles p50/p99/p99.9 {without[2]:.0f}/{without[3]:.0f}/"
          f"{without[4]:.0f} us; with 200 cycles {with_cycles[2]:.0f}/{with_cycles[3]:.0f}/"
          f"{with_cycles[4]:.0f} us")
    return without, with_cycles, spent[0], statistics.median(pauses) if pauses else 0


def section(rows, kvd, load):
    without, with_cycles, secs, pause = kvd
    lines = [
        HEADING,
        "",
        f"Load average before this section: {load[0]:.1f} ({os.cpu_count()} CPUs; while it runs, its"
        " own targets with 1000 threads raise it to hundreds).",
        "",
        "Pause (first signal to release, as the agent measures it) of a fresh process's first",
        f"apply (median over {FRESH} fresh processes, 3 for 1000 threads), and of a warm apply",
        f"(median of the next {WARM} in each), with threads that are busy, loop on",
        "`usleep(1000)`, or are blocked in `epoll_wait` / `read` (bench/wintarget.c). Baseline:",
        "the floor measured the same way - first and warm - in a fresh process of its own: a",
        "payload whose apply is an empty action hook (signal, park, release). Goal: every ratio",
        "at most 1.5x.",
        "",
        "| threads | kind | first (us) | floor first (us) | ratio | warm (us) | floor warm (us) | ratio |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, n, af, ff, aw, fw in rows:
        if af is None:
            why = (f"failed within a 30 s deadline: {fw}" if fw else
                   "not measured: more than 100 busy threads per CPU starve the agent's "
                   "control thread")
            lines.append(f"| {n} | {kind} | {why} | | | | | |")
            continue
        lines.append(f"| {n} | {kind} | {af:.0f} | {ff:.0f} | {af / ff:.2f} | {aw:.0f} | {fw:.0f} "
                     f"| {aw / fw:.2f} |")
    lines += [
        "",
        "Both the apply and its floor are dominated by the rendezvous: every thread must be given",
        "a CPU once to run the agent's handler. A sleeping or blocked thread is woken by the",
        "signal (a wake-up and a context switch each); a busy one waits for its turn on a CPU.",
        "",
        "What changed the sleeping-thread floor (issue 9; measured on an idle 2-vCPU VM with a",
        "harness that drives src/agent/quiesce.c directly and timestamps each phase):",
        "",
        "- The control thread signalled the threads one by one, and each thread it woke took its",
        "  CPU: 13-19 us per sleeping thread against 3 us per busy one. Now every thread that",
        "  enters the handler signals up to 4 more before it parks, taking them from one shared",
        "  cursor. 100 usleep threads: 2.0 -> 1.3 ms warm; 1000 usleep threads: no run of 15",
        "  windows finished within 120 s before, 14-24 ms a window after; 1000 busy threads:",
        "  322 -> 39 ms warm.",
        "- After the last thread parked, the control thread read /proc/self/task once more to",
        "  find threads started meanwhile (1.3 ms for 1000 threads). With every known thread",
        "  parked none can start another, so num_threads in /proc/self/stat equal to the",
        "  parked threads plus one proves there is none: 1.3-1.5 ms -> 0.4-0.6 ms there.",
        "- The control thread slept on a futex while the last threads arrived, and an idle",
        "  vCPU took 50-100 us to wake: it now yields its CPU for up to 100 us first (from the",
        "  last arrival to the open window: about 100 us -> 17-35 us for 1-10 threads).",
        "",
        "What is left (issue 9): a fresh process's first window is still 1.1-2x a warm one on",
        "an idle machine, and no cause was found. Not page faults for the signal frames (7 minor",
        "faults in the first window of 100 blocked threads; pre-faulting the stacks with",
        "MADV_POPULATE_WRITE was tried and dropped), not the time since the last window (20 ms",
        "or 500 ms between windows: the same). The apply costs up to 2x its floor with 100 busy",
        "threads: its own work in the window (reading /proc/self/maps, 66 us for 224 mappings",
        "here, and the stack check) is 0.6-1 ms on top of a 1 ms rendezvous. With 1000 threads",
        "that wake every millisecond the process alone oversubscribes two CPUs five times; the",
        "window is 20 ms, but the control thread's work before it (sizing the slots, reading",
        "/proc/self/task/TID/syscall of each thread) took 9-26 s of wall time in the harness,",
        "because it gets a thousandth of the CPU. 1000 busy threads are not measured for the",
        "same reason.",
        "",
        "kvd (examples/demo) request latency, 4 connections sending `GET` in a loop",
        "(bench/kvlat.c), without and with 200 apply/revert cycles of the fix-ping payload",
        f"running (they took {secs:.1f} s; median pause {pause:.0f} us). Goal: p99 during the",
        "cycles at most 1.2x without.",
        "",
        "| | requests | failed | p50 (us) | p99 (us) | p99.9 (us) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| without cycles | {without[0]} | {without[1]} | {without[2]:.0f} | {without[3]:.0f} | "
        f"{without[4]:.0f} |",
        f"| with 200 cycles | {with_cycles[0]} | {with_cycles[1]} | {with_cycles[2]:.0f} | "
        f"{with_cycles[3]:.0f} | {with_cycles[4]:.0f} |",
        f"| ratio | | | {with_cycles[2] / without[2]:.2f} | {with_cycles[3] / without[3]:.2f} | "
        f"{with_cycles[4] / without[4]:.2f} |",
        "",
        "Both runs include 0.5 s of requests before the cycles (or the sleep) start. The 400",
        "windows of the cycles follow each other back to back: kvd was paused about",
        f"{400 * pause / 1e6 / secs * 100:.0f}% of the time they ran, so more than one request in",
        "a hundred meets a window, and p99 during the cycles is about one pause plus the",
        "wake-up of the released threads. Every request was answered.",
    ]
    return lines


def write_section(lines):
    out = ROOT / "docs" / "performance.md"
    text = out.read_text() if out.exists() else "# Performance\n"
    if HEADING in text:  # replace our earlier section (up to the next one)
        head, rest = text.split(HEADING, 1)
        nxt = rest.find("\n## ")
        text = head + (rest[nxt + 1:] if nxt >= 0 else "")
    text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    out.write_text(text)
    print(f"bench: wrote the quiesce windows section of {out.relative_to(ROOT)}")


def run(tmp, build_target, build_payload):
    print("bench: quiesce windows")
    load0 = os.getloadavg()[0]
    rows = bench_windows(tmp, build_target, build_payload)
    print("bench: kvd latency under apply/revert cycles")
    kvd = bench_kvd(tmp)
    write_section(section(rows, kvd, (load0, os.getloadavg()[0])))


if __name__ == "__main__":  # this section alone: python3 bench/windows.py
    import tempfile
    import run as base
    with tempfile.TemporaryDirectory(prefix="xsplice-bench.") as t:
        run(Path(t), base.build_target, base.build_payload)
