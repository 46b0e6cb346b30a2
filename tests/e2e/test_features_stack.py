"""Issue 4, stacking: hello-world, bye-world on the build-id chain,
replace-world, --nodeps, and linking between payloads.

Each test is one live target (tests/e2e/features/ftarget.c) under the agent,
real payloads packed with xsplice-pack, driven with the xsplice command.
"""
from features.fhelp import compact_hex, fb, note_id, payloads, states  # noqa: F401


def hello_counts(t):
    return int(t.query("get hello_loads")), int(t.query("get hello_unloads"))


def test_hello_world_hooks_count_and_metadata_is_listed(fb, start):
    hello = fb.payload("hello", extra=["--meta", "cve=CVE-2000-0001"])
    t = start([fb.target])
    assert t.query("greet") == "hello-v0"

    t.cli("upload", "hello", hello, check=0)
    assert states(t) == {"hello": "CHECKED"}
    assert t.query("greet") == "hello-v0"
    assert hello_counts(t) == (0, 0)  # uploading runs no hook

    t.cli("apply", "hello", check=0)
    assert t.query("greet") == "Hello World"
    assert hello_counts(t) == (1, 0)
    assert states(t) == {"hello": "APPLIED"}

    # already applied: nothing done, no hook run
    p = t.cli("apply", "hello", check=0)
    assert "no action" in (p.stdout + p.stderr).lower()
    assert hello_counts(t) == (1, 0)

    t.cli("revert", "hello", check=0)
    assert t.query("greet") == "hello-v0"
    assert hello_counts(t) == (1, 1)
    t.cli("apply", "hello", check=0)
    assert t.query("greet") == "Hello World"
    assert hello_counts(t) == (2, 1)

    # metadata from the SDK (XSPLICE_META) and from xsplice-pack --meta
    text = t.cli("list", check=0).stdout
    for s in ("hello", "LIVEPATCH_RULEZ hello world", "CVE-2000-0001", "1.0"):
        assert s in text, f"{s!r} not in list:\n{text}"
    assert payloads(t)["hello"]["metadata"] == {
        "description": "LIVEPATCH_RULEZ hello world", "version": "1.0", "cve": "CVE-2000-0001"}

    t.cli("revert", "hello", check=0)
    assert hello_counts(t) == (2, 2)
    t.cli("unload", "hello", check=0)
    assert states(t) == {}
    assert t.query("greet") == "hello-v0"


def test_bye_world_stacks_on_hello_world_through_the_build_id_chain(fb, start):
    hello = fb.payload("hello")
    bye = fb.payload("bye", extra=["--depends", hello])
    target_id, hello_id, bye_id = note_id(fb.target), note_id(hello), note_id(bye)
    assert len({target_id, hello_id, bye_id}) == 3
    assert note_id(bye, ".xsplice.depends") == hello_id

    t = start([fb.target])
    t.cli("upload", "hello", hello, check=0)
    t.cli("upload", "bye", bye, check=0)

    # bye sits on hello: with nothing applied, the top of the chain is the
    # target itself, and the refusal names both ids
    p = t.cli("apply", "bye", check=1)
    err = compact_hex(p.stderr)
    assert hello_id in err and target_id in err, p.stderr
    assert t.query("greet") == "hello-v0"
    assert states(t) == {"hello": "CHECKED", "bye": "CHECKED"}

    t.cli("apply", "hello", check=0)
    t.cli("apply", "bye", check=0)
    assert t.query("greet") == "Bye World!"
    assert hello_counts(t) == (1, 0)

    # list shows each payload's build-id and what it depends on
    text = t.cli("list", check=0).stdout
    assert hello_id in compact_hex(text) and bye_id in compact_hex(text), text
    entries = payloads(t)
    assert (entries["hello"]["build_id"], entries["hello"]["depends"]) == (hello_id, target_id)
    assert (entries["bye"]["build_id"], entries["bye"]["depends"]) == (bye_id, hello_id)

    # revert is last-in-first-out: hello cannot go while bye is on it
    p = t.cli("revert", "hello")
    assert p.returncode != 0, p.stdout
    assert t.query("greet") == "Bye World!"
    assert states(t) == {"hello": "APPLIED", "bye": "APPLIED"}

    t.cli("revert", "bye", check=0)
    assert t.query("greet") == "Hello World"
    t.cli("revert", "hello", check=0)
    assert t.query("greet") == "hello-v0"
    assert hello_counts(t) == (1, 1)


def test_replace_world_replaces_both(fb, start):
    hello = fb.payload("hello")
    bye = fb.payload("bye", extra=["--depends", hello])
    again = fb.payload("replace")
    t = start([fb.target])
    for name, f in (("hello", hello), ("bye", bye), ("replace", again)):
        t.cli("upload", name, f, check=0)
    t.cli("apply", "hello", check=0)
    t.cli("apply", "bye", check=0)
    assert t.query("greet") == "Bye World!"

    t.cli("replace", "replace", check=0)
    assert t.query("greet") == "Hello Again World!"
    assert states(t) == {"hello": "CHECKED", "bye": "CHECKED", "replace": "APPLIED"}
    assert hello_counts(t) == (1, 1)  # hello's unload hook ran in the replace

    t.cli("revert", "replace", check=0)
    assert t.query("greet") == "hello-v0"
    for name in ("replace", "bye", "hello"):
        t.cli("unload", name, check=0)
    assert states(t) == {}


def test_payload_not_on_top_refused_then_applied_with_nodeps(fb, start):
    hello = fb.payload("hello")
    again = fb.payload("replace")  # depends on the target itself
    target_id, hello_id = note_id(fb.target), note_id(hello)
    t = start([fb.target])
    t.cli("upload", "hello", hello, check=0)
    t.cli("upload", "again", again, check=0)
    t.cli("apply", "hello", check=0)

    # `again` wants the target on top, hello is there
    p = t.cli("apply", "again", check=1)
    err = compact_hex(p.stderr)
    assert target_id in err and hello_id in err, p.stderr
    assert t.query("greet") == "Hello World"
    assert states(t) == {"hello": "APPLIED", "again": "CHECKED"}

    t.cli("apply", "again", "--nodeps", check=0)
    assert t.query("greet") == "Hello Again World!"
    assert states(t) == {"hello": "APPLIED", "again": "APPLIED"}
    t.cli("revert", "again", check=0)
    assert t.query("greet") == "Hello World"


def test_load_nodeps_applies_an_independent_module(fb, start, tmp_path):
    hello = fb.payload("hello")
    bye_file = tmp_path / "bye.xsplice"
    bye_file.write_bytes(fb.payload("bye", extra=["--depends", hello]).read_bytes())
    t = start([fb.target])

    # load = upload + apply; the apply is refused, so it is unloaded again
    t.cli("load", bye_file, check=1)
    assert states(t) == {}
    assert t.query("greet") == "hello-v0"

    t.cli("load", bye_file, "--nodeps", check=0)
    assert states(t) == {"bye": "APPLIED"}
    assert t.query("greet") == "Bye World!"


def test_payload_calls_a_new_function_another_payload_introduced(fb, start):
    a = fb.payload("newfunc_a")
    b = fb.payload("newfunc_b", extra=["--depends", a])
    dup = fb.payload("newfunc_dup")
    t = start([fb.target])
    t.cli("upload", "a", a, check=0)
    t.cli("upload", "b", b, check=0)
    t.cli("apply", "a", check=0)
    assert t.query("calc 4") == "41"  # a_new_helper(4) + 1
    assert t.query("twice 4") == "8"
    t.cli("apply", "b", check=0)
    assert t.query("twice 4") == "42"  # B's twice calls A's a_new_helper
    assert t.query("calc 4") == "41"

    # a second definition of a_new_helper is refused, naming it
    p = t.cli("upload", "dup", dup, check=1)
    assert "a_new_helper" in p.stderr, p.stderr
    assert states(t) == {"a": "APPLIED", "b": "APPLIED"}

    t.cli("revert", "b", check=0)
    t.cli("revert", "a", check=0)
    assert (t.query("calc 4"), t.query("twice 4")) == ("5", "8")
