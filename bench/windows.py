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
        f"Load average during this section: {load[0]:.1f} at its start, {load[1]:.1f} at its end"
        f" ({os.cpu_count()} CPUs; the machine is shared, so the absolute figures are noisy).",
        "",
        "Pause (first signal to release, as the agent measures it) of a fresh process's first",
        "apply, and of a warm apply (median of the next 7), with threads that are busy, loop on",
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
        "signal (a wake-up and a context switch each); a busy one on a loaded machine waits for",
        "its turn on a CPU. The apply's own work (stack check, text write) is a few hundred",
        "microseconds at most on top of it.",
        "",
        'What is known about the first window and the sleeping-thread floor (issue 9, left open):',
        'instrumenting one loaded run (2026-12-02, 100 busy threads, load average about 60) split',
        'the first window into 110 ms for every thread to park, 0.37 ms of stack check and 0.16 ms',
        'of switch, against 21-29 ms / 0.3 ms / 0.02 ms in the later windows: the difference is',
        "the rendezvous, not the agent's work. The agent links with BIND_NOW (no lazy binding in",
        'the handler), its unwinder reads no table lazily in the window, and the /proc reads',
        'happen before the first signal. The likely cause is the scheduler: threads that have run',
        'for a long time wait their fair turn, while after a window they wake from the pause',
        'eligible at once; nothing in this change shortens that. With 1000 threads an attempt can',
        'take a minute on a loaded machine because the control thread, which signals the threads',
        'one by one, loses its CPU to the threads it wakes; signalling in a tree (parked threads',
        'signal the next ones) is the next thing to try.',
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
