"""Issue 12, patched code that debuggers, profilers and core dumps see:
GDB's JIT interface, /tmp/perf-PID.map, gcore."""
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, TARGET_CFLAGS, cc, pack, run

HERE = Path(__file__).resolve().parent / "trust"


@pytest.fixture(scope="module")
def tb(tmp_path_factory):
    d = tmp_path_factory.mktemp("trustvis")
    target = cc(d / "ttarget", HERE / "ttarget.c",
                flags=[*TARGET_CFLAGS, "-Wall", "-Werror", "-Wl,--build-id=sha1"])
    obj = cc(d / "tpayload.o", HERE / "tpayload.c", flags=[*PAYLOAD_CFLAGS, "-g"], link=False)
    payload = pack(d / "tpayload.xsplice", target, obj)
    return {"target": target, "payload": payload, "dir": d}


def parked(t, want=1):
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if int(t.query("blocked")) >= want:
            return
        time.sleep(0.02)
    raise AssertionError("the thread never reached the payload")


def gdb(*args, timeout=120):
    p = subprocess.run(["gdb", "-nx", "-batch", *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    return p.stdout + p.stderr


def frames(bt):
    """Function names of the frames of the thread whose stack has `name`."""
    return re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(", bt, re.M)


def thread_with(bt, name):
    for chunk in re.split(r"\n(?=Thread \d+)", bt):
        if name in chunk:
            return frames(chunk)
    raise AssertionError(f"no thread has {name}:\n{bt}")


def test_gdb_names_the_payload_function_and_its_callers(tb, start):
    t = start([tb["target"]])
    t.cli("upload", "vis", tb["payload"], check=0)
    t.cli("apply", "vis", check=0)
    assert t.query("call 3") == "300"
    t.query("block")
    parked(t)
    bt = gdb("-p", t.pid, "-ex", "thread apply all bt")
    fr = thread_with(bt, "payload_park_here")
    i = fr.index("payload_park_here")
    # below the payload's frames: the target's callers, in order
    assert fr[i + 1:i + 4] == ["victim_patched", "middle_caller", "outer_caller"], bt
    assert "blocker" in fr[i + 4:], bt
    # the process goes on after the debugger detached
    assert t.query("call 4") == "400"


def test_gdb_forgets_the_payload_at_unload(tb, start):
    t = start([tb["target"]])
    t.cli("upload", "vis", tb["payload"], check=0)
    out = gdb("-p", t.pid, "-ex", "info address victim_patched")
    assert re.search(r"victim_patched.* is at 0x[0-9a-f]+", out), out
    t.cli("unload", "vis", check=0)
    out = gdb("-p", t.pid, "-ex", "info address victim_patched")
    assert re.search(r'No symbol "victim_patched"', out), out


def perf_lines(pid):
    p = Path(f"/tmp/perf-{pid}.map")
    return p.read_text().splitlines() if p.exists() else []


def drop_stale_perf_map(pid):
    """A process killed earlier with the same pid (pids are reused, and the
    suite's 1000-thread tests use them up fast) may have left its map
    behind; the new target writes its own only at its first upload."""
    Path(f"/tmp/perf-{pid}.map").unlink(missing_ok=True)


def test_perf_map_lines_appear_at_upload_and_vanish_at_unload(tb, start):
    t = start([tb["target"]])
    drop_stale_perf_map(t.pid)
    mine = f"/tmp/perf-{t.pid}.map"
    try:
        assert perf_lines(t.pid) == []
        t.cli("upload", "vis", tb["payload"], check=0)
        lines = perf_lines(t.pid)
        names = {l.split(" ", 2)[2]: l for l in lines}
        assert set(names) == {"payload_park_here [xsplice:vis]", "payload_spin_here [xsplice:vis]",
                              "victim_patched [xsplice:vis]"}
        # the address is the one the agent reports for the replacement
        dump = t.cli("dump", "--json", check=0).stdout
        import json
        funcs = json.loads(dump)["payloads"][0]["funcs"]
        new = int(funcs[0]["new_addr"], 16)
        start_, size = (int(x, 16) for x in names["victim_patched [xsplice:vis]"].split()[:2])
        assert start_ == new and size > 0
        # lines another writer (the program's own JIT) added are kept
        with open(mine, "a") as f:
            f.write("1000 10 somebody_elses_jit_code\n")
        t.cli("unload", "vis", check=0)
        assert perf_lines(t.pid) == ["1000 10 somebody_elses_jit_code"]
    finally:
        if os.path.exists(mine):
            os.unlink(mine)


def test_perf_map_is_removed_when_only_ours(tb, start):
    t = start([tb["target"]])
    drop_stale_perf_map(t.pid)
    t.cli("upload", "vis", tb["payload"], check=0)
    assert len(perf_lines(t.pid)) == 3
    t.cli("unload", "vis", check=0)
    assert not Path(f"/tmp/perf-{t.pid}.map").exists()


def test_perf_map_left_by_a_dead_process_with_the_same_pid_is_emptied(tb, start):
    """pids are reused: a map last written before the target started names
    code of a process that is gone; one written since is the program's own."""
    t = start([tb["target"]])
    mine = Path(f"/tmp/perf-{t.pid}.map")
    try:
        mine.write_text("1000 10 dead_process_fn [xsplice:hold]\n")
        hour_ago = time.time() - 3600
        os.utime(mine, (hour_ago, hour_ago))
        t.cli("upload", "vis", tb["payload"], check=0)
        assert sorted(l.split(" ", 2)[2] for l in perf_lines(t.pid)) == [
            "payload_park_here [xsplice:vis]", "payload_spin_here [xsplice:vis]",
            "victim_patched [xsplice:vis]"]
        t.cli("unload", "vis", check=0)
        assert not mine.exists()
        mine.write_text("2000 10 this_process_jit_fn\n")  # written after the start
        t.cli("upload", "vis", tb["payload"], check=0)
        assert perf_lines(t.pid)[0] == "2000 10 this_process_jit_fn"
        assert len(perf_lines(t.pid)) == 4
    finally:
        mine.unlink(missing_ok=True)


def test_perf_map_can_be_turned_off(tb, start):
    t = start([tb["target"]], env={"XSPLICE_PERF_MAP": "0"})
    drop_stale_perf_map(t.pid)
    t.cli("upload", "vis", tb["payload"], check=0)
    assert perf_lines(t.pid) == []


def test_perf_map_made_by_someone_else_is_left_alone(tb, start, tmp_path):
    """/tmp is shared: another user's file, or a symlink planted there, is
    never written through."""
    t = start([tb["target"]])
    mine = Path(f"/tmp/perf-{t.pid}.map")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    try:
        mine.write_text("1000 10 theirs\n")
        os.chown(mine, 65534, 65534)
        t.cli("upload", "vis", tb["payload"], check=0)
        assert mine.read_text() == "1000 10 theirs\n"
        t.cli("unload", "vis", check=0)
        assert mine.read_text() == "1000 10 theirs\n"
        mine.unlink()
        mine.symlink_to(victim)
        t.cli("upload", "vis", tb["payload"], check=0)
        assert victim.read_text() == "precious\n"
        t.cli("unload", "vis", check=0)
        assert victim.read_text() == "precious\n" and mine.is_symlink()
    finally:
        if mine.is_symlink() or mine.exists():
            mine.unlink()


def test_core_dump_holds_the_payload_code(tb, start):
    t = start([tb["target"]])
    t.cli("upload", "vis", tb["payload"], check=0)
    t.cli("apply", "vis", check=0)
    t.query("block")
    parked(t)
    core = tb["dir"] / f"core.{t.pid}"
    out = gdb("-p", t.pid, "-ex", f"gcore {core}")
    assert core.exists(), out
    try:
        t.stop()
        # the payload's code disassembled from the core alone (plus the executable)
        out = gdb(tb["target"], core, "-ex", "x/6i victim_patched", "-ex", "thread apply all bt")
        assert re.search(r"<victim_patched\+\d+>:\s+\w+", out), out
        assert "payload_park_here" in out and "middle_caller" in out, out
    finally:
        core.unlink()


def test_perf_report_names_the_payload_function(tb, start):
    if not shutil.which("perf"):
        pytest.skip("perf is not installed")
    t = start([tb["target"]])
    t.cli("upload", "vis", tb["payload"], check=0)
    t.cli("apply", "vis", check=0)
    t.query("spin")
    parked(t)
    data = tb["dir"] / f"perf.{t.pid}"
    try:
        for _ in range(5):
            p = subprocess.run(["perf", "record", "-e", "cpu-clock", "-o", data, "-p", str(t.pid),
                                "--", "sleep", "0.5"], capture_output=True, text=True,
                               timeout=120)
            if p.returncode != 0:
                pytest.skip(f"perf cannot record here: {p.stderr.strip()[-200:]}")
            rep = subprocess.run(["perf", "report", "--stdio", "-i", data, "--sort", "sym"],
                                 capture_output=True, text=True, timeout=120).stdout
            if "payload_spin_here" in rep:
                break
        assert "payload_spin_here [xsplice:vis]" in rep, rep
    finally:
        t.stop()
        data.unlink(missing_ok=True)
        Path(f"/tmp/perf-{t.pid}.map").unlink(missing_ok=True)
