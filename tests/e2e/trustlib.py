"""Helpers for the issue-12 tests: a private /dev/log, signing keys."""
import os
import re
import socket
import time
from pathlib import Path

from conftest import AGENT

# Run "$@" with the agent preloaded, in a private mount namespace whose
# /dev is an overlay of the real one with SYSLOG_SOCK bound on /dev/log.
_PRIVATE_DEVLOG = r'''
set -e
mount -t overlay overlay -o "lowerdir=/dev,upperdir=$XS_T/up,workdir=$XS_T/work" /dev
: > /dev/log
mount --bind "$XS_T/log.sock" /dev/log
exec env LD_PRELOAD="$XS_AGENT" "$@"
'''


class Syslog:
    """A datagram socket standing in for syslogd, seen as /dev/log by
    processes started through .wrap()."""

    def __init__(self, tmp_path):
        self.dir = Path(tmp_path) / "devlog"
        (self.dir / "up").mkdir(parents=True)
        (self.dir / "work").mkdir()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.dir / "log.sock"))
        self.lines = []

    def wrap(self, argv):
        """(argv, env) that start argv under the private /dev/log."""
        return (["unshare", "-m", "--propagation", "private", "sh", "-c", _PRIVATE_DEVLOG, "sh",
                 *map(str, argv)],
                {"LD_PRELOAD": "", "XS_T": str(self.dir), "XS_AGENT": str(AGENT)})

    def read(self, want, timeout=20.0):
        """Read lines until `want` xsplice-audit lines arrived (in total)."""
        end = time.monotonic() + timeout
        while len(self.audit()) < want and time.monotonic() < end:
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                self.lines.append(self.sock.recv(65536).decode(errors="replace"))
            except socket.timeout:
                break
        return self.audit()

    def audit(self):
        return [l[l.index("xsplice-audit: ") + 15:] for l in self.lines if "xsplice-audit: " in l]

    def close(self):
        self.sock.close()


def fields(line):
    """'verb k=v k="quoted"...' -> (verb, {k: v})."""
    verb, _, rest = line.partition(" ")
    out = {}
    for m in re.finditer(r'(\S+?)=("((?:[^"\\]|\\.)*)"|\S*)', rest):
        out[m.group(1)] = m.group(3) if m.group(3) is not None else m.group(2)
    return verb, out
