"""Bad input never harms the target: mutated payloads against a live agent.

The core's verifier and linker are fuzzed in-process (tests/fuzz); this file
covers the whole upload path inside a real process, and what happens after a
malformed payload was ACCEPTED and sits there: its .eh_frame is registered
with libgcc's unwinder, which parses it the next time anything in the
program unwinds (a C++ exception, backtrace(), pthread_cancel), and the
agent's own stack check reads it whenever another payload is applied.

The target (robust/rtarget.cc) throws and catches through three frames, calls
backtrace() and cancels a thread on request.  Three real payloads (C++ with
a personality routine and an LSDA; C with -fexceptions, several functions,
data, hooks of every kind, per-thread action, metadata; an expectation and
action hooks) are packed by the real xsplice-pack, then mutated
deterministically: bit flips and overwrites anywhere, and targeted
corruption of .eh_frame records and their relocations, of .xsplice.funcs,
of string tables, symbols, section headers and the ELF header, and
truncations.  Every mutant is uploaded (never applied: arbitrary code may
legitimately crash when it runs; an upload must not) and must be either
accepted (exit 0) or refused (exit 1, one line saying why).  After every
upload the target must answer and hold no mapping or descriptor more than
before; after every accepted one it must still throw+catch, backtrace and
cancel correctly, let a known-good payload apply and revert, and let the
mutant be unloaded.

Seed and counts: SEED = 0x5EED2024 (xor the payload's name), 200 mutants
for each of the 3 payloads (600 in all), drawn from MUTATORS by weight
(about 40% aimed at .eh_frame).  Measured with gcc 12 at commit 01c178f:
p_cxx 63 accepted / 137 refused, p_multi 67 / 133, p_expect 70 / 130, no
harm; the whole file runs in about 4 s.  With the agent of 8c1f953 (before
the core checked .eh_frame), 45 of the 600 accepted mutants killed the
target at its next exception, backtrace or cancel, or at unload (SIGSEGV in
libgcc, or std::terminate when a bogus FDE hid the real one).

A failure names the mutant and copies it to
/tmp/xsplice-robust-<payload>-<n>.xsplice, its target to
/tmp/xsplice-robust-rtarget.
"""
import os
import random
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PAYLOAD_CFLAGS, XSPLICE, cc, pack, run

HERE = Path(__file__).resolve().parent / "robust"

SEED = 0x5EED_2024
MUTANTS_PER_PAYLOAD = 200
UPLOAD_TIMEOUT = 30  # s: a bound for a hung agent, not a timing check

# ---- a tiny ELF64 reader ------------------------------------------------------

EHDR_SHOFF, EHDR_SHNUM, EHDR_SHSTRNDX = 0x28, 0x3C, 0x3E
SHDR = struct.Struct("<IIQQQQIIQQ")  # name type flags addr offset size link info align entsize
SHDR_FIELDS = [("name", 0, "I"), ("type", 4, "I"), ("flags", 8, "Q"), ("addr", 16, "Q"),
               ("offset", 24, "Q"), ("size", 32, "Q"), ("link", 40, "I"), ("info", 44, "I"),
               ("addralign", 48, "Q"), ("entsize", 56, "Q")]
SYM = struct.Struct("<IBBHQQ")  # name info other shndx value size
RELA = struct.Struct("<QQq")  # offset info addend


class Sec:
    def __init__(self, index, hdr_off, fields):
        self.index, self.hdr_off = index, hdr_off
        (self.name_off, self.type, self.flags, self.addr, self.offset, self.size,
         self.link, self.info, self.addralign, self.entsize) = fields
        self.name = ""


def cstr(data, off):
    return data[off:data.index(b"\0", off)].decode("latin-1")


class Elf:
    """Section headers of a well-formed ELF64 little-endian file."""

    def __init__(self, data):
        self.data = bytes(data)
        shoff, = struct.unpack_from("<Q", data, EHDR_SHOFF)
        shnum, shstrndx = struct.unpack_from("<HH", data, EHDR_SHNUM)
        self.shoff = shoff
        self.secs = [Sec(i, shoff + i * SHDR.size, SHDR.unpack_from(data, shoff + i * SHDR.size))
                     for i in range(shnum)]
        strs = self.secs[shstrndx]
        for s in self.secs:
            s.name = cstr(data, strs.offset + s.name_off)

    def sec(self, name):
        return next((s for s in self.secs if s.name == name), None)

    def symbols(self):
        st = self.sec(".symtab")
        strtab = self.secs[st.link]
        for i in range(st.size // SYM.size):
            name, _, _, shndx, value, size = SYM.unpack_from(self.data, st.offset + i * SYM.size)
            yield i, cstr(self.data, strtab.offset + name), shndx, value, size

    def symbol_bytes(self, name, n):
        """The first n bytes of a defined symbol of a linked file."""
        for _, nm, shndx, value, _ in self.symbols():
            if nm == name and shndx:
                s = self.secs[shndx]
                off = s.offset + value - s.addr
                return self.data[off:off + n]
        raise KeyError(name)

    def relas_for(self, sec):
        """(file offset, r_offset, type, symidx, addend) of each relocation
        of section `sec`."""
        for rs in self.secs:
            if rs.type == 4 and rs.info == sec.index:  # SHT_RELA
                for i in range(rs.size // RELA.size):
                    off = rs.offset + i * RELA.size
                    r_off, info, add = RELA.unpack_from(self.data, off)
                    yield off, r_off, info & 0xFFFFFFFF, info >> 32, add


def uleb(data, pos):
    v = shift = 0
    while True:
        b = data[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, pos


def eh_records(elf):
    """Records of the .eh_frame section, as gcc writes them (32-bit lengths,
    'z' augmentation, 4-byte pc_begin/pc_range): dicts of file offsets."""
    s = elf.sec(".eh_frame")
    d, end = elf.data, s.offset + s.size
    recs, cies, pos = [], {}, s.offset
    while pos + 8 <= end:
        length, cid = struct.unpack_from("<II", d, pos)
        if length == 0:
            break
        r = {"at": pos, "length": length, "end": pos + 4 + length}
        if cid == 0:
            aug = pos + 9
            aug_end = d.index(b"\0", aug)
            p = aug_end + 1
            _, p = uleb(d, p)  # code alignment
            _, p = uleb(d, p)  # data alignment (sleb: same length)
            p += 1  # return address column (version 1)
            _, data_at = uleb(d, p)
            r.update(kind="CIE", aug=aug, aug_str=d[aug:aug_end], aug_len=p, aug_data=data_at,
                     insns=data_at + (uleb(d, p)[0]))
            cies[pos] = r
        else:
            cie = cies[pos + 4 - cid]
            r.update(kind="FDE", cie_ptr=pos + 4, pc_begin=pos + 8, pc_range=pos + 12,
                     cie=cie, insns=uleb(d, pos + 16)[1])
        recs.append(r)
        pos = r["end"]
    return recs


# ---- the mutations --------------------------------------------------------------

INTERESTING32 = [0, 1, 2, 3, 4, 7, 8, 0x10, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF,
                 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFE, 0xFFFFFFFF]
INTERESTING64 = INTERESTING32 + [1 << 32, 1 << 40, 0x7FFFFFFFFFFFFFFF, 1 << 63, (1 << 64) - 1]
# DW_EH_PE encodings: valid, valid but unusual (datarel, textrel, aligned,
# indirect), and undefined low nibbles
EH_ENCODINGS = [0x00, 0x01, 0x03, 0x04, 0x09, 0x0A, 0x0B, 0x0C, 0x0F, 0x1B, 0x1C, 0x20, 0x30,
                0x40, 0x50, 0x70, 0x80, 0x9B, 0xFF]


class Mutant:
    def __init__(self, data, what):
        self.data, self.what = bytearray(data), what

    def put(self, off, fmt, value):
        size = struct.calcsize("<" + fmt)
        value &= (1 << (8 * size)) - 1
        struct.pack_into("<" + fmt, self.data, off, value)
        return value


def m_bitflip(rng, elf):
    m = Mutant(elf.data, "")
    flips = []
    for _ in range(rng.randint(1, 4)):
        off, bit = rng.randrange(len(m.data)), rng.randrange(8)
        m.data[off] ^= 1 << bit
        flips.append(f"{off:#x}.{bit}")
    m.what = "flip bits " + " ".join(flips)
    return m


def m_overwrite(rng, elf):
    m = Mutant(elf.data, "")
    n = rng.randint(1, 8)
    off = rng.randrange(len(m.data) - n)
    new = bytes(rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)]) for _ in range(n))
    m.data[off:off + n] = new
    m.what = f"overwrite {off:#x} with {new.hex()}"
    return m


def m_truncate(rng, elf):
    n = rng.choice([rng.randrange(1, 64), rng.randrange(64, len(elf.data)),
                    elf.shoff + rng.randrange(0, len(elf.data) - elf.shoff)])
    return Mutant(elf.data[:n], f"truncate to {n:#x} of {len(elf.data):#x} bytes")


def m_ehdr(rng, elf):
    m = Mutant(elf.data, "")
    field, off, fmt = rng.choice([("e_type", 0x10, "H"), ("e_machine", 0x12, "H"),
                                  ("e_version", 0x14, "I"), ("e_shoff", EHDR_SHOFF, "Q"),
                                  ("e_shentsize", 0x3A, "H"), ("e_shnum", EHDR_SHNUM, "H"),
                                  ("e_shstrndx", EHDR_SHSTRNDX, "H"), ("EI_CLASS", 4, "B"),
                                  ("EI_DATA", 5, "B"), ("EI_OSABI", 7, "B")])
    v = rng.choice(INTERESTING32 + [rng.getrandbits(16)])
    m.put(off, fmt, v)
    m.what = f"ELF header {field} = {v:#x}"
    return m


def m_shdr(rng, elf):
    m = Mutant(elf.data, "")
    s = rng.choice(elf.secs[1:])
    field, off, fmt = rng.choice(SHDR_FIELDS)
    cur = getattr(s, "name_off" if field == "name" else field)
    v = rng.choice([rng.choice(INTERESTING64 if fmt == "Q" else INTERESTING32),
                    cur + rng.choice([-8, -4, -1, 1, 4, 8, 0x1000]),
                    len(elf.data) - rng.randrange(0, 16), rng.randrange(len(elf.secs) + 2),
                    rng.getrandbits(8 * struct.calcsize(fmt))])
    v = m.put(s.hdr_off + off, fmt, v)
    m.what = f"section [{s.index}] {s.name} sh_{field} {cur:#x} -> {v:#x}"
    return m


def m_symbol(rng, elf):
    m = Mutant(elf.data, "")
    st = elf.sec(".symtab")
    i = rng.randrange(1, st.size // SYM.size)
    field, off, fmt = rng.choice([("st_name", 0, "I"), ("st_info", 4, "B"), ("st_other", 5, "B"),
                                  ("st_shndx", 6, "H"), ("st_value", 8, "Q"), ("st_size", 16, "Q")])
    v = rng.choice([rng.choice(INTERESTING64 if fmt == "Q" else INTERESTING32),
                    rng.randrange(len(elf.secs) + 2), 0xFFF1, 0xFFF2, 0xFF00])
    m.put(st.offset + i * SYM.size + off, fmt, v)
    m.what = f"symbol {i} {field} = {v:#x}"
    return m


def rela_field(rng, m, off, r_off, typ, sym, add, what):
    field = rng.choice(["r_offset", "type", "sym", "addend"])
    if field == "r_offset":
        v = rng.choice([r_off + rng.choice([-8, -4, -1, 1, 3, 4]), rng.choice(INTERESTING64)])
        m.put(off, "Q", v)
    elif field == "type":
        v = rng.choice([0, 1, 2, 4, 9, 10, 11, 24, 26, 41, 42, 43, rng.randrange(256)])
        m.put(off + 8, "I", v)
    elif field == "sym":
        v = rng.choice([0, sym + 1, sym - 1, 0xFFFF, 0xFFFFFFFF, rng.randrange(200)])
        m.put(off + 12, "I", v)
    else:
        v = rng.choice([add + rng.choice([-0x100000, -64, -5, -1, 1, 4, 0x40, 0x100000]),
                        rng.choice(INTERESTING64)])
        m.put(off + 16, "Q", v)
    m.what = (f"{what}: relocation at {r_off:#x} (type {typ} sym {sym} addend {add:#x}) "
              f"{field} = {v:#x}")
    return m


def m_rela(rng, elf):
    secs = [s for s in elf.secs if s.type == 4 and s.size]
    s = rng.choice(secs)
    i = rng.randrange(s.size // RELA.size)
    off = s.offset + i * RELA.size
    r_off, info, add = RELA.unpack_from(elf.data, off)
    return rela_field(rng, Mutant(elf.data, ""), off, r_off, info & 0xFFFFFFFF, info >> 32, add,
                      s.name)


def m_funcs(rng, elf):
    m = Mutant(elf.data, "")
    s = elf.sec(".xsplice.funcs")
    base = s.offset + 80 * rng.randrange(s.size // 80)
    field, off, fmt = rng.choice([("new_size", 24, "I"), ("old_size", 28, "I"),
                                  ("version", 32, "B"), ("flags", 33, "B"), ("reserved0", 34, "H"),
                                  ("expect.enabled", 36, "B"), ("expect.len", 37, "B"),
                                  ("expect.data", 38 + rng.randrange(31), "B"),
                                  ("expect.reserved", 69, "B"), ("reserved1", 70, "Q"),
                                  ("name", 0, "Q"), ("new_addr", 8, "Q"), ("old_addr", 16, "Q")])
    v = rng.choice(INTERESTING32 + [rng.getrandbits(8)])
    m.put(base + off, fmt, v)
    m.what = f".xsplice.funcs entry at {base - s.offset:#x}: {field} = {v:#x}"
    return m


def m_strings(rng, elf):
    m = Mutant(elf.data, "")
    s = rng.choice([s for s in elf.secs if s.name in (".strtab", ".shstrtab", ".modinfo")])
    how = rng.choice(["char", "unterminate", "last"])
    if how == "last":
        off = s.offset + s.size - 1
    else:
        zeros = [i for i in range(s.offset, s.offset + s.size) if elf.data[i] == 0]
        off = rng.choice(zeros) if how == "unterminate" \
            else rng.randrange(s.offset, s.offset + s.size)
    v = rng.choice([ord("A"), 0, 0x7F, 0x80, 0xFF, ord("\n"), rng.randrange(1, 256)])
    m.data[off] = v
    m.what = f"{s.name} byte {off - s.offset:#x} ({how}) = {v:#x}"
    return m


def m_notes(rng, elf):
    m = Mutant(elf.data, "")
    s = rng.choice([s for s in elf.secs if s.type == 7])  # SHT_NOTE
    off = rng.randrange(s.size)
    v = rng.choice([0, 0xFF, rng.randrange(256), elf.data[s.offset + off] ^ 1])
    m.data[s.offset + off] = v
    m.what = f"note {s.name} byte {off:#x} = {v:#x}"
    return m


def m_eh_record(rng, elf):
    """Structural corruption of one .eh_frame record."""
    m = Mutant(elf.data, "")
    recs = eh_records(elf)
    r = rng.choice(recs)
    s = elf.sec(".eh_frame")
    rel = lambda off: off - s.offset  # noqa: E731
    kinds = ["length", "insns", "terminator"]
    kinds += ["version", "aug", "aug_len", "encoding", "code_align", "ra"] if r["kind"] == "CIE" \
        else ["cie_ptr", "pc_range"]
    k = rng.choice(kinds)
    if k == "length":
        v = rng.choice([0, 1, 3, 4, 0xFFFFFFFF, 0xFFFFFFF0, r["length"] + 4, r["length"] - 4,
                        r["length"] + 1, s.size, s.size * 2, rng.getrandbits(32)])
        m.put(r["at"], "I", v)
    elif k == "terminator":  # the table ends early
        v = 0
        m.put(r["at"], "I", 0)
    elif k == "insns":
        n = rng.randint(1, 4)
        at = rng.randrange(r["insns"], max(r["end"] - n, r["insns"]) + 1)
        new = bytes(rng.randrange(256) for _ in range(n))
        m.data[at:at + n] = new
        v = int.from_bytes(new, "little")
    elif k == "cie_ptr":
        cur = struct.unpack_from("<I", elf.data, r["cie_ptr"])[0]
        v = rng.choice([cur + 4, cur - 4, cur + 1, r["cie_ptr"] - s.offset + 4, 0x7FFFFFFF,
                        0xFFFFFFFF, 0xFFFFFFF8, rng.getrandbits(32)])
        m.put(r["cie_ptr"], "I", v)
    elif k == "pc_range":
        v = rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x10000000, 0x1000, rng.getrandbits(32)])
        m.put(r["pc_range"], "I", v)
    elif k == "version":
        v = rng.choice([0, 2, 3, 4, 0xFF])
        m.put(r["at"] + 8, "B", v)
    elif k == "aug":
        at = rng.randrange(r["aug"], r["aug"] + len(r["aug_str"]) + 1)
        v = ord(rng.choice("zPLRSBeh?\0\x01"))
        m.put(at, "B", v)
    elif k == "aug_len":
        v = rng.choice([0, 1, 0x7F, rng.randrange(0x80)])
        m.put(r["aug_len"], "B", v)
    elif k == "encoding":  # a pointer encoding (R, L or P's), or the personality pointer
        at = rng.randrange(r["aug_data"], r["insns"])
        v = rng.choice(EH_ENCODINGS + [rng.randrange(256)])
        m.put(at, "B", v)
    elif k == "code_align":
        v = rng.choice([0, 0x7F, 0x80])
        m.put(r["aug"] + len(r["aug_str"]) + 1, "B", v)
    else:  # return address column
        v = rng.choice([0x11, 0x20, 0x7F, 0xFF])
        m.put(r["aug_len"] - 1, "B", v)
    m.what = f".eh_frame {r['kind']} at {rel(r['at']):#x}: {k} = {v:#x}"
    return m


def m_eh_rela(rng, elf):
    """Corrupt a relocation of .eh_frame: pc_begin, personality, LSDA."""
    s = elf.sec(".eh_frame")
    off, r_off, typ, sym, add = rng.choice(list(elf.relas_for(s)))
    return rela_field(rng, Mutant(elf.data, ""), off, r_off, typ, sym, add, ".rela.eh_frame")


def m_eh_size(rng, elf):
    """The section header of .eh_frame: a size that cuts or overruns it."""
    m = Mutant(elf.data, "")
    s = elf.sec(".eh_frame")
    v = rng.choice([rng.randrange(1, s.size), s.size + rng.choice([1, 4, 8, 0x100]), 4, 8])
    m.put(s.hdr_off + 32, "Q", v)
    m.what = f".eh_frame sh_size {s.size:#x} -> {v:#x}"
    return m


# (mutator, weight): .eh_frame gets about 40% of the mutants
MUTATORS = [(m_eh_record, 8), (m_eh_rela, 4), (m_eh_size, 2), (m_bitflip, 4), (m_overwrite, 4),
            (m_truncate, 2), (m_ehdr, 2), (m_shdr, 4), (m_symbol, 3), (m_rela, 3), (m_funcs, 3),
            (m_strings, 3), (m_notes, 1)]


def mutants(data, seed, n):
    rng = random.Random(seed)
    elf = Elf(data)
    fns, weights = zip(*MUTATORS)
    for _ in range(n):
        fn = rng.choices(fns, weights)[0]
        m = fn(rng, elf)
        m.kind = fn.__name__[2:]
        yield m


# ---- building --------------------------------------------------------------------

@pytest.fixture(scope="session")
def rb(tmp_path_factory):
    """The target and the payloads: rb["target"], rb["p_cxx"], ..."""
    d = tmp_path_factory.mktemp("robust")
    target = d / "rtarget"
    # from the source's directory: the build-id (hence a kept mutant's
    # target) does not depend on where the tests run
    run(["g++", "-std=gnu++17", "-O2", "-g", "-ffunction-sections", "-fdata-sections", "-pthread",
         "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=sha1", "-o", target, "rtarget.cc"],
        cwd=HERE)
    head = Elf(target.read_bytes()).symbol_bytes("compute", 4)
    out = {"target": target}
    # the C++ payload: patch.h's designated initializers leave fields out on
    # purpose, which g++ -Wextra reports
    obj = d / "p_cxx.o"
    run(["g++", "-std=gnu++17", *PAYLOAD_CFLAGS, "-Wall", "-Werror", "-c", "-o", obj,
         HERE / "p_cxx.cc"])
    out["p_cxx"] = pack(d / "p_cxx.xsplice", target, obj)
    cflags = [*PAYLOAD_CFLAGS, "-fexceptions", "-fasynchronous-unwind-tables", "-Wall", "-Wextra",
              "-Werror", "-DCOMPUTE_HEAD=\"" + "".join(f"\\x{b:02x}" for b in head) + "\""]
    for name in ("p_multi", "p_expect", "p_probe"):
        obj = cc(d / f"{name}.o", HERE / f"{name}.c", flags=cflags, link=False)
        out[name] = pack(d / f"{name}.xsplice", target, obj)
    return out


# ---- what "unharmed" means -------------------------------------------------------


def near_maps(t, lo_hi):
    """The target's mappings within 4 GiB of its executable, [heap] aside:
    where payloads are placed."""
    lo, hi = lo_hi
    maps = []
    for line in Path(f"/proc/{t.pid}/maps").read_text().splitlines():
        rng, rest = line.split(" ", 1)
        a, b = (int(x, 16) for x in rng.split("-"))
        if b > lo - (4 << 30) and a < hi + (4 << 30) and not line.endswith("[heap]"):
            maps.append(line)
    return maps


def exe_range(t):
    exe = os.path.realpath(f"/proc/{t.pid}/exe")
    spans = [tuple(int(x, 16) for x in line.split(" ", 1)[0].split("-"))
             for line in Path(f"/proc/{t.pid}/maps").read_text().splitlines()
             if line.endswith(exe)]
    return min(a for a, _ in spans), max(b for _, b in spans)


def open_fds(pid):
    """fd -> what it is (so that a leak says what leaked)."""
    fds = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            fds.append(f"{fd}:{os.readlink(f'/proc/{pid}/fd/{fd}')}")
        except OSError:  # closed meanwhile
            pass
    return fds


def snapshot(t, lo_hi):
    return near_maps(t, lo_hi), open_fds(t.pid)


def settled(t, lo_hi, base, bound=10.0):
    """The snapshot once it is back to `base`, or after `bound` seconds (a
    bound for a real leak, not a timing check): the agent closes a client's
    connection when it sees the client go, just after the client exited."""
    end = time.monotonic() + bound
    while True:
        s = snapshot(t, lo_hi)
        if s == base or time.monotonic() > end:
            return s
        time.sleep(0.01)


def check_unwinding(t):
    """The three ways the program's own code makes libgcc read every
    registered .eh_frame."""
    assert t.query("throw 7") == "caught 7"
    assert re.fullmatch(r"bt ok \d+", t.query("bt"))
    assert t.query("cancel") == "cancelled 1 cleanup 1"


class Upload:
    """Upload one mutant, judge the outcome; on failure keep the file."""

    def __init__(self, t, target, label):
        self.t, self.target, self.label = t, target, label

    def keep(self, path, n):
        """Copy the mutant, and the target it was packed for, to /tmp."""
        dst = Path(f"/tmp/xsplice-robust-{self.label}-{n}.xsplice")
        shutil.copy(path, dst)
        shutil.copy(self.target, "/tmp/xsplice-robust-rtarget")
        return f"{dst} (target: /tmp/xsplice-robust-rtarget)"

    def __call__(self, path, name, n, what):
        t = self.t
        try:
            # bytes: a message must be printable, and a test that decodes
            # it as UTF-8 would only crash on one that is not
            p = run([XSPLICE, "-p", t.pid, "upload", name, path], check=False, text=False,
                    env=t.env_for_cli(), timeout=UPLOAD_TIMEOUT)
            p.raw_stderr, p.stderr = p.stderr, p.stderr.decode("utf-8", "backslashreplace")
        except subprocess.TimeoutExpired:
            raise AssertionError(f"upload of mutant {n} ({what}) hung; "
                                 f"kept as {self.keep(path, n)}")
        alive = t.proc.poll() is None
        if not alive or p.returncode not in (0, 1):
            err = t.proc.stderr.read() if not alive else ""
            raise AssertionError(
                f"mutant {n} ({what}): upload exited {p.returncode}, target "
                f"{'alive' if alive else f'died rc={t.proc.returncode}: {err}'}\n"
                f"stderr: {p.stderr}\nkept as {self.keep(path, n)}")
        return p


# ---- the tests -------------------------------------------------------------------


def test_the_payloads_are_real(rb, start):
    """The unmutated payloads upload, apply, work, unwind, revert and unload,
    and carry what the mutations aim at."""
    for name in ("p_cxx", "p_multi", "p_expect"):
        elf = Elf(rb[name].read_bytes())
        for sec in (".eh_frame", ".xsplice.funcs", ".modinfo", ".symtab", ".strtab"):
            assert elf.sec(sec) and elf.sec(sec).size, (name, sec)
        assert any(r["kind"] == "FDE" for r in eh_records(elf)), name
        assert list(elf.relas_for(elf.sec(".eh_frame"))), name
    cxx = eh_records(Elf(rb["p_cxx"].read_bytes()))
    cie_augs = {r["aug_str"] for r in cxx if r["kind"] == "CIE"}
    assert b"zPLR" in cie_augs  # a personality routine and an LSDA

    t = start([rb["target"]])
    check_unwinding(t)
    for name, calc in (("p_cxx", "calc 12"), ("p_multi", "calc 28"), ("p_expect", "calc 50")):
        t.cli("upload", name, rb[name], check=0)
        check_unwinding(t)
        t.cli("apply", name, check=0)
        assert t.query("calc 4") == calc
        check_unwinding(t)
        if name == "p_cxx":  # the payload's own handler catches
            assert t.query("calc -4") == "calc -1"
        t.cli("revert", name, check=0)
        t.cli("unload", name, check=0)
        assert t.query("calc 4") == "calc 8"
    assert t.cli("list", check=0).stdout.strip() == "no payloads loaded"


@pytest.mark.parametrize("payload", ["p_cxx", "p_multi", "p_expect"])
def test_mutated_payloads_never_harm_the_target(rb, start, tmp_path, payload):
    t = start([rb["target"]])
    # the agent's socket exists before main() runs: once the target
    # answers, its own descriptors (a pipe) are open and in the base
    assert t.query("ping") == "pong"
    lo_hi = exe_range(t)
    base = snapshot(t, lo_hi)
    upload = Upload(t, rb["target"], payload)
    data = rb[payload].read_bytes()
    seed = SEED ^ int.from_bytes(payload.encode(), "little")
    accepted = refused = 0
    tally = {}  # mutator -> [accepted, refused]
    for n, m in enumerate(mutants(data, seed, MUTANTS_PER_PAYLOAD)):
        path = tmp_path / f"m{n}.xsplice"
        path.write_bytes(m.data)
        name = f"m{n}"
        p = upload(path, name, n, m.what)
        ctx = f"mutant {n} ({m.what})"
        try:
            assert t.query("ping") == "pong", ctx
            tally.setdefault(m.kind, [0, 0])[p.returncode] += 1
            if p.returncode == 1:
                refused += 1
                msg = p.stderr.strip()
                assert msg.startswith(f"xsplice: upload {name}: ") and "\n" not in msg \
                    and len(msg) > len(f"xsplice: upload {name}: ") + 5, (ctx, p.stderr)
                # no control byte, whatever the payload's names hold (xs_err_set
                # replaces them; bytes >= 0x80 pass, for UTF-8 names)
                assert not any(b < 0x20 or b == 0x7F for b in p.raw_stderr.rstrip(b"\n")), \
                    (ctx, msg)
            else:
                accepted += 1
                # the unwinder parses the mutant's .eh_frame now
                check_unwinding(t)
                # the stack check reads every payload's unwind tables
                t.cli("upload", "probe", rb["p_probe"], check=0)
                t.cli("apply", "probe", check=0)
                assert t.query("label") == "label probe", ctx
                t.cli("revert", "probe", check=0)
                t.cli("unload", "probe", check=0)
                assert t.query("label") == "label plain", ctx
                t.cli("unload", name, check=0)
                check_unwinding(t)
            assert settled(t, lo_hi, base) == base, ctx
        except AssertionError as e:
            raise AssertionError(f"{ctx}: kept as {upload.keep(path, n)}: {e}") from e
    assert t.cli("list", check=0).stdout.strip() == "no payloads loaded"
    assert t.query("calc 4") == "calc 8" and t.query("label") == "label plain"
    print(f"\n{payload}: {accepted} accepted, {refused} refused of {MUTANTS_PER_PAYLOAD}; "
          "by mutator (accepted/refused): "
          + ", ".join(f"{k} {a}/{r}" for k, (a, r) in sorted(tally.items())))
    # a fair share of each: the mutations reach past the first checks, and
    # the accepted path (the one that can hurt later) is exercised
    assert refused >= MUTANTS_PER_PAYLOAD // 4 and accepted >= MUTANTS_PER_PAYLOAD // 10, \
        (accepted, refused)


def break_eh_frame(elf, how):
    """A payload whose .eh_frame is structurally broken in one way."""
    m = Mutant(elf.data, how)
    recs = eh_records(elf)
    s = elf.sec(".eh_frame")
    cie = next(r for r in recs if r["kind"] == "CIE")
    fde = next(r for r in recs if r["kind"] == "FDE")
    if how == "cie-length-past-section":
        m.put(cie["at"], "I", s.size + 0x100)
    elif how == "fde-cie-pointer-outside":
        # the pointer is counted back from its own field: past the start
        m.put(fde["cie_ptr"], "I", fde["cie_ptr"] - s.offset + 0x40)
    elif how == "fde-pc-range-outside-code":
        m.put(fde["pc_range"], "I", 0x40000000)
    elif how == "fde-pc-begin-outside-code":
        off, r_off, typ, sym, add = next(r for r in elf.relas_for(s)
                                         if r[1] == fde["pc_begin"] - s.offset)
        m.put(off + 16, "Q", add + 0x40000000)
    elif how == "unknown-pointer-encoding":
        assert cie["aug_str"].endswith(b"R")  # its last augmentation byte
        m.put(cie["insns"] - 1, "B", 0x0F)  # the FDE pointer encoding
    return m


@pytest.mark.parametrize("how", ["cie-length-past-section", "fde-cie-pointer-outside",
                                 "fde-pc-range-outside-code", "fde-pc-begin-outside-code",
                                 "unknown-pointer-encoding"])
def test_structurally_broken_eh_frame_is_refused(rb, start, tmp_path, how):
    """libgcc trusts a registered .eh_frame (it reads past a bad length,
    follows a bad CIE pointer, aborts on an encoding it does not know): the
    upload must refuse such a payload, naming .eh_frame."""
    elf = Elf(rb["p_multi"].read_bytes())
    m = break_eh_frame(elf, how)
    path = tmp_path / f"{how}.xsplice"
    path.write_bytes(m.data)
    t = start([rb["target"]])
    assert t.query("ping") == "pong"  # main() has opened its pipe
    base = snapshot(t, exe_range(t))
    p = Upload(t, rb["target"], how)(path, "broken", 0, how)
    assert p.returncode == 1, f"{how} accepted; stderr: {p.stderr}"
    assert ".eh_frame" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert t.query("ping") == "pong"
    check_unwinding(t)
    assert settled(t, exe_range(t), base) == base
