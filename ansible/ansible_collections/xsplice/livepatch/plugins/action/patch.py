# Action plugin for xsplice.livepatch.patch: a `src` on the controller is
# copied to the host first (remote_src: true means it is already there).
from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        src = args.get("src")
        copy = src and not args.get("remote_src", False) and args.get("state", "applied") == "applied"
        try:
            if copy:
                try:
                    local = self._find_needle("files", src)
                except AnsibleError as e:
                    result.update(failed=True, msg=str(e))
                    return result
                if self._connection._shell.tmpdir is None:
                    self._make_tmp_path()
                base = os.path.basename(local)
                remote = self._connection._shell.join_path(self._connection._shell.tmpdir, base)
                self._transfer_file(local, remote)
                self._fixup_perms2((self._connection._shell.tmpdir, remote))
                args.setdefault("name", os.path.splitext(base)[0])
                args["src"] = remote
                args["remote_src"] = True
            result.update(self._execute_module(module_name="xsplice.livepatch.patch",
                                               module_args=args, task_vars=task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
