#!/usr/bin/python
# xsplice.livepatch.patch: store a live patch on the host and sync the host's
# processes to it (or take it away again).  Runs the host's `xsplice` command.
from __future__ import annotations

DOCUMENTATION = r"""
module: patch
short_description: Apply (or roll back) an xsplice live patch on every matching process of a host
description:
  - Stores the payload in the host's xsplice patch store (C(xsplice store add)) and brings
    the selected processes to the store's state (C(xsplice sync)), so that processes started
    later come up patched too.
  - With I(state=absent), removes the payload from the store and reverts and unloads it in
    every selected process.
  - C(changed) is true only when the store or some process changed; check mode uses
    C(xsplice sync --dry-run); diff shows, per process, the store payloads applied before
    and after.
options:
  src:
    description: The payload file (on the controller, or on the host with I(remote_src)).
      Required for I(state=applied).
    type: path
  remote_src:
    description: I(src) is already on the host.
    type: bool
    default: false
  name:
    description: The name in the store (processes show it as C(store:NAME)); default the
      base name of I(src) without its extension.
    type: str
  state:
    description: C(applied) or C(absent).
    type: str
    choices: [applied, absent]
    default: applied
  all:
    description: Every process with an xsplice agent (the default when neither I(pids) nor
      I(exe) is given).
    type: bool
    default: false
  pids:
    description: Only these processes.
    type: list
    elements: int
  exe:
    description: Only the processes running this executable.
    type: path
  timeout_ms:
    description: Deadline of each apply or revert, retries included (C(--timeout)).
    type: int
  store:
    description: The patch store directory (C(XSPLICE_STORE)); default the host's default.
    type: path
  sockdir:
    description: Where the agents' sockets are (C(XSPLICE_DIR)); default the agents' own.
    type: path
  xsplice:
    description: The xsplice command on the host.
    type: path
    default: xsplice
author: xsplice developers
"""

EXAMPLES = r"""
- name: the fix for CVE-2024-1234, in every process running the code
  xsplice.livepatch.patch:
    src: fixes/cve-2024-1234.xsplice
    all: true

- name: roll it back
  xsplice.livepatch.patch:
    name: cve-2024-1234
    state: absent
"""

RETURN = r"""
stored:
  description: Whether the payload is in the store after the task.
  type: bool
sync:
  description: The summary of C(xsplice sync --json) (per process, what changed).
  type: dict
processes:
  description: C(xsplice status --json) after the task, per process.
  type: list
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule


def run_json(module, env, args, ok=(0,)):
    rc, out, err = module.run_command([module.params["xsplice"]] + args, environ_update=env)
    if rc not in ok:
        return rc, None, err.strip() or out.strip()
    try:
        return rc, json.loads(out), err.strip()
    except ValueError:
        return rc, None, err.strip() or out.strip()


def selection(p):
    if p["pids"]:
        out = []
        for pid in p["pids"]:
            out += ["-p", str(pid)]
        return out
    if p["exe"]:
        return ["--exe", p["exe"]]
    return ["--all"]


def applied_view(status, name):
    """Per process, the store payloads applied (for diff)."""
    lines = []
    for proc in (status or {}).get("processes", []):
        mine = [a for a in proc.get("applied", []) if a.startswith("store:")]
        lines.append("%d %s: %s" % (proc["pid"], proc.get("exe", "?"), ", ".join(mine) or "-"))
    return "\n".join(lines) + ("\n" if lines else "")


def predicted(status, summary):
    """Status after a dry-run summary would be carried out (check mode diff)."""
    changes = {p["pid"]: p for p in (summary or {}).get("processes", [])}
    out = {"processes": []}
    for proc in (status or {}).get("processes", []):
        c = changes.get(proc["pid"], {})
        gone = {"store:" + n for n in c.get("reverted", [])}
        applied = [a for a in proc.get("applied", []) if a not in gone]
        applied += ["store:" + n for n in c.get("applied", [])]
        out["processes"].append(dict(proc, applied=applied))
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path"),
            remote_src=dict(type="bool", default=False),
            name=dict(type="str"),
            state=dict(type="str", choices=["applied", "absent"], default="applied"),
            all=dict(type="bool", default=False),
            pids=dict(type="list", elements="int"),
            exe=dict(type="path"),
            timeout_ms=dict(type="int"),
            store=dict(type="path"),
            sockdir=dict(type="path"),
            xsplice=dict(type="path", default="xsplice"),
        ),
        mutually_exclusive=[("pids", "exe")],
        required_if=[("state", "applied", ("src",))],
        supports_check_mode=True,
    )
    p = module.params
    if p["all"] and (p["pids"] or p["exe"]):
        module.fail_json(msg="all: true and pids or exe: give one of them")
    env = {}
    if p["store"]:
        env["XSPLICE_STORE"] = p["store"]
    if p["sockdir"]:
        env["XSPLICE_DIR"] = p["sockdir"]
    name = p["name"] or os.path.splitext(os.path.basename(p["src"] or ""))[0]
    if not name:
        module.fail_json(msg="give name (or src)")
    sel = selection(p)
    extra = ["--timeout", str(p["timeout_ms"])] if p["timeout_ms"] else []

    rc, listing, err = run_json(module, env, ["store", "list", "--json"])
    if listing is None:
        module.fail_json(msg="xsplice store list: " + err)
    stored = {e["name"]: e for e in listing.get("payloads", [])}
    store_dir = listing.get("store", "")
    rc, before, err = run_json(module, env, ["status", "--json"] + sel)
    if before is None:
        module.fail_json(msg="xsplice status: " + err)

    store_change = None  # "add", "replace", "remove"
    if p["state"] == "applied":
        if not os.path.isfile(p["src"]):
            module.fail_json(msg="%s: no such file on the host" % p["src"])
        with open(p["src"], "rb") as f:
            want = f.read()
        if name not in stored:
            store_change = "add"
        else:
            try:
                with open(os.path.join(store_dir, name + ".xsplice"), "rb") as f:
                    if f.read() != want:
                        store_change = "replace"
            except OSError:
                store_change = "replace"
    elif name in stored:
        store_change = "remove"

    if not module.check_mode and store_change:
        if store_change in ("replace", "remove"):
            rc, out, err = module.run_command([p["xsplice"], "store", "remove", name],
                                              environ_update=env)
            if rc:
                module.fail_json(msg="xsplice store remove: " + (err.strip() or out.strip()))
        if store_change in ("add", "replace"):
            rc, out, err = module.run_command(
                [p["xsplice"], "store", "add", p["src"], "--name", name], environ_update=env)
            if rc:
                module.fail_json(msg="xsplice store add: " + (err.strip() or out.strip()))

    dry = ["--dry-run"] if module.check_mode else []
    rc, summary, err = run_json(module, env, ["sync", "--json"] + dry + extra + sel, ok=(0, 1, 2))
    if summary is None:
        module.fail_json(msg="xsplice sync: " + err, changed=bool(store_change))
    changed = bool(store_change) or bool(summary.get("changed"))
    if module.check_mode:
        after = predicted(before, summary)
    else:
        _, after, _ = run_json(module, env, ["status", "--json"] + sel)
    result = dict(
        changed=changed,
        stored=p["state"] == "applied",
        store_change=store_change,
        sync=summary,
        processes=(after or {}).get("processes", []),
        diff=dict(before="store: %s\n%s" % (name if name in stored else "-", applied_view(before, name)),
                  after="store: %s\n%s" % (name if p["state"] == "applied" else "-",
                                           applied_view(after, name))),
    )
    if rc != 0:
        bad = [pr for pr in summary.get("processes", []) if pr.get("result") in ("busy", "error")]
        msg = "; ".join("process %d (%s): %s" % (pr["pid"], pr.get("exe", "?"), pr.get("message"))
                        for pr in bad) or err
        module.fail_json(msg=msg, busy=(rc == 2), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
