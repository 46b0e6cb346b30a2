"""xsplice-build corpus: every case in tests/corpus/, end to end in a live process.

Each case is a small C program (with its Makefile), a fix.patch and a case.txt
saying what must happen:

    expect: applied | refused | nothing      what xsplice-build does
    target: FILE                             the binary to patch (default prog)
    query: REQUEST => BEFORE => AFTER        a request line and its replies
                                             before and after the patch
    message: TEXT                            (refused) in xsplice-build's stderr
    report: KIND NAME                        a line of OUTDIR/report.tsv
    noreport: KIND NAME                      ... that must not be there
    object: FILE.o SYMBOL                    the compiler really produced SYMBOL
                                             (the construct the case is about)
    strict: TEXT                             xsplice-build --strict refuses the
                                             same patch with TEXT in its stderr
                                             (attention items become refusals)

The program is built the production way (make CC=xsplice-cc) and started under
the agent; the BEFORE replies are checked, xsplice-build makes the payload from
the untouched source and the patch, `xsplice load` applies it to the running
process, and the AFTER replies are checked in the same process.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ROOT, run

CORPUS = ROOT / "tests" / "corpus"
BUILD = BIN / "xsplice-build"
XSCC = BIN / "xsplice-cc"
# a refusal exits 1 like an error, and says "refused:" (2 is only ever "try again")
EXIT = {"applied": 0, "refused": 1, "nothing": 3}


def cases():
    return sorted(p.name for p in CORPUS.iterdir() if (p / "case.txt").exists())


class Case:
    def __init__(self, path):
        self.expect, self.target = None, "prog"
        self.queries, self.messages, self.reports, self.noreports, self.objects = [], [], [], [], []
        self.strict = []
        for raw in (path / "case.txt").read_text().splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            key, _, val = raw.partition(":")
            val = val.strip()
            if key == "expect":
                self.expect = val
            elif key == "target":
                self.target = val
            elif key == "query":
                req, before, after = [s.strip() for s in val.split("=>")]
                self.queries.append((req, before, after))
            elif key == "message":
                self.messages.append(val)
            elif key == "report":
                self.reports.append(tuple(val.split(None, 1)))
            elif key == "noreport":
                self.noreports.append(tuple(val.split(None, 1)))
            elif key == "object":
                self.objects.append(tuple(val.split()))
            elif key == "strict":
                self.strict.append(val)
            else:
                raise AssertionError(f"{path}/case.txt: unknown key {key!r}")
        assert self.expect in EXIT, f"{path}/case.txt: expect must be one of {list(EXIT)}"


def copy_clean(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
        "*.o", "*.so", "prog", "*.xsplice-objs", "*.xsplice"))
    return dst


def symbols(obj):
    out = run(["nm", obj]).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def report_rows(out):
    rows = []
    f = out / "report.tsv"
    if f.exists():
        for line in f.read_text().splitlines():
            kind, _obj, name, _detail = line.split("\t", 3)
            rows.append((kind, name))
    return rows


@pytest.mark.parametrize("name", cases())
def test_corpus_case(name, tmp_path, start):
    case = Case(CORPUS / name)
    src = copy_clean(CORPUS / name, tmp_path / "src")
    prod = copy_clean(CORPUS / name, tmp_path / "prod")
    run(["make", "-s", "-C", prod, f"CC={XSCC}"])
    for obj, sym in case.objects:
        assert sym in symbols(prod / obj), \
            f"{name}: the compiler did not produce {sym} in {obj}: the case no longer tests what it says"

    t = start([prod / "prog"], cwd=prod)
    for req, before, _ in case.queries:
        assert t.query(req) == before, f"{name}: before the patch, {req!r}"

    out = tmp_path / "out"
    p = run([BUILD, "-q", "-s", src, "-p", src / "fix.patch", "-t", prod / case.target,
             "-o", out, "-n", "fix"], check=False, timeout=300)
    assert p.returncode == EXIT[case.expect], \
        f"{name}: xsplice-build exited {p.returncode}, wanted {EXIT[case.expect]} " \
        f"({case.expect})\nstdout:{p.stdout}\nstderr:{p.stderr}"
    if case.expect == "refused":
        assert "refused:" in p.stderr, f"{name}: an error, not a refusal:\n{p.stderr}"
    for m in case.messages:
        assert m in p.stderr, f"{name}: {m!r} not in xsplice-build's message:\n{p.stderr}"
    rows = report_rows(out)
    for r in case.reports:
        assert r in rows, f"{name}: report lacks {r}: {rows}"
    for r in case.noreports:
        assert r not in rows, f"{name}: report has {r}: {rows}"

    if case.strict:
        p = run([BUILD, "-q", "--strict", "-s", src, "-p", src / "fix.patch",
                 "-t", prod / case.target, "-o", tmp_path / "out-strict", "-n", "fix"],
                check=False, timeout=300)
        assert p.returncode == EXIT["refused"] and "refused" in p.stderr, \
            f"{name}: xsplice-build --strict exited {p.returncode}\nstderr:{p.stderr}"
        for m in case.strict:
            assert m in p.stderr, f"{name}: {m!r} not in xsplice-build --strict's message:\n{p.stderr}"
        assert not (tmp_path / "out-strict" / "fix.xsplice").exists()

    if case.expect == "applied":
        payload = out / "fix.xsplice"
        assert payload.exists()
        t.cli("load", payload, check=0)
    for req, _, after in case.queries:
        assert t.query(req) == after, f"{name}: after the patch, {req!r}"
    assert t.proc.poll() is None, f"{name}: the target died"
