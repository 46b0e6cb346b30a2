"""xsplice-pack, end to end, and the link test of the foundation issue.

The link test: the SDK example payload (examples/sdk/fix.c) is packed
against build/tests/link/linktest (unstripped, with a build-id), and a
STRIPPED copy of that program links the payload into itself with the core
(verify, layout, near placement, place, mprotect) and calls the new
function directly.  The new function's results show that it called the
target's static clamp(), read its static max_qty and called libc's strtol().

The rest checks what xsplice-pack writes (notes, symrefs, function sizes,
the payload's build-id) and that every refusal says what is wrong.
"""
import hashlib
import re
import shutil
import struct
from pathlib import Path

import pytest

from conftest import BUILD, PACK, PAYLOAD_CFLAGS, ROOT, TARGET_CFLAGS, cc, pack, run, \
    strip_copy

SDK = ROOT / "examples" / "sdk"
LINKTEST = BUILD / "tests" / "link" / "linktest"
SHOP = BUILD / "examples" / "sdk" / "shop"
BUILD_ID = ["-Wl,--build-id=sha1"]
PADDED = 2  # XSPLICE_FUNC_PADDED


# ---- a minimal ELF64 reader: sections by name, symbols --------------------------------

class Elf:
    def __init__(self, path):
        self.data = Path(path).read_bytes()
        d = self.data
        assert d[:4] == b"\x7fELF" and d[4] == 2, f"{path}: not ELF64"
        self.machine = struct.unpack_from("<H", d, 18)[0]
        shoff, = struct.unpack_from("<Q", d, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3a)
        self.sh = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize)
                   for i in range(shnum)]
        stroff = self.sh[shstrndx][4]
        self.names = [self._str(stroff, s[0]) for s in self.sh]

    def _str(self, off, idx):
        end = self.data.index(b"\0", off + idx)
        return self.data[off + idx:end].decode()

    def section(self, name):
        i = self.names.index(name)
        return self.sh[i], self.data[self.sh[i][4]:self.sh[i][4] + self.sh[i][5]]

    def has(self, name):
        return name in self.names

    def note_id(self, name):
        _, d = self.section(name)
        namesz, descsz, typ = struct.unpack_from("<III", d, 0)
        assert (namesz, typ, d[12:16]) == (4, 3, b"GNU\0")
        return d[16:16 + descsz]

    def symbols(self):
        """[(name, value, size, type, bind, shndx, file)] of .symtab, files tracked."""
        i = self.names.index(".symtab")
        sh = self.sh[i]
        stroff = self.sh[sh[6]][4]
        out, cur = [], ""
        for k in range(sh[5] // 24):
            name, info, _, shndx, value, size = struct.unpack_from("<IBBHQQ", self.data,
                                                                   sh[4] + 24 * k)
            nm = self._str(stroff, name)
            if info & 15 == 4:  # STT_FILE
                cur = nm
            out.append((nm, value, size, info & 15, info >> 4, shndx,
                        cur if info >> 4 == 0 else None))
        return out

    def funcs(self):
        """.xsplice.funcs entries as (new_size, old_size, version, flags)."""
        _, d = self.section(".xsplice.funcs")
        return [struct.unpack_from("<IIBB", d, 80 * i + 24) for i in range(len(d) // 80)]

    def symrefs(self):
        """{payload symbol name: offset}."""
        _, d = self.section(".xsplice.symrefs")
        syms = self.symbols()
        return {syms[idx][0]: off for idx, _, off in struct.iter_unpack("<IIQ", d)}


def elf_build_id(path):
    return Elf(path).note_id(".note.gnu.build-id")


def payload_obj(tmp_path, src, name=None, flags=()):
    """Compile a payload source (a path, or C text) into an object."""
    if not isinstance(src, Path):
        p = tmp_path / f"{name}.c"
        p.write_text(src)
        src = p
    return cc(tmp_path / f"{name or src.stem}.o", src,
              flags=[*PAYLOAD_CFLAGS, "-Wall", "-Wextra", "-Werror", *flags], link=False)


def pack_fails(tmp_path, target, *objs, extra=()):
    """Run xsplice-pack expecting exit 1; return its message; no file is left."""
    out = tmp_path / "fail.xsplice"
    p = run([PACK, "-t", target, "-o", out, *extra, *objs], check=False)
    assert p.returncode == 1, f"xsplice-pack exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert not out.exists()
    assert not list(tmp_path.glob("fail.xsplice.*")), "temporary file left behind"
    return p.stderr


# ---- the link test ------------------------------------------------------------------------

@pytest.mark.parametrize("flags", [[], ["-g"], ["-O0"], ["-fcf-protection=full"],
                                   ["-fno-pic"]], ids=lambda f: " ".join(f) or "default")
def test_link_sdk_payload_into_stripped_target(tmp_path, flags):
    fix = payload_obj(tmp_path, SDK / "fix.c", flags=flags)
    payload = pack(tmp_path / "fix.xsplice", LINKTEST, fix)
    prog = strip_copy(LINKTEST, tmp_path / "linktest")
    assert not Elf(prog).has(".symtab"), "the copy under test must be stripped"

    # the payload records where the target's symbols are: parse_qty (global),
    # clamp and max_qty (statics of app.c, not of linktest.c)
    syms = Elf(LINKTEST).symbols()
    want = {n: v for n, v, _, _, _, _, f in syms
            if n in ("parse_qty", "clamp", "max_qty") and f in (None, "app.c")}
    assert Elf(payload).symrefs() == want

    out = run([prog, payload, "5", "-5", "abc", "7x", "5000", "max=10", "50", "8"]).stdout
    lines = out.splitlines()
    assert lines[0] == "target " + elf_build_id(LINKTEST).hex()
    assert "old_addr ok" in lines
    res = {m[0]: (int(m[1]), int(m[2]))
           for m in re.findall(r"^(\S+) old=(-?\d+) new=(-?\d+)$", out, re.M)}
    # old code: atoi, upper bound only; new code: strtol, clamp to [0, max_qty]
    assert res["5"] == (5, 5)
    assert res["-5"] == (-5, 0)          # clamp() from app.c (linktest's returns lo - 1)
    assert res["abc"] == (0, -1)         # strtol() saw no digits
    assert res["7x"] == (7, -1)          # strtol() stopped before the end
    assert res["5000"] == (1000, 1000)   # max_qty's initial value
    assert res["50"] == (10, 10)         # max_qty read live after set_max_qty(10)
    assert res["8"] == (8, 8)


def test_link_refuses_payload_for_another_build(tmp_path):
    fix = payload_obj(tmp_path, SDK / "fix.c")
    payload = pack(tmp_path / "fix.xsplice", SHOP, fix)
    p = run([strip_copy(LINKTEST, tmp_path / "linktest"), payload, "5"], check=False)
    assert p.returncode == 1
    assert "another build-id" in p.stderr


# ---- what xsplice-pack writes ---------------------------------------------------------------

def test_pack_sdk_example_contents(tmp_path):
    fix = payload_obj(tmp_path, SDK / "fix.c")
    out = pack(tmp_path / "fix.xsplice", SHOP, fix,
               extra=["--meta", "cve=CVE-2026-0001", "--meta", "source=fix.c"])
    p = Elf(out)
    assert p.note_id(".xsplice.target") == elf_build_id(SHOP)
    assert not p.has(".xsplice.symhints") and not p.has(".xsplice.depends")
    modinfo = p.section(".modinfo")[1].split(b"\0")
    for kv in (b"name=shop-qty", b"version=1", b"cve=CVE-2026-0001", b"source=fix.c"):
        assert kv in modinfo

    # own build-id: BLAKE2b-160 (libsodium generichash) of the file with the id zeroed
    sh, _ = p.section(".note.gnu.build-id")
    raw = bytearray(p.data)
    own = bytes(raw[sh[4] + 16:sh[4] + 36])
    raw[sh[4] + 16:sh[4] + 36] = bytes(20)
    assert own == hashlib.blake2b(bytes(raw), digest_size=20).digest()

    # sizes: old from the target's symbol, new from the payload's function
    tsyms = {(n, f): (v, s) for n, v, s, _, _, _, f in Elf(SHOP).symbols()}
    new = [s for n, _, s, t, _, _, _ in p.symbols() if n == "parse_qty_fixed"]
    [(new_size, old_size, version, flags)] = p.funcs()
    assert (new_size, old_size, version, flags) == (new[0], tsyms[("parse_qty", None)][1], 1, 0)
    refs = p.symrefs()
    assert refs["clamp"] == tsyms[("clamp", "app.c")][0]
    assert refs["max_qty"] == tsyms[("max_qty", "app.c")][0]
    assert "strtol" not in refs  # left for the agent: libc


def test_pack_is_reproducible(tmp_path):
    fix = payload_obj(tmp_path, SDK / "fix.c")
    a = pack(tmp_path / "a.xsplice", SHOP, fix).read_bytes()
    b = pack(tmp_path / "b.xsplice", SHOP, fix).read_bytes()
    assert a == b


def test_pack_verbose_says_where_symbols_went(tmp_path):
    fix = payload_obj(tmp_path, SDK / "fix.c")
    p = run([PACK, "-v", "-t", SHOP, "-o", tmp_path / "fix.xsplice", fix])
    assert re.search(r"clamp\s+-> .*app\.c#clamp 0x[0-9a-f]+ \(static", p.stderr)
    assert re.search(r"max_qty\s+-> .*app\.c#max_qty", p.stderr)
    assert re.search(r"strtol\s+not in the target", p.stderr)


def test_pack_depends(tmp_path):
    fix = payload_obj(tmp_path, SDK / "fix.c")
    base = pack(tmp_path / "base.xsplice", SHOP, fix)
    on_file = Elf(pack(tmp_path / "f.xsplice", SHOP, fix, extra=["--depends", base]))
    assert on_file.note_id(".xsplice.depends") == elf_build_id(base)
    on_hex = Elf(pack(tmp_path / "h.xsplice", SHOP, fix, extra=["--depends", "00ff10"]))
    assert on_hex.note_id(".xsplice.depends") == bytes.fromhex("00ff10")
    assert "--depends nothex" in pack_fails(tmp_path, SHOP, fix, extra=["--depends", "nothex"])


def test_pack_separate_debug_file(tmp_path):
    """A stripped target: symbols from --debug-file or its .gnu_debuglink."""
    fix = payload_obj(tmp_path, SDK / "fix.c")
    dbg = tmp_path / "shop.debug"
    run(["objcopy", "--only-keep-debug", SHOP, dbg])
    stripped = strip_copy(SHOP, tmp_path / "shop")
    ref = Elf(pack(tmp_path / "ref.xsplice", SHOP, fix)).symrefs()
    assert Elf(pack(tmp_path / "d.xsplice", stripped, fix,
                    extra=["--debug-file", dbg])).symrefs() == ref
    linked = tmp_path / "shop-linked"
    run(["objcopy", f"--add-gnu-debuglink={dbg}", stripped, linked])
    assert Elf(pack(tmp_path / "l.xsplice", linked, fix)).symrefs() == ref
    # by build-id under a debug directory, as gdb looks for it
    hexid = elf_build_id(SHOP).hex()
    bid = tmp_path / "debugroot" / ".build-id" / hexid[:2] / f"{hexid[2:]}.debug"
    bid.parent.mkdir(parents=True)
    shutil.copy(dbg, bid)
    assert Elf(pack(tmp_path / "b.xsplice", stripped, fix,
                    extra=["--debug-dir", tmp_path / "debugroot"])).symrefs() == ref
    # a debug file of another build is refused
    other = tmp_path / "other.debug"
    run(["objcopy", "--only-keep-debug", LINKTEST, other])
    msg = pack_fails(tmp_path, stripped, fix, extra=["--debug-file", other])
    assert "does not fit" in msg and "another build-id" in msg
    # without either: only .dynsym, and the statics cannot be found
    msg = pack_fails(tmp_path, stripped, fix)
    assert ".dynsym only" in msg and "clamp" in msg


# ---- refusals -----------------------------------------------------------------------------------

def test_pack_missing_function(tmp_path):
    obj = payload_obj(tmp_path, """
#include <xsplice/patch.h>
extern int no_such_function(void);
static int repl(void) { return 1; }
XSPLICE_REPLACE(no_such_function, repl);
""", "missing")
    msg = pack_fails(tmp_path, SHOP, obj)
    assert "'no_such_function'" in msg and "not defined" in msg and str(SHOP) in msg


def test_pack_missing_hinted_static(tmp_path):
    obj = payload_obj(tmp_path, """
#include <xsplice/patch.h>
extern int parse_qty(const char *);
extern int clamp(int, int, int);
XSPLICE_LOCAL(clamp, "nosuch.c");
static int repl(const char *s) { return clamp(*s, 0, 9); }
XSPLICE_REPLACE(parse_qty, repl);
""", "hint")
    msg = pack_fails(tmp_path, SHOP, obj)
    assert "nosuch.c" in msg and "clamp" in msg and "app.c" in msg and "main.c" in msg


def test_pack_ambiguous_static(tmp_path):
    obj = payload_obj(tmp_path, """
#include <xsplice/patch.h>
extern int parse_qty(const char *);
extern int clamp(int, int, int);
static int repl(const char *s) { return clamp(*s, 0, 9); }
XSPLICE_REPLACE(parse_qty, repl);
""", "ambiguous")
    msg = pack_fails(tmp_path, SHOP, obj)
    assert "'clamp' is ambiguous" in msg
    assert "app.c" in msg and "main.c" in msg
    assert "XSPLICE_LOCAL(clamp" in msg


def test_pack_target_without_build_id(tmp_path):
    tgt = cc(tmp_path / "shop", SDK / "app.c", SDK / "main.c",
             flags=[*TARGET_CFLAGS, "-Wl,--build-id=none"])
    msg = pack_fails(tmp_path, tgt, payload_obj(tmp_path, SDK / "fix.c"))
    assert "no GNU build-id" in msg and "-Wl,--build-id" in msg


def test_pack_wrong_architecture(tmp_path):
    fix = payload_obj(tmp_path, SDK / "fix.c")
    cross = shutil.which("aarch64-linux-gnu-gcc")
    tgt = tmp_path / "shop-aarch64"
    if cross:
        run([cross, "-O2", "-Wl,--build-id", "-o", tgt, SDK / "app.c", SDK / "main.c"])
    else:  # same file, e_machine rewritten to EM_AARCH64
        data = bytearray(SHOP.read_bytes())
        data[18:20] = struct.pack("<H", 183)
        tgt.write_bytes(bytes(data))
    msg = pack_fails(tmp_path, tgt, fix)
    assert "is aarch64, payload objects are x86-64" in msg
    # and an object for another machine is refused before anything else
    obj = bytearray(fix.read_bytes())
    obj[18:20] = struct.pack("<H", 183)
    bad = tmp_path / "arm.o"
    bad.write_bytes(bytes(obj))
    assert "arm.o is aarch64; xsplice payloads are x86-64" in pack_fails(tmp_path, SHOP, bad)


SHORT_TARGET = """
int zero(void) { return 0; }
int other(void) { return 42; }
int main(void) { return zero() + other(); }
"""
SHORT_PAYLOAD = """
#include <xsplice/patch.h>
extern int zero(void);
static int zero_new(void) { return 7; }
XSPLICE_REPLACE(zero, zero_new);
"""


def short_target(tmp_path, *flags):
    src = tmp_path / "short.c"
    src.write_text(SHORT_TARGET)
    name = "short" + "".join(f.replace("=", "").replace("-", "_") for f in flags)
    return cc(tmp_path / name, src, flags=["-O2", "-fno-inline", "-ffunction-sections", *BUILD_ID,
                                           *flags])


def test_pack_short_function_refused(tmp_path):
    obj = payload_obj(tmp_path, SHORT_PAYLOAD, "short_fix")
    tgt = short_target(tmp_path, "-falign-functions=1")  # `other` follows at once
    msg = pack_fails(tmp_path, tgt, obj)
    assert "'zero'" in msg and "3 bytes there, too short for the 5-byte jump" in msg
    assert "up to 'other'" in msg
    tgt = short_target(tmp_path, "-falign-functions=1", "-fcf-protection=full")
    msg = pack_fails(tmp_path, tgt, obj)
    assert "too short for its endbr64 and the 5-byte jump (9 bytes)" in msg


@pytest.mark.parametrize("cet,need", [(False, 5), (True, 9)])
def test_pack_short_function_uses_padding(tmp_path, cet, need):
    obj = payload_obj(tmp_path, SHORT_PAYLOAD, "short_fix")
    tgt = short_target(tmp_path, *(["-fcf-protection=full"] if cet else ["-fcf-protection=none"]))
    size = {n: s for n, _, s, _, _, _, _ in Elf(tgt).symbols()}["zero"]
    assert size < need, "the test needs a function shorter than the jump"
    [(_, old_size, _, flags)] = Elf(pack(tmp_path / "p.xsplice", tgt, obj)).funcs()
    assert (old_size, flags & PADDED) == (need, PADDED)


def test_pack_nop_longer_than_function_refused(tmp_path):
    obj = payload_obj(tmp_path, """
#include <xsplice/patch.h>
extern int zero(void);
XSPLICE_NOP(zero, 0, 4, "\\x31\\xc0\\xc3\\x66");
""", "nop")
    msg = pack_fails(tmp_path, short_target(tmp_path), obj)
    assert "NOP patch of 4 bytes" in msg and "only 3 bytes" in msg


def test_pack_expectation_mismatch_warns(tmp_path):
    """The agent checks expectations against the live code (the authority:
    a stacked payload may expect bytes an earlier one wrote); the packer
    warns when the target file differs."""
    obj = payload_obj(tmp_path, """
#include <xsplice/patch.h>
extern int zero(void);
static int zero_new(void) { return 7; }
XSPLICE_REPLACE_EXPECT(zero, zero_new, "\\x90\\x90", 2);
""", "expect")
    p = run([PACK, "-t", short_target(tmp_path), "-o", tmp_path / "e.xsplice", obj])
    assert "warning: 'zero'" in p.stderr
    assert "has 31c0" in p.stderr and "expects 9090" in p.stderr


def test_pack_ld_failure_shows_its_message(tmp_path):
    src = tmp_path / "dup.c"
    src.write_text("int dup_sym(void) { return 1; }\n")
    a = cc(tmp_path / "a.o", src, flags=PAYLOAD_CFLAGS, link=False)
    b = cc(tmp_path / "b.o", src, flags=PAYLOAD_CFLAGS, link=False)
    msg = pack_fails(tmp_path, SHOP, a, b)
    assert "ld -r failed" in msg and "multiple definition of `dup_sym'" in msg


def test_pack_unreadable_and_bad_inputs(tmp_path):
    fix = payload_obj(tmp_path, SDK / "fix.c")
    assert "cannot read" in pack_fails(tmp_path, SHOP, tmp_path / "nope.o")
    assert "cannot open" in pack_fails(tmp_path, tmp_path / "nope", fix)
    assert "not a relocatable object" in pack_fails(tmp_path, SHOP, SHOP)
    assert "is not an executable or shared library" in pack_fails(tmp_path, fix, fix)


def test_pack_help_and_usage(tmp_path):
    p = run([PACK, "--help"])
    for opt in ("--target", "--output", "--debug-file", "--depends", "--meta", "--verbose"):
        assert opt in p.stdout
    p = run([PACK, "-t", SHOP], check=False)
    assert p.returncode == 1 and "need -t TARGET, -o OUT" in p.stderr
