"""A tmpfs of our own on /tmp, for tests of programs with a private /tmp
(systemd's PrivateTmp=yes).  Called inside `unshare -m`, as a function or as
a command that then runs another:

    unshare -m /usr/bin/python3 privtmp.py [--mkdir DIR:MODE]... -- CMD ARGS...

A checkout that lies under /tmp (a clone made there) would vanish under the
new tmpfs with the build the test runs; it is bound back at the same path, so
every test sees the same build wherever the checkout is.
"""
import ctypes
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MS_BIND, MS_REC = 4096, 16384


def private_tmp():
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    keep = str(ROOT) if str(ROOT).startswith("/tmp/") else None
    # the checkout, held open: its old path is gone once the tmpfs is on
    fd = os.open(keep, os.O_PATH | os.O_DIRECTORY) if keep else -1
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/tmp"], check=True)
    if keep:
        os.makedirs(keep)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mount(f"/proc/self/fd/{fd}".encode(), keep.encode(), None,
                      MS_BIND | MS_REC, None):
            err = ctypes.get_errno()
            raise OSError(err, f"binding the checkout back at {keep}: {os.strerror(err)}")
        os.close(fd)


def main(argv):
    dirs = []
    while argv and argv[0] == "--mkdir":
        d, mode = argv[1].rsplit(":", 1)
        dirs.append((d, int(mode, 8)))
        argv = argv[2:]
    if not argv or argv[0] != "--" or len(argv) < 2:
        sys.exit("usage: privtmp.py [--mkdir DIR:MODE]... -- CMD ARGS...")
    private_tmp()
    for d, mode in dirs:
        os.mkdir(d)
        os.chmod(d, mode)
    os.execvp(argv[1], argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
