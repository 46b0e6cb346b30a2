"""The Ansible collection xsplice.livepatch and the roll-out playbook of
examples/ansible, run for real with `ansible-playbook -c local` (issue 11)."""
import os
import re
import shutil

import pytest

from conftest import BIN, ROOT, run
from test_fleet import fleet  # noqa: F401 (module fixture: target and payloads)

PLAYBOOK = ROOT / "examples" / "ansible" / "rollout.yml"

pytestmark = pytest.mark.skipif(not shutil.which("ansible-playbook"),
                                reason="ansible-core is not installed (scripts/install-deps.sh)")


@pytest.fixture
def playbook(tmp_path, sockdir):
    store = tmp_path / "store"
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.update(ANSIBLE_COLLECTIONS_PATH=str(ROOT / "ansible"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
               ANSIBLE_REMOTE_TEMP=str(tmp_path / "ansible-remote"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3")

    def _run(*extra, check=0):
        p = run(["ansible-playbook", "-c", "local", "-i", "localhost,",
                 "-e", "hosts_group=localhost",
                 "-e", f"xsplice_store={store}", "-e", f"xsplice_sockdir={sockdir}",
                 "-e", f"xsplice_cmd={BIN / 'xsplice'}", *extra, PLAYBOOK],
                check=False, env=env, timeout=240)
        if p.returncode != check:
            raise AssertionError(f"ansible-playbook exited {p.returncode}\n{p.stdout}\n{p.stderr}")
        m = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)",
                      p.stdout)
        assert m, p.stdout
        return int(m.group(2)), p.stdout
    _run.store = store
    return _run


def test_playbook_applies_then_is_unchanged_then_rolls_back(fleet, start, playbook):  # noqa: F811
    env = {"XSPLICE_STORE": str(playbook.store)}
    ts = [start([fleet.target], env=env) for _ in range(2)]
    payload = f"payload={fleet.payload['p_work']}"

    # check mode: says it would change, changes nothing
    changed, out = playbook("-e", payload, "--check", "--diff")
    assert changed == 1
    assert all(t.query("work 1") == "2" for t in ts)
    assert not (playbook.store / "p_work.xsplice").exists()

    changed, out = playbook("-e", payload, "--diff")
    assert changed == 1
    assert "store:p_work" in out  # the diff shows it applied
    assert all(t.query("work 1") == "1001" for t in ts)

    changed, _ = playbook("-e", payload)
    assert changed == 0

    changed, _ = playbook("-e", payload, "-e", "state=absent")
    assert changed == 1
    assert all(t.query("work 1") == "2" for t in ts)
    assert not (playbook.store / "p_work.xsplice").exists()
    changed, _ = playbook("-e", payload, "-e", "state=absent")
    assert changed == 0


def test_playbook_fails_with_the_agents_message(fleet, start, playbook):  # noqa: F811
    t = start([fleet.target], env={"XSPLICE_STORE": str(playbook.store)})
    assert t.query("hold") == "held"
    changed, out = playbook("-e", f"payload={fleet.payload['p_hold']}", "-e", "timeout_ms=300",
                            check=2)
    assert "hold_fn" in out and str(t.pid) in out, out
    assert t.query("release") == "released"
    assert t.query("holdfn") == "1"
