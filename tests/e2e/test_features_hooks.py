"""Issue 4, hooks: pre/post hooks, vetoes, action hooks, replace with hooks.

Hooks leave words in the target's trace (ftarget.c `trace`), which the test
reads (and clears) with the `trace` request.
"""
from features.fhelp import fb, states, trace  # noqa: F401


def vetoed(p):
    """The client sees the hook's error (-ECANCELED)."""
    out = (p.stdout + p.stderr).lower()
    return "cancel" in out


def test_first_pre_revert_vetoes_and_the_second_succeeds(fb, start):
    pp = fb.payload("prepost")
    t = start([fb.target])
    t.cli("upload", "prepost", pp, check=0)
    assert trace(t) == []

    t.cli("apply", "prepost", check=0)
    assert trace(t) == ["pre-apply", "load", "post-apply=0"]
    assert t.query("calc 1") == "101"

    p = t.cli("revert", "prepost", check=1)
    assert vetoed(p), p.stderr
    assert trace(t) == ["pre-revert"]
    assert t.query("calc 1") == "101"
    assert states(t) == {"prepost": "APPLIED"}

    t.cli("revert", "prepost", check=0)
    assert trace(t) == ["pre-revert", "unload", "post-revert=0"]
    assert t.query("calc 1") == "2"
    assert states(t) == {"prepost": "CHECKED"}


def test_failing_pre_apply_changes_nothing_and_runs_no_other_hook(fb, start):
    pf = fb.payload("prepost_fail")
    t = start([fb.target])
    t.cli("upload", "fail", pf, check=0)
    for _ in range(2):
        p = t.cli("apply", "fail", check=1)
        assert vetoed(p), p.stderr
        assert trace(t) == ["pre-apply"]
        assert t.query("calc 1") == "2"
        assert states(t) == {"fail": "CHECKED"}
    # and it can still be unloaded cleanly, without hooks
    t.cli("unload", "fail", check=0)
    assert trace(t) == []
    assert states(t) == {}


def test_action_hooks_only_no_funcs(fb, start):
    nf = fb.payload("action_nofunc")
    t = start([fb.target])
    t.cli("upload", "nofunc", nf, check=0)
    assert t.query("get feature_flag") == "0"
    t.cli("apply", "nofunc", check=0)
    assert t.query("get feature_flag") == "1"
    assert trace(t) == ["apply-action"]
    assert states(t) == {"nofunc": "APPLIED"}
    t.cli("revert", "nofunc", check=0)
    assert t.query("get feature_flag") == "0"
    assert trace(t) == ["revert-action"]
    assert states(t) == {"nofunc": "CHECKED"}


def test_action_hooks_switch_and_mark_each_function(fb, start):
    m = fb.payload("action_marker")
    t = start([fb.target])
    t.cli("upload", "marker", m, check=0)
    t.cli("apply", "marker", check=0)
    # marks: 1 = not applied, 2 = applied, one digit per function
    assert trace(t) == ["pre-apply=11", "post-apply=22"]
    assert (t.query("calc 1"), t.query("twice 2")) == ("301", "6")
    t.cli("revert", "marker", check=0)
    assert trace(t) == ["pre-revert=22", "post-revert=11"]
    assert (t.query("calc 1"), t.query("twice 2")) == ("2", "4")


def test_action_hooks_that_only_mark_applied(fb, start):
    """The agent does not switch anything itself when an action hook is
    there: the hook marked the function applied without writing it."""
    m = fb.payload("action_mark")
    t = start([fb.target])
    t.cli("upload", "mark", m, check=0)
    t.cli("apply", "mark", check=0)
    assert trace(t) == ["marked-applied", "post-apply-mark=1"]
    assert states(t) == {"mark": "APPLIED"}
    assert t.query("calc 1") == "2"  # no jump was written
    t.cli("revert", "mark", check=0)
    assert trace(t) == ["marked-reverted"]
    assert states(t) == {"mark": "CHECKED"}
    assert t.query("calc 1") == "2"


def test_apply_action_that_fails_leaves_the_process_as_it_was(fb, start):
    na = fb.payload("action_noapply")
    t = start([fb.target])
    t.cli("upload", "noapply", na, check=0)
    t.cli("apply", "noapply", check=1)
    assert trace(t) == ["apply-action-fails", "post-apply=-5"]
    # the first function, switched by the hook before it failed, is back
    assert (t.query("calc 1"), t.query("twice 2")) == ("2", "4")
    assert states(t) == {"noapply": "CHECKED"}

    # the hook succeeds the second time
    t.cli("apply", "noapply", check=0)
    assert trace(t) == ["apply-action", "post-apply=0"]
    assert (t.query("calc 1"), t.query("twice 2")) == ("501", "10")
    assert states(t) == {"noapply": "APPLIED"}
    t.cli("revert", "noapply", check=0)
    assert (t.query("calc 1"), t.query("twice 2")) == ("2", "4")


def test_revert_action_that_fails_leaves_the_process_as_it_was(fb, start):
    nr = fb.payload("action_norevert")
    t = start([fb.target])
    t.cli("upload", "norevert", nr, check=0)
    t.cli("apply", "norevert", check=0)  # built-in apply
    assert (t.query("calc 1"), t.query("twice 2")) == ("601", "12")
    assert trace(t) == []

    t.cli("revert", "norevert", check=1)
    assert trace(t) == ["revert-action-fails", "post-revert=-5"]
    # the first function, reverted by the hook before it failed, is patched again
    assert (t.query("calc 1"), t.query("twice 2")) == ("601", "12")
    assert states(t) == {"norevert": "APPLIED"}

    t.cli("revert", "norevert", check=0)
    assert trace(t) == ["revert-action", "post-revert=0"]
    assert (t.query("calc 1"), t.query("twice 2")) == ("2", "4")
    assert states(t) == {"norevert": "CHECKED"}


def test_replace_with_hooks_vetoes_and_rolls_back(fb, start):
    ra, rb = fb.payload("replace_hooks_ra"), fb.payload("replace_hooks_rb")
    t = start([fb.target])
    t.cli("upload", "ra", ra, check=0)
    t.cli("upload", "rb", rb, check=0)
    t.cli("apply", "ra", check=0)
    assert trace(t) == ["ra:pre-apply", "ra:load", "ra:post-apply=0"]
    assert t.query("greet") == "greet from RA"

    # the applied payload's pre-revert vetoes
    t.query("set veto_replace_revert 1")
    p = t.cli("replace", "rb", check=1)
    assert vetoed(p), p.stderr
    words = trace(t)
    assert "ra:pre-revert" in words, words
    assert not [w for w in words if w.endswith(":load") or w.endswith(":unload")], words
    assert t.query("greet") == "greet from RA"
    assert states(t) == {"ra": "APPLIED", "rb": "CHECKED"}

    # the new payload's pre-apply vetoes
    t.query("set veto_replace_revert 0")
    t.query("set veto_replace_apply 1")
    p = t.cli("replace", "rb", check=1)
    assert vetoed(p), p.stderr
    words = trace(t)
    assert "rb:pre-apply" in words, words
    assert not [w for w in words if w.endswith(":load") or w.endswith(":unload")], words
    assert t.query("greet") == "greet from RA"
    assert states(t) == {"ra": "APPLIED", "rb": "CHECKED"}

    # nobody vetoes: every pre hook first, the switch, then every post hook
    t.query("set veto_replace_apply 0")
    t.cli("replace", "rb", check=0)
    words = trace(t)
    assert sorted(words[:2]) == ["ra:pre-revert", "rb:pre-apply"], words
    assert sorted(words[2:4]) == ["ra:unload", "rb:load"], words
    assert sorted(words[4:]) == ["ra:post-revert=0", "rb:post-apply=0"], words
    assert t.query("greet") == "greet from RB"
    assert states(t) == {"ra": "CHECKED", "rb": "APPLIED"}
