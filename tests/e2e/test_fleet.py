"""The patch store, `sync`, `status` and patches that survive restarts (issue 11).

Every test has its own store (XSPLICE_STORE) and socket directory
(XSPLICE_DIR) in a temp dir, and its target has a build-id of its own, so
that `sync --all` can only ever reach this test's processes.
"""
import json
import os
import secrets
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, TARGET_CFLAGS, XSPLICE, cc, pack, run

HERE = Path(__file__).resolve().parent / "targets"
QUICK = ("--timeout", "300")


class Fleet:
    def __init__(self, d):
        # a build-id nobody else's target has
        bid = secrets.token_hex(20)
        self.target = cc(d / "etarget", HERE / "etarget.c",
                         flags=[*TARGET_CFLAGS, f"-Wl,--build-id=0x{bid}"])
        self.payload = {}
        for name in ("p_work", "p_hold"):
            obj = cc(d / f"{name}.o", HERE / f"{name}.c", flags=PAYLOAD_CFLAGS, link=False)
            self.payload[name] = pack(d / f"{name}.xsplice", self.target, obj)
        # p_hold stacked on p_work (build-id chain)
        self.hold_on_work = pack(d / "p_hold-on-work.xsplice", self.target, d / "p_hold.o",
                                 extra=["--depends", self.payload["p_work"]])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    return Fleet(tmp_path_factory.mktemp("fleet"))


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def xs(sockdir, store):
    """xs(*args, check=N) runs the real `xsplice` with this test's store and sockets."""
    def _xs(*args, check=None):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env["XSPLICE_DIR"] = str(sockdir)
        env["XSPLICE_STORE"] = str(store)
        p = run([XSPLICE, *args], check=False, env=env)
        if check is not None and p.returncode != check:
            raise AssertionError(f"xsplice {' '.join(map(str, args))} exited {p.returncode}, "
                                 f"wanted {check}\nstdout:{p.stdout}\nstderr:{p.stderr}")
        return p
    return _xs


@pytest.fixture
def target(start, fleet, store):
    def _target():
        return start([fleet.target], env={"XSPLICE_STORE": str(store)})
    return _target


def sync_json(xs, *args, check):
    return json.loads(xs("sync", "--json", *args, check=check).stdout)


def test_store_add_verifies_and_refuses_a_name_clash(fleet, xs, store, tmp_path):
    xs("store", "add", fleet.payload["p_work"], check=0)
    assert (store / "p_work.xsplice").is_file()
    # the same payload again: nothing to do
    assert "No action needed" in xs("store", "add", fleet.payload["p_work"], check=0).stdout
    # another payload under the same name: refused, the store unchanged
    p = xs("store", "add", fleet.payload["p_hold"], "--name", "p_work", check=1)
    assert "already in the store" in p.stderr
    assert (store / "p_work.xsplice").read_bytes() == fleet.payload["p_work"].read_bytes()
    # not a payload: refused before it is stored
    junk = tmp_path / "junk.xsplice"
    junk.write_bytes(b"\x7fELF" + b"\0" * 200)
    p = xs("store", "add", junk, check=1)
    assert "not a valid payload" in p.stderr
    assert not (store / "junk.xsplice").exists()
    doc = json.loads(xs("store", "list", "--json", check=0).stdout)
    assert doc["version"] == 1
    assert [e["name"] for e in doc["payloads"]] == ["p_work"]
    xs("store", "remove", "p_work", check=0)
    assert "no payload named p_work" in xs("store", "remove", "p_work", check=1).stderr


def test_sync_all_patches_five_targets_and_a_second_run_changes_nothing(fleet, xs, target):
    ts = [target() for _ in range(5)]
    assert all(t.query("work 1") == "2" for t in ts)
    xs("store", "add", fleet.payload["p_work"], check=0)
    doc = sync_json(xs, "--all", check=0)
    assert doc["version"] == 1 and doc["changed"] is True
    assert sorted(p["pid"] for p in doc["processes"]) == sorted(t.pid for t in ts)
    assert all(p["result"] == "changed" and p["applied"] == ["p_work"] for p in doc["processes"])
    assert all(t.query("work 1") == "1001" for t in ts)
    # idempotent, and it says so
    p = xs("sync", "--all", check=0)
    assert "No action needed" in p.stdout
    doc = sync_json(xs, "--all", check=0)
    assert doc["changed"] is False
    assert all(p["result"] == "unchanged" for p in doc["processes"])
    st = json.loads(xs("status", "--json", check=0).stdout)
    assert st["patched"] is True
    assert all(p["applied"] == ["store:p_work"] and p["lacking"] == [] for p in st["processes"])


def test_a_target_started_after_the_sync_comes_up_patched(fleet, xs, target):
    first = target()
    xs("store", "add", fleet.payload["p_work"], check=0)
    xs("sync", "--all", check=0)
    sixth = target()
    # no command: the agent applied the store before main
    assert sixth.query("work 1") == "1001"
    assert first.query("work 1") == "1001"
    st = json.loads(xs("status", "--json", "-p", str(sixth.pid), check=0).stdout)
    assert st["processes"][0]["applied"] == ["store:p_work"]
    assert "No action needed" in xs("sync", "--all", check=0).stdout


def test_a_build_id_chain_is_applied_in_order_by_sync_and_at_start(fleet, xs, target):
    # names in the reverse of the chain's order: the chain decides, not the name
    xs("store", "add", fleet.hold_on_work, "--name", "a-hold", check=0)
    xs("store", "add", fleet.payload["p_work"], "--name", "b-work", check=0)
    doc = json.loads(xs("store", "list", "--json", check=0).stdout)
    assert [e["name"] for e in doc["payloads"]] == ["b-work", "a-hold"]
    t = target()  # both applied before main
    assert t.query("work 1") == "1001" and t.query("holdfn") == "2"
    xs("store", "remove", "a-hold", check=0)
    xs("store", "remove", "b-work", check=0)
    doc = sync_json(xs, "--all", check=0)
    assert doc["processes"][0]["reverted"] == ["a-hold", "b-work"]  # the top first
    assert t.query("work 1") == "2" and t.query("holdfn") == "1"
    xs("store", "add", fleet.hold_on_work, "--name", "a-hold", check=0)
    xs("store", "add", fleet.payload["p_work"], "--name", "b-work", check=0)
    doc = sync_json(xs, "--all", check=0)
    assert doc["processes"][0]["applied"] == ["b-work", "a-hold"]
    assert t.query("work 1") == "1001" and t.query("holdfn") == "2"


def test_store_remove_and_sync_reverts_every_target(fleet, xs, target):
    ts = [target() for _ in range(3)]
    xs("store", "add", fleet.payload["p_work"], check=0)
    xs("sync", "--all", check=0)
    assert all(t.query("work 1") == "1001" for t in ts)
    xs("store", "remove", "p_work", check=0)
    st = json.loads(xs("status", "--json", check=0).stdout)
    assert all(p["extra"] == ["p_work"] and not p["patched"] for p in st["processes"])
    doc = sync_json(xs, "--all", check=0)
    assert all(p["reverted"] == ["p_work"] for p in doc["processes"])
    assert all(t.query("work 1") == "2" for t in ts)
    # reverted and unloaded: nothing of the store is left in the processes
    for t in ts:
        assert json.loads(t.cli("list", "--json", check=0).stdout)["payloads"] == []
    assert "No action needed" in xs("sync", "--all", check=0).stdout


def test_a_prefork_servers_new_workers_are_patched(fleet, xs, target):
    server = target()
    xs("store", "add", fleet.payload["p_work"], check=0)
    xs("sync", "--exe", fleet.target, check=0)
    assert server.query("work 1") == "1001"
    # a worker forked after the sync keeps its parent's patch
    worker = int(server.query("fork").split()[1])
    server.wait_socket(pid=worker)
    assert server.query("work 1") == "1001"
    assert "up to date" in xs("sync", "-p", str(worker), check=0).stdout
    assert server.query("exit") == "parent"
    # a worker that execs the program starts clean and is patched from the store
    worker = int(server.query("exec").split()[1])
    server.wait_socket(pid=worker)
    assert server.query("work 1") == "1001"
    st = json.loads(xs("status", "--json", "-p", str(worker), check=0).stdout)
    assert st["processes"][0]["applied"] == ["store:p_work"]
    assert server.query("exit") == "parent"


def test_a_busy_process_gets_exit_2_while_the_others_are_patched(fleet, xs, target):
    ts = [target() for _ in range(3)]
    busy = ts[1]
    assert busy.query("hold") == "held"  # a thread stays inside hold_fn
    xs("store", "add", fleet.payload["p_hold"], check=0)
    p = xs("sync", "--json", "--all", *QUICK, check=2)
    doc = json.loads(p.stdout)
    by_pid = {e["pid"]: e for e in doc["processes"]}
    assert doc["status"] == "busy"
    assert by_pid[busy.pid]["result"] == "busy"
    assert "hold_fn" in by_pid[busy.pid]["message"]
    for t in (ts[0], ts[2]):
        assert by_pid[t.pid]["result"] == "changed"
        assert t.query("holdfn") == "2"
    # the busy one is exactly as it was, and a later sync finishes the job
    assert json.loads(busy.cli("list", "--json", check=0).stdout)["payloads"] == []
    assert busy.query("release") == "released"
    assert busy.query("holdfn") == "1"
    doc = sync_json(xs, "--all", check=0)
    assert {e["pid"]: e["result"] for e in doc["processes"]}[busy.pid] == "changed"
    assert busy.query("holdfn") == "2"


def test_the_agent_ignores_a_store_others_may_write(fleet, start, store, xs):
    xs("store", "add", fleet.payload["p_work"], check=0)
    os.chmod(store, 0o777)
    try:
        t = start([fleet.target], env={"XSPLICE_STORE": str(store)})
        assert t.query("work 1") == "2"
        assert xs("sync", "--all", check=1).stderr.find("not trusted") >= 0
    finally:
        os.chmod(store, 0o755)


def test_python_bindings_store_sync_status(fleet, target, sockdir, store, monkeypatch):
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "python"))
    import xsplice
    monkeypatch.setenv("XSPLICE_DIR", str(sockdir))
    monkeypatch.setenv("XSPLICE_STORE", str(store))
    ts = [target() for _ in range(2)]
    assert xsplice.store_dir() == str(store)
    assert xsplice.store_add(str(fleet.payload["p_work"])) is True
    assert xsplice.store_add(str(fleet.payload["p_work"])) is False
    assert [p["name"] for p in xsplice.store_list()["payloads"]] == ["p_work"]
    assert xsplice.sync(all=True, dry_run=True)["changed"] is True
    assert ts[0].query("work 1") == "2"
    doc = xsplice.sync(pids=[t.pid for t in ts])
    assert doc["changed"] is True and all(t.query("work 1") == "1001" for t in ts)
    assert xsplice.status(exe=str(fleet.target))["patched"] is True
    with pytest.raises(xsplice.Error):
        xsplice.store_add(str(fleet.payload["p_hold"]), name="p_work")
    xsplice.store_remove("p_work")
    assert xsplice.sync(all=True)["changed"] is True
    assert all(t.query("work 1") == "2" for t in ts)


def test_a_process_that_fails_gets_exit_1_while_the_others_are_patched(fleet, xs, target):
    import subprocess
    ts = [target() for _ in range(2)]
    plain = subprocess.Popen(["sleep", "60"])  # no agent in it
    try:
        xs("store", "add", fleet.payload["p_work"], check=0)
        pids = [ts[0].pid, plain.pid, ts[1].pid]
        doc = json.loads(xs("sync", "--json", *[a for p in pids for a in ("-p", str(p))],
                            check=1).stdout)
        by_pid = {e["pid"]: e for e in doc["processes"]}
        assert doc["status"] == "error"
        assert by_pid[plain.pid]["result"] == "error"
        assert "no xsplice agent" in by_pid[plain.pid]["message"]
        assert all(by_pid[t.pid]["result"] == "changed" for t in ts)
        assert all(t.query("work 1") == "1001" for t in ts)
    finally:
        plain.kill()
        plain.wait()


def test_two_syncs_at_once_both_succeed(fleet, sockdir, store, xs, target):
    import subprocess
    ts = [target() for _ in range(5)]
    xs("store", "add", fleet.payload["p_work"], check=0)
    env = dict(os.environ, XSPLICE_DIR=str(sockdir), XSPLICE_STORE=str(store))
    env.pop("LD_PRELOAD", None)
    runs = [subprocess.Popen([str(XSPLICE), "sync", "--all"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for r in runs:
        out, err = r.communicate(timeout=120)
        assert r.returncode == 0, (out, err)
    assert all(t.query("work 1") == "1001" for t in ts)
    for t in ts:
        assert [p["name"] for p in json.loads(t.cli("list", "--json").stdout)["payloads"]] \
            == ["store:p_work"]
