"""Issue 4, run-time services: shadow variables on a live data structure,
per-thread actions, module parameters."""
import os

import re

from features.fhelp import fb, payloads, trace  # noqa: F401


def shadow_rows(t):
    """{id: count} from the `shadow id N: C variables` lines of xsplice dump."""
    dump = t.cli("dump", check=0).stdout
    return {int(i): int(c) for i, c in re.findall(r"shadow id (\d+): (\d+) variables", dump)}


def owned_shadows(t):
    """{payload: shadow variables its code allocated}, from xsplice dump."""
    out, name = {}, None
    for line in t.cli("dump", check=0).stdout.splitlines():
        m = re.match(r"(\S+): (APPLIED|CHECKED)$", line)
        if m:
            name = m.group(1)
        m = re.search(r"shadow variables (\d+)", line)
        if m and name:
            out[name] = int(m.group(1))
    return out


SV_TOUCHES = 0x5EED  # the id shadow.c uses


def test_shadow_variable_adds_a_field_to_live_objects(fb, start):
    sh = fb.payload("shadow")
    t = start([fb.target])
    # the list exists before the patch: its nodes get shadows lazily
    for k, v in ((1, 10), (2, 20), (3, 30)):
        assert t.query(f"add {k} {v}") == "ok"
    assert t.query("touch 1") == "10"

    t.cli("upload", "shadow", sh, check=0)
    t.cli("apply", "shadow", check=0)
    assert shadow_rows(t).get(SV_TOUCHES, 0) == 0
    # value * 1000 + how often this node was touched since the patch
    assert t.query("touch 1") == "10001"
    assert t.query("touch 1") == "10002"
    assert t.query("touch 2") == "20001"
    assert t.query("touch 1") == "10003"
    assert t.query("touch 2") == "20002"
    assert shadow_rows(t)[SV_TOUCHES] == 2
    assert owned_shadows(t) == {"shadow": 2}

    # freeing a node frees its shadow (destructor called once); a new node,
    # even at the same address, starts afresh
    assert t.query("del 1") == "ok"
    assert t.query("get shadow_dtors") == "1"
    assert shadow_rows(t)[SV_TOUCHES] == 1
    assert t.query("add 1 11") == "ok"
    assert t.query("touch 1") == "11001"
    assert t.query("del 3") == "ok"  # never touched: no shadow, no destructor
    assert t.query("get shadow_dtors") == "1"

    # reverting keeps the shadow data; re-applying finds it again
    t.cli("revert", "shadow", check=0)
    assert t.query("touch 2") == "20"
    t.cli("apply", "shadow", check=0)
    assert t.query("touch 2") == "20003"
    assert t.query("touch 1") == "11002"
    assert shadow_rows(t)[SV_TOUCHES] == 2


def test_shadow_variables_survive_unload_unless_the_payload_asks(fb, start):
    keep = fb.payload("shadow")
    free = fb.payload("shadow", out="shadow_free", extra=["--meta", "shadow_free=1"])
    t = start([fb.target])
    assert t.query("add 2 20") == "ok"

    # unloaded without asking: the data stays, a later payload finds it
    t.cli("load", keep, check=0)
    assert t.query("touch 2") == "20001"
    t.cli("revert", "shadow", check=0)
    t.cli("unload", "shadow", check=0)
    assert shadow_rows(t)[SV_TOUCHES] == 1
    t.cli("load", free, check=0)
    assert t.query("touch 2") == "20002"
    assert owned_shadows(t) == {"shadow_free": 0}  # not its own

    # a payload with shadow_free=1 has what it allocated freed on unload
    assert t.query("add 4 40") == "ok"
    assert t.query("touch 4") == "40001"
    assert owned_shadows(t) == {"shadow_free": 1}
    t.cli("revert", "shadow_free", check=0)
    t.cli("unload", "shadow_free", check=0)
    assert shadow_rows(t)[SV_TOUCHES] == 1  # node 2's, made by the first payload
    t.cli("load", keep, check=0)
    assert t.query("touch 4") == "40001"  # afresh
    assert t.query("touch 2") == "20003"


def test_shadow_variables_from_hooks_inside_the_quiesce_window(fb, start):
    sh = fb.payload("shadow_hooks")
    t = start([fb.target])
    for k in (1, 2, 3):
        assert t.query(f"add {k} {k}0") == "ok"
    t.cli("upload", "tags", sh, check=0)
    t.cli("apply", "tags", check=0)
    assert trace(t) == ["tagged=3"]  # the load hook tagged the live nodes
    assert shadow_rows(t)[0x7A6] == 3
    assert [t.query(f"touch {k}") for k in (1, 2, 3)] == ["7", "14", "21"]
    assert t.query("add 4 40") == "ok"
    assert t.query("touch 4") == "-1"  # born after the load hook

    t.cli("revert", "tags", check=0)
    assert trace(t) == ["untagged"]  # the unload hook freed every tag
    assert t.query("get shadow_dtors") == "3"
    assert shadow_rows(t).get(0x7A6, 0) == 0
    assert t.query("touch 2") == "20"
    t.cli("apply", "tags", check=0)
    assert trace(t) == ["tagged=4"]
    assert t.query("touch 4") == "28"


def test_shadow_calls_in_the_window_never_hang_on_a_parked_lock_holder(fb, start):
    """A target thread allocates and frees shadow variables in a loop, so the
    quiesce signal often parks it holding the store's lock; the payload's
    load and unload hooks use the store inside the window.  Every apply and
    revert completes, and every hook call works or says EDEADLK."""
    sw = fb.payload("shadow_window")
    t = start([fb.target])
    assert t.query("hammer") == "ok"
    t.cli("upload", "window", sw, check=0)
    cycles = 100
    for _ in range(cycles):
        t.cli("apply", "window", check=0)
        assert t.query("calc 1") == "701"
        t.cli("revert", "window", check=0)
        assert t.query("calc 1") == "2"
    ok, busy, err = (int(t.query(f"get window_{k}")) for k in ("ok", "busy", "err"))
    assert err == 0
    assert ok + busy == 2 * cycles
    # the hammering thread is still going
    before = int(t.query("rounds"))
    assert any(int(t.query("rounds")) > before for _ in range(10000))


def thread_tids(pid):
    return {int(x) for x in os.listdir(f"/proc/{pid}/task")}


def test_per_thread_action_runs_exactly_once_on_every_thread(fb, start):
    pt = fb.payload("perthread")
    t = start([fb.target])
    # main + 5 workers: blocked in read, nanosleep, a condition variable,
    # poll, and one spinning in user space
    reply = t.query("threads 5").split()
    assert reply[0] == "tids" and len(reply) == 7, reply
    target_tids = [int(x) for x in reply[1:]]
    assert t.query("ptlog") == "ptlog"

    t.cli("upload", "pt", pt, check=0)
    t.cli("apply", "pt", check=0)
    entries = [e.split(":") for e in t.query("ptlog").split()[1:]]
    tids = [int(tid) for tid, _ in entries]
    # every thread of the process (the target's and the agent's own) ran it
    # exactly once
    assert sorted(tids) == sorted(thread_tids(t.pid)), (tids, thread_tids(t.pid))
    assert set(target_tids) <= set(tids)
    # it ran after the switch: each thread already saw the new pt_value()
    assert {seen for _, seen in entries} == {"2"}, entries


def test_parameters_reach_the_payload_and_are_listed(fb, start):
    pp = fb.payload("params")
    t = start([fb.target])
    t.cli("upload", "params", pp, "greeting=bonjour", "count=3", check=0)
    text = t.cli("list", check=0).stdout
    assert "greeting=bonjour" in text and "count=3" in text, text
    assert payloads(t)["params"]["params"] == {"greeting": "bonjour", "count": "3"}

    t.cli("apply", "params", check=0)
    assert t.query("greet") == "bonjour"      # read by payload code
    assert t.query("get param_count") == "3"  # read by a hook

    # a second payload with other parameters: each payload's code sees its own
    pp2 = fb.payload("params", out="params_copy", extra=["--meta", "copy=2"])
    t.cli("upload", "params2", pp2, "greeting=hola", check=0)
    t.cli("apply", "params2", "--nodeps", check=0)
    assert t.query("greet") == "hola"
    assert t.query("get param_count") == "-1"  # params2 has no count
    t.cli("revert", "params2", check=0)
    assert t.query("greet") == "bonjour"
