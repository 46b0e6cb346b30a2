"""Helpers for the issue-4 feature tests (tests/e2e/test_features_*.py).

The target (ftarget.c) and every payload source live next to this file.
Both are built once per session into a temporary directory: the target
with conftest.TARGET_CFLAGS plus a GNU build-id, each payload with
conftest.PAYLOAD_CFLAGS and packed for that target by the real
build/bin/xsplice-pack.
"""
import hashlib
import json
import re
import struct
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, TARGET_CFLAGS, cc, pack

HERE = Path(__file__).resolve().parent
TARGET_SRC = HERE / "ftarget.c"


class Builder:
    """Builds the target once and each payload once per (name, pack options)."""

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.target = cc(self.dir / "ftarget", TARGET_SRC,
                         flags=[*TARGET_CFLAGS, "-Wall", "-Wextra", "-Werror",
                                "-Wl,--build-id=sha1"])
        self._payloads = {}

    def payload(self, src, out=None, extra=()):
        """Compile features/SRC.c and pack it; returns the .xsplice path.

        `out` names the payload file (default: SRC.xsplice, or SRC-HASH.xsplice
        when `extra` is given); `extra` are additional xsplice-pack arguments
        (--depends, --meta...)."""
        extra = tuple(str(e) for e in extra)
        if out is None:
            out = src
            if extra:
                out += "-" + hashlib.sha1("\0".join(extra).encode()).hexdigest()[:8]
        key = (src, out, extra)
        if key not in self._payloads:
            obj = cc(self.dir / f"{out}.o", HERE / f"{src}.c",
                     flags=[*PAYLOAD_CFLAGS, "-Wall", "-Wextra", "-Werror"], link=False)
            self._payloads[key] = pack(self.dir / f"{out}.xsplice", self.target, obj,
                                       extra=list(extra))
        return self._payloads[key]


@pytest.fixture(scope="session")
def fb(tmp_path_factory):
    """The session's Builder: fb.target, fb.payload(...)."""
    return Builder(tmp_path_factory.mktemp("features"))


# ---- ELF notes -------------------------------------------------------------


def elf_sections(path):
    """{name: bytes} of an ELF64 little-endian file's sections."""
    data = Path(path).read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2, f"{path} is not ELF64"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = hdrs[shstrndx]
    names = data[strtab[4]:strtab[4] + strtab[5]]
    out = {}
    for h in hdrs:
        name = names[h[0]:names.index(b"\0", h[0])].decode()
        out[name] = b"" if h[1] == 8 else data[h[4]:h[4] + h[5]]  # SHT_NOBITS
    return out


def note_id(path, section=".note.gnu.build-id"):
    """The GNU build-id note in `section` of an ELF file, as lowercase hex."""
    sec = elf_sections(path).get(section)
    assert sec, f"{path} has no {section}"
    namesz, descsz, ntype = struct.unpack_from("<III", sec, 0)
    assert ntype == 3, f"{section} of {path} is not NT_GNU_BUILD_ID"
    off = 12 + ((namesz + 3) & ~3)
    return sec[off:off + descsz].hex()


# ---- reading the agent's reports ---------------------------------------------


def list_json(t):
    """`xsplice list --json` parsed: {"payloads": [{"name", "state", ...}]}."""
    p = t.cli("list", "--json", check=0)
    return json.loads(p.stdout)


def payloads(t):
    """{name: list entry} for every payload the agent holds."""
    return {e["name"]: e for e in list_json(t)["payloads"]}


def find_payload(doc, name):
    """The entry of payload `name` in a `list --json` document, or None."""
    return next((e for e in doc["payloads"] if e["name"] == name), None)


def states(t):
    """{name: "APPLIED" | "CHECKED"} for every payload the agent holds."""
    return {n: e["state"] for n, e in payloads(t).items()}


def compact_hex(text):
    """Lowercase text with the usual byte separators removed, so that hex
    bytes shown as "de ad", "de:ad", "0xde 0xad" or "\\xde\\xad" all read
    "dead"."""
    t = text.lower().replace("\\x", "").replace("0x", "")
    return re.sub(r"(?<=[0-9a-f])[ :,-](?=[0-9a-f])", "", t)


def trace(t):
    """The hook trace of the target (and clear it): a list of words."""
    r = t.query("trace")
    assert r.startswith("trace:"), r
    return r[len("trace:"):].split()
