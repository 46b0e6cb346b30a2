"""xsplice-build's driver on its own: a stripped target with its debug file,
patched sources the project's build does not recompile, the cache of the
original build, and build systems that are not -j-safe.  Each payload is
applied to a live process and its behaviour checked there."""
import shutil

from conftest import BIN, ROOT, run

CORPUS = ROOT / "tests" / "corpus"
BUILD = BIN / "xsplice-build"
XSCC = BIN / "xsplice-cc"


def case_copy(name, dst):
    shutil.copytree(CORPUS / name, dst, ignore=shutil.ignore_patterns(
        "*.o", "*.a", "*.so", "prog", "*.xsplice-objs", "*.xsplice"))
    return dst


def make(d, *args):
    return run(["make", "-s", "-C", d, f"CC={XSCC}", *args])


def build(src, target, out, *extra, patch=None):
    return run([BUILD, "-s", src, "-p", patch or src / "fix.patch", "-t", target, "-o", out,
                "-n", "fix", *extra], check=False, timeout=300)


def static_built(tmp_path):
    """tests/corpus/static: the source and a production build of it."""
    src = case_copy("static", tmp_path / "src")
    prod = case_copy("static", tmp_path / "prod")
    make(prod)
    return src, prod


def fixed_live(start, prod, payload):
    """The static case's fix, loaded into a live prog, changes its reply."""
    t = start([prod / "prog"], cwd=prod)
    assert t.query("price 1000") == "12.00 EUR"
    t.cli("load", payload, check=0)
    assert t.query("price 1000") == "12,00 EUR"


def ok(p):
    assert p.returncode == 0, f"xsplice-build exited {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
    return p


# ---- --debug-file ---------------------------------------------------------------------

def test_stripped_target_needs_its_debug_file(tmp_path):
    src, prod = static_built(tmp_path)
    run(["strip", "--strip-all", prod / "prog"])
    p = build(src, prod / "prog", tmp_path / "out")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "stripped, give --debug-file" in p.stderr
    assert not (tmp_path / "out" / "fix.xsplice").exists()


def test_stripped_target_with_debug_file_end_to_end(tmp_path, start):
    src, prod = static_built(tmp_path)
    dbg = tmp_path / "prog.debug"
    run(["objcopy", "--only-keep-debug", prod / "prog", dbg])
    run(["objcopy", "--strip-all", prod / "prog"])
    run(["objcopy", f"--add-gnu-debuglink={dbg}", prod / "prog"])
    run(["mv", dbg, tmp_path / "elsewhere.debug"])  # not found by the debuglink
    ok(build(src, prod / "prog", tmp_path / "out", "--debug-file", tmp_path / "elsewhere.debug"))
    fixed_live(start, prod, tmp_path / "out" / "fix.xsplice")


# ---- patched sources the project's build leaves alone ---------------------------------------------

def test_patched_header_of_a_library_not_rebuilt(tmp_path, start):
    """lib/x.h changes a constant only lib/x.c uses; the project never rebuilds
    lib/libx.a: xsplice-build finds lib/x.o includes the header and compiles it
    again."""
    src = case_copy("lib-once", tmp_path / "src")
    prod = case_copy("lib-once", tmp_path / "prod")
    for d in (src, prod):
        (d / "lib" / "x.h").write_text("#define LEN_MAX 100\nint clamp_len(int n);\n")
        x = (d / "lib" / "x.c").read_text().replace("if (n > 100)\n\t\treturn 100;",
                                                     "if (n > LEN_MAX)\n\t\treturn LEN_MAX;")
        (d / "lib" / "x.c").write_text(x)
    make(prod)
    patch = tmp_path / "hdr.patch"
    patch.write_text("--- a/lib/x.h\n+++ b/lib/x.h\n@@ -1,2 +1,2 @@\n-#define LEN_MAX 100\n"
                     "+#define LEN_MAX 50\n int clamp_len(int n);\n")
    t = start([prod / "prog"], cwd=prod)
    assert t.query("clamp 70") == "70"
    p = ok(build(src, prod / "prog", tmp_path / "out", patch=patch))
    assert "lib/x.o: not rebuilt by the project's build although lib/x.h changed" in p.stdout
    t.cli("load", tmp_path / "out" / "fix.xsplice", check=0)
    assert t.query("clamp 70") == "50"


def test_patched_file_that_cannot_be_recompiled_is_refused(tmp_path):
    """The fix breaks lib/x.c, which the project's build never compiles again:
    the build is refused naming the file, not a payload without it."""
    src = case_copy("lib-once", tmp_path / "src")
    prod = case_copy("lib-once", tmp_path / "prod")
    make(prod)
    patch = tmp_path / "broken.patch"
    patch.write_text((src / "fix.patch").read_text().replace("+\t\treturn 0;\n", "+\t\treturn 0 +;\n"))
    p = build(src, prod / "prog", tmp_path / "out", patch=patch)
    assert p.returncode == 1 and "refused:" in p.stderr, p.stdout + p.stderr
    assert "lib/x.c is patched but the project's build did not rebuild lib/x.o" in p.stderr
    assert not (tmp_path / "out" / "fix.xsplice").exists()


def test_patched_source_not_in_the_target_is_said(tmp_path):
    src = case_copy("lib-once", tmp_path / "src")
    prod = case_copy("lib-once", tmp_path / "prod")
    (src / "tool.c").write_text("int main(void)\n{\n\treturn 0;\n}\n")
    (prod / "tool.c").write_text((src / "tool.c").read_text())
    make(prod)
    patch = tmp_path / "two.patch"
    patch.write_text((src / "fix.patch").read_text() +
                     "--- a/tool.c\n+++ b/tool.c\n@@ -1,4 +1,4 @@\n int main(void)\n {\n"
                     "-\treturn 0;\n+\treturn 1;\n }\n")
    p = ok(build(src, prod / "prog", tmp_path / "out", patch=patch))
    assert "tool.c is not compiled into prog: its change is not in the payload" in p.stdout
    assert "not compiled into the target" in (tmp_path / "out" / "report.tsv").read_text()


# ---- the cache of the original build --------------------------------------------------------

def test_second_payload_reuses_the_original_build(tmp_path, start, build_cache):
    src = case_copy("multi-file", tmp_path / "src")
    prod = case_copy("multi-file", tmp_path / "prod")
    make(prod)
    ok(build(src, prod / "prog", tmp_path / "out1"))
    p = ok(build(src, prod / "prog", tmp_path / "out2"))
    assert "the original build: reused from the cache" in p.stdout
    log = (tmp_path / "out2" / "build.log").read_text()
    assert "---- original build" not in log
    assert list(build_cache.iterdir()), "nothing cached"
    # the payload of the cached build works like the first
    t = start([prod / "prog"], cwd=prod)
    assert t.query("withdraw 150") == "-50"
    t.cli("load", tmp_path / "out2" / "fix.xsplice", check=0)
    assert t.query("withdraw 150") == "-1"


def test_next_fix_in_a_series_rebuilds_only_what_changed(tmp_path, start):
    """fix 1 landed in the source; fix 2 against that source recompiles only
    the file fix 1 changed, then only what fix 2 changes."""
    src = case_copy("lib-once", tmp_path / "src")
    ok(build(src, prod_of(tmp_path, src, "prod1") / "prog", tmp_path / "out1"))
    src2 = tmp_path / "src2"
    shutil.copytree(src, src2)
    run(["patch", "-p1", "-s", "--no-backup-if-mismatch", "-d", src2, "-i", src / "fix.patch"])
    prod2 = prod_of(tmp_path, src2, "prod2")
    fix2 = tmp_path / "fix2.patch"
    main2 = tmp_path / "main.c"
    main2.write_text((src2 / "main.c").read_text().replace("greeting_count += 10;", "greeting_count += 100;"))
    fix2.write_text(run(["diff", "-u", "--label", "a/main.c", "--label", "b/main.c", src2 / "main.c", main2],
                        check=False).stdout)
    p = ok(build(src2, prod2 / "prog", tmp_path / "out2", patch=fix2))
    assert "2 source file(s) differ from it" in p.stdout
    assert "1 of 2 objects recompiled" in p.stdout or "2 of 2 objects recompiled" in p.stdout
    t = start([prod2 / "prog"], cwd=prod2)
    assert t.query("greet") == "10"
    t.cli("load", tmp_path / "out2" / "fix.xsplice", check=0)
    assert t.query("greet") == "110"


def prod_of(tmp_path, src, name):
    prod = tmp_path / name
    shutil.copytree(src, prod)
    make(prod)
    return prod


def test_no_cache_keeps_nothing(tmp_path, build_cache):
    src, prod = static_built(tmp_path)
    ok(build(src, prod / "prog", tmp_path / "out", "--no-cache"))
    assert not build_cache.exists() or not list(build_cache.iterdir())


# ---- build systems that are not -j-safe, or not incremental -----------------------------------

def test_build_that_is_not_j_safe_is_retried_serially(tmp_path, start):
    src, prod = static_built(tmp_path)
    # fails whenever make runs with more than one job
    cmd = 'case " $MAKEFLAGS " in *" -j1 "*) make ;; *) echo "not -j-safe" >&2; exit 1 ;; esac'
    p = ok(build(src, prod / "prog", tmp_path / "out", "-j2", "-b", cmd))
    assert "trying again serially (-j1)" in p.stdout
    assert "the build is not -j-safe" in p.stdout
    fixed_live(start, prod, tmp_path / "out" / "fix.xsplice")


def test_incremental_rebuild_that_fails_is_done_from_scratch(tmp_path, start):
    src, prod = static_built(tmp_path)
    cmd = "make && ln -s prog prog.link"  # fails when the link exists
    for out in ("out1", "out2"):
        p = ok(build(src, prod / "prog", tmp_path / out, "-b", cmd))
        assert "building it from scratch" in p.stdout
    fixed_live(start, prod, tmp_path / "out2" / "fix.xsplice")


def test_cache_slot_in_use_builds_without_it(tmp_path, build_cache):
    """A second xsplice-build while the slot is locked builds on its own."""
    src, prod = static_built(tmp_path)
    ok(build(src, prod / "prog", tmp_path / "out1"))
    (slot,) = [d for d in build_cache.iterdir() if d.is_dir()]
    p = run(["flock", slot / "lock", BUILD, "-s", src, "-p", src / "fix.patch", "-t", prod / "prog",
             "-o", tmp_path / "out2", "-n", "fix"], check=False, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "is in use by another xsplice-build: building without it" in p.stdout
