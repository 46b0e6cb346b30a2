"""Python bindings for libxsplicectl: drive the xsplice agent of a live process.

    import xsplice

    with xsplice.Process(pid) as p:
        p.upload("fix1", "fix1.xsplice", params={"limit": "64"})
        p.apply("fix1", timeout_ms=5000)
        for payload in p.list():
            print(payload["name"], payload["state"])
        p.revert("fix1")
        p.unload("fix1")

    # the patch store and the processes of this machine
    xsplice.store_add("fix1.xsplice")      # verified, refused on a name clash
    summary = xsplice.sync(all=True)       # every process with an agent
    print(xsplice.status()["patched"])

Errors raise xsplice.Error (with .status, a negative errno, and the agent's
message); "busy, try again" raises xsplice.Busy, a subclass.  Actions
return True when they changed something and False when the payload was
already in the asked state ("No action needed").

The library is found through $XSPLICE_CTL_LIB, the directory `make install`
recorded, the build tree this file sits in, then the system's search path.
"""
import ctypes
import ctypes.util
import errno
import json
import os

__all__ = ["Process", "Error", "Busy", "OK", "NOOP", "load_library", "store_dir", "store_add",
           "store_remove", "store_list", "sync", "status"]

OK = 0
NOOP = 1

_APPLY, _REVERT, _REPLACE, _UNLOAD = 1, 2, 3, 4
_LIST, _INFO, _DUMP, _HISTORY = 1, 2, 3, 4
_NODEPS = 1


class Error(Exception):
    """An xsplice operation failed: .status is the negative errno, .message the why."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Busy(Error):
    """The agent found no safe moment before the deadline: try again."""


class _ActionOpts(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint32), ("quiesce_timeout_ms", ctypes.c_uint32),
                ("deadline_ms", ctypes.c_uint32)]


class _SyncOpts(ctypes.Structure):
    _fields_ = [("pids", ctypes.POINTER(ctypes.c_int)), ("npids", ctypes.c_size_t),
                ("exe", ctypes.c_char_p), ("flags", ctypes.c_uint32), ("action", _ActionOpts),
                ("workers", ctypes.c_uint)]


_SYNC_JSON, _SYNC_DRY_RUN = 1, 2


def _candidates():
    env = os.environ.get("XSPLICE_CTL_LIB")
    if env:
        yield env
    try:
        from . import _paths  # written by `make install`
        yield os.path.join(_paths.LIBDIR, "libxsplicectl.so.0")
    except ImportError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "..", "..", "build", "lib", "libxsplicectl.so")
    found = ctypes.util.find_library("xsplicectl")
    if found:
        yield found
    yield "libxsplicectl.so.0"


_lib = None


def _declare(lib):
    vp, cp, i, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
    sigs = {
        "xsctl_new": (vp, []),
        "xsctl_free": (None, [vp]),
        "xsctl_attach": (i, [vp, i]),
        "xsctl_attach_path": (i, [vp, cp]),
        "xsctl_socket_path": (cp, [vp]),
        "xsctl_agent_version": (cp, [vp]),
        "xsctl_set_io_timeout": (None, [vp, i]),
        "xsctl_upload": (i, [vp, cp, cp, sz, ctypes.POINTER(cp)]),
        "xsctl_action": (i, [vp, cp, i, ctypes.POINTER(_ActionOpts)]),
        "xsctl_report": (i, [vp, i, i]),
        "xsctl_body": (ctypes.POINTER(ctypes.c_char), [vp, ctypes.POINTER(sz)]),
        "xsctl_error": (cp, [vp]),
        "xsctl_busy": (i, [i]),
        "xsctl_store_dir": (i, [cp, sz]),
        "xsctl_store_add": (i, [vp, cp, cp]),
        "xsctl_store_remove": (i, [vp, cp]),
        "xsctl_store_list": (i, [vp, i]),
        "xsctl_sync": (i, [vp, ctypes.POINTER(_SyncOpts)]),
        "xsctl_status": (i, [vp, ctypes.POINTER(_SyncOpts)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


def load_library():
    """The loaded libxsplicectl (ctypes.CDLL), found as the module docstring says."""
    global _lib
    if _lib is None:
        tried = []
        for path in _candidates():
            if os.sep in path and not os.path.exists(path):
                tried.append(path)
                continue
            try:
                _lib = _declare(ctypes.CDLL(path))
                break
            except OSError as e:
                tried.append(f"{path} ({e})")
        else:
            raise OSError("libxsplicectl.so not found; tried: " + ", ".join(tried)
                          + " (set XSPLICE_CTL_LIB)")
    return _lib


def _ms(v, what):
    if v is None:
        return 0
    v = int(v)
    if v < 0 or v > 0x3FFFFFFF:
        raise ValueError(f"{what} out of range: {v}")
    return v


class Process:
    """The agent of one process, by pid (or by socket path)."""

    def __init__(self, pid=None, socket=None, io_timeout_ms=None):
        if (pid is None) == (socket is None):
            raise ValueError("give exactly one of pid or socket")
        self._lib = load_library()
        self._h = self._lib.xsctl_new()
        if not self._h:
            raise MemoryError("xsctl_new")
        if io_timeout_ms is not None:
            self._lib.xsctl_set_io_timeout(self._h, int(io_timeout_ms))
        self.pid = pid
        if socket is not None:
            rc = self._lib.xsctl_attach_path(self._h, os.fsencode(socket))
        else:
            rc = self._lib.xsctl_attach(self._h, int(pid))
        self._check(rc)

    # -- plumbing
    def close(self):
        if self._h:
            self._lib.xsctl_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _handle(self):
        if not self._h:
            raise ValueError("the Process is closed")
        return self._h

    def _check(self, rc):
        if rc >= 0:
            return rc
        msg = self._lib.xsctl_error(self._h).decode(errors="replace")
        msg = msg or os.strerror(-rc)
        cls = Busy if self._lib.xsctl_busy(rc) else Error
        raise cls(rc, msg)

    @property
    def socket_path(self):
        return self._lib.xsctl_socket_path(self._handle()).decode()

    @property
    def agent_version(self):
        return self._lib.xsctl_agent_version(self._handle()).decode()

    # -- payloads
    def upload(self, name, payload, params=None):
        """Upload `payload` (bytes, or a path to read) under `name`.

        params: a dict {key: value} or an iterable of "key=value" strings,
        read by payload code through the SDK.  Returns True (or False when
        the agent said no action was needed)."""
        if isinstance(payload, (bytes, bytearray, memoryview)):
            data = bytes(payload)
        else:
            with open(payload, "rb") as f:
                data = f.read()
        if isinstance(params, dict):
            params = [f"{k}={v}" for k, v in params.items()]
        plist = [os.fsencode(p) for p in (params or [])]
        arr = (ctypes.c_char_p * (len(plist) + 1))(*plist, None)
        rc = self._lib.xsctl_upload(self._handle(), name.encode(), data, len(data), arr)
        return self._check(rc) == OK

    def action(self, name, action, nodeps=False, timeout_ms=None, quiesce_timeout_ms=None):
        """action: "apply", "revert", "replace" or "unload".  timeout_ms is the
        whole action's deadline (retries included), quiesce_timeout_ms each
        attempt's wait for every thread to park; None = the agent's default."""
        acts = {"apply": _APPLY, "revert": _REVERT, "replace": _REPLACE, "unload": _UNLOAD}
        if action not in acts:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(acts)}")
        opts = _ActionOpts(_NODEPS if nodeps else 0, _ms(quiesce_timeout_ms, "quiesce_timeout_ms"),
                           _ms(timeout_ms, "timeout_ms"))
        rc = self._lib.xsctl_action(self._handle(), name.encode(), acts[action], ctypes.byref(opts))
        return self._check(rc) == OK

    def apply(self, name, **kw):
        return self.action(name, "apply", **kw)

    def revert(self, name, **kw):
        return self.action(name, "revert", **kw)

    def replace(self, name, **kw):
        return self.action(name, "replace", **kw)

    def unload(self, name, **kw):
        return self.action(name, "unload", **kw)

    # -- reports
    def _report(self, what, as_json):
        self._check(self._lib.xsctl_report(self._handle(), what, 1 if as_json else 0))
        n = ctypes.c_size_t()
        body = self._lib.xsctl_body(self._handle(), ctypes.byref(n))
        text = ctypes.string_at(body, n.value).decode(errors="replace")
        return json.loads(text) if as_json else text

    def list(self):
        """The payloads with their state, build-ids, dependencies, metadata and
        parameters: a list of dicts (the agent's `list --json`)."""
        doc = self._report(_LIST, True)
        return doc["payloads"] if isinstance(doc, dict) and "payloads" in doc else doc

    def status(self, name):
        """The list entry of payload `name`; raises Error(-ENOENT) if none."""
        for p in self.list():
            if p.get("name") == name:
                return p
        raise Error(-errno.ENOENT, f"no payload named {name} in process {self.pid or self.socket_path}")

    def info(self):
        """The agent's `info --json`: {"version": 1, "agent_version", "pid", "exe",
        "build_id", "signal" ("SIGRTMIN+8"), "signal_number", "modules": [...]}."""
        return self._report(_INFO, True)

    def history(self):
        """The agent's `history --json`: {"version": 1, "total", "entries": [...]},
        each entry with "error" (None or an errno name) and "message"."""
        return self._report(_HISTORY, True)

    def dump(self, as_json=False):
        """Everything the agent knows: text, or the `dump --json` object."""
        return self._report(_DUMP, as_json)


# -- the patch store and the fleet (no process handle: module functions) ------

def _fleet_call(fn, *args):
    """Run fn(handle, *args): (status, message, body text)."""
    lib = load_library()
    h = lib.xsctl_new()
    if not h:
        raise MemoryError("xsctl_new")
    try:
        rc = getattr(lib, fn)(h, *args)
        msg = lib.xsctl_error(h).decode(errors="replace")
        n = ctypes.c_size_t()
        body = lib.xsctl_body(h, ctypes.byref(n))
        text = ctypes.string_at(body, n.value).decode(errors="replace")
        return rc, msg, text, lib.xsctl_busy(rc)
    finally:
        lib.xsctl_free(h)


def _raise(rc, msg, busy, summary=None):
    err = (Busy if busy else Error)(rc, msg or os.strerror(-rc))
    err.summary = summary
    raise err


def store_dir():
    """The patch store directory ($XSPLICE_STORE or the default)."""
    buf = ctypes.create_string_buffer(4096)
    rc = load_library().xsctl_store_dir(buf, len(buf))
    if rc < 0:
        raise Error(rc, "no patch store: set XSPLICE_STORE (or HOME)")
    return buf.value.decode()


def store_add(path, name=None):
    """Verify the payload at `path` and store it as `name` (default: its base
    name).  True when stored, False when that payload was already stored
    under that name; Error when the name holds another payload."""
    rc, msg, _, busy = _fleet_call("xsctl_store_add", os.fsencode(path),
                                   name.encode() if name else None)
    if rc < 0:
        _raise(rc, msg, busy)
    return rc == OK


def store_remove(name):
    rc, msg, _, busy = _fleet_call("xsctl_store_remove", name.encode())
    if rc < 0:
        _raise(rc, msg, busy)
    return True


def store_list():
    """The store in dependency order: {"version", "store", "payloads": [...]}."""
    rc, msg, text, busy = _fleet_call("xsctl_store_list", 1)
    if rc < 0:
        _raise(rc, msg, busy)
    return json.loads(text)


def _sync_opts(all, pids, exe, flags, timeout_ms, quiesce_timeout_ms, workers):
    pids = list(pids or [])
    if sum([bool(all), bool(pids), exe is not None]) > 1:
        raise ValueError("give one of all=True, pids or exe")
    arr = (ctypes.c_int * max(len(pids), 1))(*pids)
    o = _SyncOpts(arr, len(pids), os.fsencode(exe) if exe is not None else None, flags,
                  _ActionOpts(0, _ms(quiesce_timeout_ms, "quiesce_timeout_ms"),
                              _ms(timeout_ms, "timeout_ms")), int(workers or 0))
    return o, arr


def sync(all=False, pids=None, exe=None, dry_run=False, timeout_ms=None,
         quiesce_timeout_ms=None, workers=None):
    """Bring processes to the store's state (see xsplice(1) sync).  Returns the
    JSON summary (a dict: "changed", "status", "processes": [...]); when some
    process was busy or failed raises Busy or Error with .summary set."""
    o, keep = _sync_opts(all, pids, exe, _SYNC_JSON | (_SYNC_DRY_RUN if dry_run else 0),
                         timeout_ms, quiesce_timeout_ms, workers)
    rc, msg, text, busy = _fleet_call("xsctl_sync", ctypes.byref(o))
    summary = json.loads(text) if text else None
    if rc < 0:
        _raise(rc, msg, busy, summary)
    return summary


def status(all=False, pids=None, exe=None):
    """Per process: executable, applied payloads, stored payloads it lacks."""
    o, keep = _sync_opts(all, pids, exe, _SYNC_JSON, None, None, None)
    rc, msg, text, busy = _fleet_call("xsctl_status", ctypes.byref(o))
    if rc < 0:
        _raise(rc, msg, busy)
    return json.loads(text)
