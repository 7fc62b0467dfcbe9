"""Continuity and budget assertions against real transcripts written by the real CLI (against the stub)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_claude_sessions.assertions.continuity import (
    assert_chain_continuous,
    assert_forked,
    assert_no_shared_sessions,
    assert_resumed,
    assert_within_budget,
    chain_continuity,
    compare_repr,
    format_chain,
    shared_sessions,
)
from pytest_claude_sessions.executor.executor import ClaudeExecutor
from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.store.tracker import SessionTracker
from pytest_claude_sessions.stub.server import MessagesStub
from pytest_claude_sessions.transcripts import SessionValidator, check_chain_continuity, recorded_config_dir


@pytest.fixture(scope="module")
def recorded(claude_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """One real chain (new -> resume -> fork) and one unrelated new session, in one config dir."""
    base = tmp_path_factory.mktemp("assertions")
    with MessagesStub() as stub:
        main = SessionTracker("main", base / "store")
        other = SessionTracker("other", base / "store")
        common = {"cwd": base, "config_dir": base / ".claude", "env": stub.env()}
        with ClaudeExecutor(claude_bin, tracker=main, **common) as ex:  # type: ignore[arg-type]
            ex.run("my name is Alice")
            ex.resume("what is my name?")
            ex.fork("list my messages")
            validator = ex.validator
            with ClaudeExecutor(claude_bin, tracker=other, **common) as ex2:  # type: ignore[arg-type]
                ex2.run("my name is Bob")
            yield SimpleNamespace(chain=main.session_chain, other=other.session_chain[0], validator=validator)


def relabel(step: SessionInfo, **changes: object) -> SessionInfo:
    return dataclasses.replace(step, **changes)  # type: ignore[arg-type]


def test_real_chain_is_continuous(recorded: SimpleNamespace) -> None:
    a1, a2, fork = recorded.chain
    assert [s.kind for s in recorded.chain] == ["new", "resume", "fork"]
    assert_chain_continuous(recorded.chain, recorded.validator)
    assert_resumed(a2, a1, recorded.validator)
    assert_forked(fork, a2, recorded.validator)
    assert chain_continuity(recorded.chain, recorded.validator) == []


def test_the_chain_verdict_says_how_strongly_it_was_checked(recorded: SimpleNamespace) -> None:
    """With the leaves the executor recorded every check is strong; without them the chain still holds but
    the verdict is weak and says why, per step (the plugin shows this instead of a bare "ok")."""
    strong = check_chain_continuity(recorded.chain, recorded.validator)
    assert strong.ok and strong.strength == "strong" and strong.weak_reasons == ()
    assert [v.basis for v in strong.verdicts] == ["leaf", "leaf"]
    blind = [relabel(s, metadata={}) for s in recorded.chain]  # as if no leaf had been recorded
    weak = check_chain_continuity(blind, recorded.validator)
    assert weak.ok, weak.reasons
    assert weak.strength == "weak"
    a1, _, fork = recorded.chain
    assert len(weak.weak_reasons) == 2
    assert weak.weak_reasons[0].startswith(f"resume {a1.session_id[:8]} -> {a1.session_id[:8]}: no leaf was")
    assert weak.weak_reasons[1].startswith(f"fork {a1.session_id[:8]} -> {fork.session_id[:8]}: no leaf was")
    data = json.loads(json.dumps(weak.to_dict()))
    assert data["checked"] and data["ok"] and data["reason"] is None
    assert data["strength"] == "weak" and data["weak_reasons"] == list(weak.weak_reasons)
    assert [v["strength"] for v in data["verdicts"]] == ["weak", "weak"]
    assert chain_continuity(blind, recorded.validator) == []  # the reasons-only view is unchanged


def test_a_new_session_recorded_as_resume_breaks_the_chain(recorded: SimpleNamespace) -> None:
    a1 = recorded.chain[0]
    fake = relabel(recorded.other, kind="resume", parent_session_id=a1.session_id, interaction_count=2)
    with pytest.raises(AssertionError) as info:
        assert_chain_continuous([a1, fake], recorded.validator)
    text = str(info.value)
    assert text.startswith("session chain is not continuous:\n  resume ")
    assert f"{a1.session_id[:8]} -> {fake.session_id[:8]}" in text
    assert "#  kind    session id" in text  # the table
    assert fake.session_id in text and "'my name is Bob'" in text


def test_a_new_step_after_the_first_breaks_the_chain(recorded: SimpleNamespace) -> None:
    """The usual agent bug, a forgotten --resume: the second call starts over in a new session."""
    a1 = recorded.chain[0]
    second = relabel(recorded.other, interaction_count=2)
    reasons = chain_continuity([a1, second], recorded.validator)
    assert reasons == [
        f"step 2 started a new session {second.session_id} instead of continuing {a1.session_id} "
        "(a forgotten --resume? pass allow_new_sessions=True if the test starts several conversations on "
        "purpose)"
    ]
    with pytest.raises(AssertionError, match=r"step 2 started a new session"):
        assert_chain_continuous([a1, second], recorded.validator)
    # Opting out: two conversations on purpose, each still checked (a new step has nothing to continue).
    assert chain_continuity([a1, second], recorded.validator, allow_new_sessions=True) == []
    assert_chain_continuous([*recorded.chain, second], recorded.validator, allow_new_sessions=True)


def test_default_validator_reads_the_config_dir_the_steps_recorded(
    recorded: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No validator given: the transcripts are read where the steps say they are, not in ~/.claude."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "elsewhere"))
    assert recorded_config_dir(recorded.chain) == recorded.validator.config_dir
    assert_chain_continuous(recorded.chain)
    a1, a2, fork = recorded.chain
    assert_resumed(a2, a1)
    assert_forked(fork, a2)
    # Steps without a transcript path fall back to the environment's config dir (here: empty).
    bare = [relabel(s, transcript_path=None) for s in recorded.chain]
    assert recorded_config_dir(bare) is None
    assert chain_continuity(bare) != []


def test_resume_checks_kind_session_and_transcript(recorded: SimpleNamespace) -> None:
    a1, a2, fork = recorded.chain
    with pytest.raises(AssertionError, match="is a 'new' step, not a resume"):
        assert_resumed(a1, a2, recorded.validator)
    with pytest.raises(
        AssertionError, match=f"runs in session {fork.session_id}, not in the resumed session"
    ):
        assert_resumed(relabel(fork, kind="resume"), a2, recorded.validator)
    # Same session, claimed as a resume, but in the wrong order: step 1's leaf does not descend from step 2's.
    with pytest.raises(AssertionError, match="did not resume step 2"):
        assert_resumed(relabel(a1, kind="resume"), a2, recorded.validator)


def test_fork_checks_link_and_transcript(recorded: SimpleNamespace) -> None:
    a1, a2, fork = recorded.chain
    with pytest.raises(AssertionError, match="is a 'resume' step, not a fork"):
        assert_forked(a2, a1, recorded.validator)
    with pytest.raises(AssertionError, match="the fork kept the parent's session id"):
        assert_forked(relabel(a2, kind="fork"), a1, recorded.validator)
    with pytest.raises(AssertionError, match=f"the fork's parent is None, not {a2.session_id}"):
        assert_forked(relabel(fork, parent_session_id=None), a2, recorded.validator)
    unrelated = relabel(recorded.other, kind="fork", parent_session_id=a2.session_id)
    with pytest.raises(
        AssertionError, match=f"session {unrelated.session_id} is not a fork of {a2.session_id}"
    ):
        assert_forked(unrelated, a2, recorded.validator)


def test_missing_transcripts_break_continuity(recorded: SimpleNamespace, tmp_path: Path) -> None:
    elsewhere = SessionValidator(tmp_path / "empty-config")
    with pytest.raises(AssertionError, match="not continuous"):
        assert_chain_continuous(recorded.chain, elsewhere)
    with pytest.raises(AssertionError, match="the chain is empty"):
        assert_chain_continuous([], recorded.validator)


def test_shared_sessions(recorded: SimpleNamespace, tmp_path: Path) -> None:
    a1, a2, fork = recorded.chain
    assert_no_shared_sessions({"t1": [a1, a2], "t2": [fork], "t3": [recorded.other]})
    with pytest.raises(AssertionError) as info:
        assert_no_shared_sessions({"t1": [a1], "t2": [a2], "t3": [fork]})
    assert str(info.value) == f"1 session(s) shared between agents:\n  {a1.session_id} used by: t1, t2"
    # Over a store directory, as written by trackers.
    for agent, steps in {"x": [a1], "y": [a2]}.items():
        tracker = SessionTracker(agent, tmp_path)
        for s in steps:
            tracker.update_session(s.session_id, s.last_prompt, s.last_response, cost_usd=s.cost_usd)
    assert shared_sessions(tmp_path) == {a1.session_id: ["x", "y"]}
    with pytest.raises(TypeError, match="expected a SessionManager"):
        assert_no_shared_sessions(42)


def test_budget_assertion_sums_per_call_costs(recorded: SimpleNamespace) -> None:
    chain = recorded.chain
    per_call = sum(s.cost_usd for s in chain)
    cumulative = sum(s.total_cost_usd for s in chain)
    assert cumulative > per_call * 1.3  # the CLI's totals repeat earlier calls' costs
    assert_within_budget(chain, max_cost_usd=per_call + 1e-9, max_calls=3, max_turns=3)
    with pytest.raises(AssertionError) as info:
        assert_within_budget(chain, max_cost_usd=per_call / 2, max_calls=2)
    text = str(info.value)
    assert text.startswith(f"budget exceeded: cost ${per_call:.6f} > max_cost_usd ${per_call / 2:.6f}; ")
    assert "calls 3 > max_calls 2" in text
    with pytest.raises(ValueError, match="max_calls must be an integer >= 0"):
        assert_within_budget(chain, max_calls=-1)


def test_compare_repr_for_chains(recorded: SimpleNamespace) -> None:
    a1, a2, fork = recorded.chain
    lines = compare_repr("==", [a1, a2], [a1, fork])
    assert lines is not None
    assert lines[0] == "session chains differ (2 vs 2 steps):"
    assert lines[1].startswith("   #1: new ")
    assert lines[2].startswith(
        f"!= #2: resume {a2.session_id} <- {a1.session_id[:8]}  |  fork {fork.session_id}"
    )
    assert compare_repr("==", [a1], [1]) is None
    assert compare_repr("!=", [a1], [a2]) is None
    assert format_chain(recorded.chain).splitlines()[0].split() == [
        "#",
        "kind",
        "session",
        "id",
        "parent",
        "prompt",
        "cost",
        "turns",
        "error",
    ]


# --------------------------------------------------------------------------- through pytest


FAILING_SUITE = """
import dataclasses
import pytest
from pytest_claude_sessions import (
    ClaudeExecutor, MessagesStub, SessionTracker, assert_chain_continuous, assert_forked,
)

@pytest.fixture(scope="module")
def chains(pytestconfig, tmp_path_factory):
    base = tmp_path_factory.mktemp("chains")
    with MessagesStub() as stub:
        main, other = SessionTracker("main", base / "store"), SessionTracker("other", base / "store")
        common = dict(cwd=base, config_dir=base / ".claude", env=stub.env())
        with ClaudeExecutor(pytestconfig.getoption("claude_bin"), tracker=main, **common) as ex:
            ex.run("my name is Alice")
            ex.fork("list my messages")
            with ClaudeExecutor(ex.claude_bin, tracker=other, **common) as ex2:
                ex2.run("my name is Bob")
            yield main, other.session_chain[0], ex.validator

def test_chain_helper(chains):
    main, bob, validator = chains
    a1 = main.session_chain[0]
    fake = dataclasses.replace(bob, kind="resume", parent_session_id=a1.session_id, interaction_count=2)
    assert_chain_continuous([a1, fake], validator)

def test_tracker_method(chains):
    main, bob, validator = chains
    main.update_session(bob.session_id, "claimed resume", "r", dict(bob.metadata), kind="resume")
    main.assert_continuous(validator)

def test_fork_helper(chains):
    main, bob, validator = chains
    a1 = main.session_chain[0]
    assert_forked(dataclasses.replace(bob, kind="fork", parent_session_id=a1.session_id), a1, validator)

def test_compare_chains(chains):
    main, bob, validator = chains
    a1, fork = main.session_chain[:2]
    assert [a1, fork] == [a1, bob]
"""


def test_failures_show_the_chain_and_the_reason(pytester: pytest.Pytester, claude_bin: Path) -> None:
    """What a user sees: the reason, the chain table, no frames of the helpers (``__tracebackhide__``)."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner=FAILING_SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", f"--claude-bin={claude_bin}")
    result.assert_outcomes(failed=4)
    uuid = "[0-9a-f]*-*-*-*-*"
    result.stdout.fnmatch_lines(
        [
            "*_ test_chain_helper _*",
            ">       assert_chain_continuous([[]a1, fake], validator)",
            "E       AssertionError: session chain is not continuous:",
            "E         resume * -> *: *",
            "E       chain of agent main:",
            "E       #  kind    session id * parent * prompt * cost * turns  error",
            f"E       1  new     {uuid}  -  *'my name is Alice'  $0.* 1      -",
            f"E       2  resume  {uuid}  {uuid}  'my name is Bob' * $0.*",
            "*_ test_tracker_method _*",
            ">       main.assert_continuous(validator)",
            "E       AssertionError: session chain is not continuous:",
            "E       chain of agent main:",
            f"E       3  resume  {uuid}  {uuid}  'claimed resume' *",
            "*_ test_fork_helper _*",
            "E       AssertionError: session * is not a fork of *: * does not contain previous leaf *",
            "E       chain of agent other:",
            f"E       1  fork  {uuid}  {uuid}  'my name is Bob' *",
            "*_ test_compare_chains _*",
            "E       assert session chains differ (2 vs 2 steps):",
            f"E            #1: new {uuid}  |  new {uuid}",
            f"E         != #2: fork {uuid} <- *  |  new {uuid}",
        ]
    )
    # __tracebackhide__: the helpers' own frames stay out of the traceback.
    result.stdout.no_fnmatch_line("*pytest_claude_sessions/assertions.py:*")
    result.stdout.no_fnmatch_line("*pytest_claude_sessions/tracker.py:*")
