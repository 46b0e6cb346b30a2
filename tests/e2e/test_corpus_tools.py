"""xsplice-build, xsplice-diff and xsplice-cc on their own: the refusals and
errors a person meets, with their messages and exit statuses (the live
behaviour of the payloads is test_corpus.py's job)."""
import hashlib
import os
import shutil

from conftest import BIN, ROOT, run

CORPUS = ROOT / "tests" / "corpus"
BUILD = BIN / "xsplice-build"
DIFF = BIN / "xsplice-diff"
XSCC = BIN / "xsplice-cc"


def case_copy(name, dst):
    shutil.copytree(CORPUS / name, dst)
    return dst


def make(d, *args):
    return run(["make", "-s", "-C", d, f"CC={XSCC}", *args])


def tree_digest(d):
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(d)).encode())
            h.update(p.read_bytes())
            h.update(str(p.stat().st_mtime_ns).encode())
    return h.hexdigest()


def build(src, target, out, *extra):
    return run([BUILD, "-q", "-s", src, "-p", src / "fix.patch", "-t", target, "-o", out, *extra],
               check=False, timeout=300)


def test_build_refuses_a_target_built_with_other_flags(tmp_path):
    src = case_copy("static", tmp_path / "src")
    prod = case_copy("static", tmp_path / "prod")
    make(prod, "CFLAGS=-O1 -g")
    p = build(src, prod / "prog", tmp_path / "out")
    assert p.returncode == 1 and "refused:" in p.stderr, p.stdout + p.stderr
    assert "was not built from this source with these flags" in p.stderr
    assert "differ" in p.stderr and "money" in p.stderr
    assert not (tmp_path / "out" / "fix.xsplice").exists()


def test_build_leaves_the_source_tree_alone(tmp_path):
    src = case_copy("multi-file", tmp_path / "src")
    prod = case_copy("multi-file", tmp_path / "prod")
    make(prod)
    before = tree_digest(src)
    p = build(src, prod / "prog", tmp_path / "out")
    assert p.returncode == 0, p.stdout + p.stderr
    assert tree_digest(src) == before
    assert not (tmp_path / "out" / "work").exists()  # removed without --keep
    log = (tmp_path / "out" / "build.log").read_text()
    assert "original build" in log and "patched build" in log


def test_build_patch_that_does_not_apply(tmp_path):
    src = case_copy("exported", tmp_path / "src")
    prod = case_copy("exported", tmp_path / "prod")
    make(prod)
    (src / "shop.c").write_text((src / "shop.c").read_text().replace(">= 100", ">= 99"))
    p = build(src, prod / "prog", tmp_path / "out")
    assert p.returncode == 1
    assert "does not apply" in p.stderr and "without fuzz" in p.stderr


def test_build_on_a_built_tree_says_to_clean_it(tmp_path):
    src = case_copy("exported", tmp_path / "src")
    make(src)
    p = build(src, src / "prog", tmp_path / "out")
    assert p.returncode == 1
    assert "compiled nothing through xsplice-cc" in p.stderr and "make clean" in p.stderr


def test_build_comment_only_patch_is_nothing_to_patch(tmp_path):
    src = case_copy("exported", tmp_path / "src")
    prod = case_copy("exported", tmp_path / "prod")
    make(prod)
    (src / "fix.patch").write_text(
        "--- a/shop.c\n+++ b/shop.c\n@@ -1,5 +1,6 @@\n #include \"shop.h\"\n \n"
        "+/* nothing but a comment, and every line below moves */\n"
        " /* Orders of 100 and more get 10% off. */\n int discount(int total)\n {\n")
    p = build(src, prod / "prog", tmp_path / "out")
    assert p.returncode == 3, p.stdout + p.stderr
    assert "nothing to patch" in p.stdout


def test_build_wrong_binary_of_the_project(tmp_path):
    # the shlib case patches libmotd.so; asking for the executable finds
    # nothing of it there
    src = case_copy("shlib", tmp_path / "src")
    prod = case_copy("shlib", tmp_path / "prod")
    make(prod)
    p = build(src, prod / "prog", tmp_path / "out")
    assert p.returncode == 3, p.stdout + p.stderr
    rows = (tmp_path / "out" / "report.tsv").read_text()
    assert "not part of the target" in rows


def test_cc_refuses_lto(tmp_path):
    (tmp_path / "a.c").write_text("int f(void) { return 1; }\n")
    p = run([XSCC, "-O2", "-flto", "-c", tmp_path / "a.c", "-o", tmp_path / "a.o"], check=False)
    assert p.returncode == 1
    assert "-flto" in p.stderr and "cannot be live-patched" in p.stderr


def test_cc_adds_sections_and_splits_one_step_builds(tmp_path):
    (tmp_path / "a.c").write_text("int f(void) { return 1; }\nint g(void) { return 2; }\n")
    (tmp_path / "m.c").write_text("int f(void); int g(void);\nint main(void) { return f() + g() - 3; }\n")
    log = tmp_path / "cc.log"
    env = dict(os.environ, XSPLICE_CC_LOG=str(log))
    run([XSCC, "-O2", "m.c", "a.c", "-o", "prog"], cwd=tmp_path, env=env)
    run([tmp_path / "prog"])
    rows = [line.split("\t") for line in log.read_text().splitlines()]
    objs = [r for r in rows if r[0] == "obj"]
    links = [r for r in rows if r[0] == "link"]
    assert [os.path.basename(r[2]) for r in objs] == ["m.c", "a.c"]
    assert len(links) == 1 and links[0][1] == str(tmp_path / "prog")
    assert set(links[0][2:]) == {r[1] for r in objs}
    sections = run(["readelf", "-SW", objs[1][1]]).stdout
    assert ".text.f" in sections and ".text.g" in sections


def test_diff_exit_statuses(tmp_path):
    src = tmp_path / "a.c"
    src.write_text("int f(int x) { return x + 1; }\n")
    run([XSCC, "-O2", "-c", src, "-o", tmp_path / "a.o"])
    run([XSCC, "-O2", "-c", src, "-o", tmp_path / "b.o"])
    p = run([DIFF, tmp_path / "a.o", tmp_path / "b.o", "-o", tmp_path / "out.o"], check=False)
    assert p.returncode == 3 and "no change" in p.stdout
    assert not (tmp_path / "out.o").exists()
    src.write_text("int f(int x) { return x + 2; }\n")
    run([XSCC, "-O2", "-c", src, "-o", tmp_path / "c.o"])
    p = run([DIFF, tmp_path / "a.o", tmp_path / "c.o", "-o", tmp_path / "out.o"], check=False)
    assert p.returncode == 0 and "replaced" in p.stdout
    syms = run(["nm", tmp_path / "out.o"]).stdout
    assert "U xsplice.old.f" in syms and " T f" in syms
    p = run([DIFF, src, tmp_path / "c.o", "-o", tmp_path / "out2.o"], check=False)
    assert p.returncode == 1 and "is not an ELF file" in p.stderr


def test_diff_check_target_membership(tmp_path):
    prod = case_copy("shlib", tmp_path / "prod")
    make(prod)
    p = run([DIFF, "--check-target", prod / "libmotd.so", prod / "motd.o", prod / "main.o"])
    assert p.stdout.splitlines() == [f"member\t{prod / 'motd.o'}", f"absent\t{prod / 'main.o'}"]


def test_build_refuses_a_short_function_without_padding(tmp_path):
    # at -Os functions are not aligned: the 1-byte on_event is followed at once
    # by the next function, and it is called from another file
    src = case_copy("short", tmp_path / "src")
    prod = case_copy("short", tmp_path / "prod")
    make(prod, "CFLAGS=-Os")
    p = build(src, prod / "prog", tmp_path / "out", "--build", "make CFLAGS=-Os")
    assert p.returncode == 1 and "refused:" in p.stderr, p.stdout + p.stderr
    assert "on_event" in p.stderr and "too short for the 5-byte jump" in p.stderr


def test_diff_refuses_a_section_it_cannot_classify(tmp_path):
    src = tmp_path / "a.c"
    body = ("int f(void) {{ return 1; }}\n"
            "__asm__(\".pushsection .mytable,\\\"aw\\\"\\n.long {}\\n.popsection\");\n")
    src.write_text(body.format(1))
    run([XSCC, "-O2", "-c", src, "-o", tmp_path / "a.o"])
    src.write_text(body.format(2))
    run([XSCC, "-O2", "-c", src, "-o", tmp_path / "b.o"])
    p = run([DIFF, tmp_path / "a.o", tmp_path / "b.o", "-o", tmp_path / "out.o"], check=False)
    assert p.returncode == 2, p.stdout + p.stderr
    assert ".mytable" in p.stderr and "cannot be classified" in p.stderr
    assert not (tmp_path / "out.o").exists()


def test_diff_static_locals_follow_their_functions(tmp_path):
    # f's counter disappears and g gets one of the same name: the compiler
    # calls both n.0, but g's is a new variable, not f's old one
    a, b = tmp_path / "a.c", tmp_path / "b.c"
    a.write_text("int f(void) { static int n; return ++n; }\nint g(void) { return 5; }\n")
    b.write_text("int f(void) { return 7; }\nint g(void) { static int n; return ++n + 4; }\n")
    run([XSCC, "-O2", "-c", a, "-o", tmp_path / "a.o"])
    run([XSCC, "-O2", "-c", b, "-o", tmp_path / "b.o"])
    p = run([DIFF, "-r", tmp_path / "r.tsv", tmp_path / "a.o", tmp_path / "b.o", "-o", tmp_path / "out.o"])
    rows = [line.split("\t")[0::2] for line in (tmp_path / "r.tsv").read_text().splitlines()]
    assert ["new-data", "b.c#n.0"] in rows, p.stdout
    syms = run(["nm", tmp_path / "out.o"]).stdout
    assert " b n.0" in syms and "a.c#n.0" not in syms
