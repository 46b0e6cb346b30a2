"""make bench, attach section: `xsplice -p PID attach` into a process started
without the agent, with 1, 10 and 100 computing threads (the main thread
blocked in read(), where the loader runs).

 - attach wall time, as the operator waits for the command, against a
   baseline of the same command's round trip once the agent is there
   (`xsplice -p PID list`: process start, socket, one request);
 - the longest pause any thread saw: the borrowed thread's hold (the
   command's own measurement), and the longest gap any computing thread saw
   in its clock during the attach, against the same gap measured over a
   window as long without an attach (the scheduler's own noise).
"""
import json
import os
import select
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
XSPLICE = ROOT / "build" / "bin" / "xsplice"
THREADS = (1, 10, 100)
REPS = 7


class Plain:
    def __init__(self, exe, n, sockdir):
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        env["XSPLICE_DIR"] = str(sockdir)
        self.env = env
        self.proc = subprocess.Popen([str(exe), str(n)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        assert self.ask(None) == "ready"
        path = f"/proc/{self.proc.pid}/syscall"
        for _ in range(1000):  # main thread in read()
            if Path(path).read_text().split(" ")[0] == "0":
                break
            time.sleep(0.005)

    def ask(self, line):
        if line is not None:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        if not select.select([self.proc.stdout], [], [], 60)[0]:
            raise RuntimeError("bench target does not answer")
        return self.proc.stdout.readline().strip()

    def cli(self, *args):
        t0 = time.monotonic()
        p = subprocess.run([str(XSPLICE), "-p", str(self.proc.pid), *args], env=self.env,
                           capture_output=True, text=True, check=True)
        return (time.monotonic() - t0) * 1e3, p.stdout

    def close(self):
        self.proc.kill()
        self.proc.wait()


def one(exe, n, sockdir):
    p = Plain(exe, n, sockdir)
    try:
        p.ask("reset")
        wall_ms, out = p.cli("attach", "--json")
        held_us = json.loads(out)["held_us"]
        gap_us = float(p.ask("gaps").split()[1])
        p.ask("reset")
        time.sleep(wall_ms / 1e3)
        quiet_us = float(p.ask("gaps").split()[1])
        base_ms, _ = p.cli("list")
        return wall_ms, base_ms, held_us, gap_us, quiet_us
    finally:
        p.close()


def run(tmp, build_target):
    exe = tmp / "attachbench"
    build_target(ROOT / "bench" / "attachbench.c", exe)
    sockdir = tmp / "attach-sock"
    sockdir.mkdir(mode=0o700)
    rows = []
    for n in THREADS:
        samples = [one(exe, n, sockdir) for _ in range(REPS)]
        med = [statistics.median(s[i] for s in samples) for i in range(5)]
        wall, base, held, gap, quiet = med
        worst_gap = max(s[3] for s in samples)
        rows.append((n, wall, base, held, gap, quiet, worst_gap))
    return rows


def section(rows):
    lines = [
        "",
        "## Attach to a process started without the agent",
        "",
        "`xsplice -p PID attach` (ptrace, the process's own `dlopen` of libxsplice.so in its",
        "main thread, blocked in `read()`; every other thread keeps running), into a fresh",
        f"process per sample, median of {REPS}. Wall time as the operator waits for the",
        "command; baseline: the same command's round trip once the agent is there",
        "(`xsplice -p PID list`). The borrowed thread's hold is the command's own figure;",
        "the other threads are never stopped: their longest gap between two clock reads",
        "during the attach is shown against the same gap over an equally long window",
        "without an attach (the scheduler's noise).",
        "",
        "| computing threads | attach (ms) | list (ms) | ratio | held thread (us) "
        "| longest gap, attach (us) | without (us) | worst gap (us) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, wall, base, held, gap, quiet, worst in rows:
        lines.append(f"| {n} | {wall:.1f} | {base:.1f} | {wall / base:.2f} | {held:.0f} "
                     f"| {gap:.0f} | {quiet:.0f} | {worst:.0f} |")
    lines += [
        "",
        f"With more computing threads than CPUs ({os.cpu_count()} here) a thread's gap is a",
        "scheduler time slice or several, attach or not; the held thread was blocked in",
        "`read()` and its read resumes where it was.",
    ]
    return lines
