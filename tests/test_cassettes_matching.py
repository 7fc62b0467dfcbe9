"""Matching as a table: one function per criterion, a generic loop, and criteria users register."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import hide_every_claude

from pytest_claude_sessions.cassettes.matching import (
    DEFAULT_MATCH_ON,
    DEFAULT_MATCHERS,
    MATCH_CRITERIA,
    MatchContext,
    MatcherTable,
    normalize_match_on,
)
from pytest_claude_sessions.errors import CassetteError
from pytest_claude_sessions.executor.options import MATCHED_OPTIONS

BASE: dict[str, Any] = {
    "kind": "resume",
    "prompt": "what is my name?",
    "output_format": "json",
    "resume": "rec-id",
    "session_id": None,
    "fork": False,
    "continue": False,
    "options": {"model": "sonnet", "max_turns": 2},
}


def test_the_table_holds_the_builtin_criteria_and_one_per_matched_option() -> None:
    assert (
        "order",
        "kind",
        "prompt",
        "output_format",
        "session",
        "options",
        *MATCHED_OPTIONS,
    ) == MATCH_CRITERIA
    assert set(DEFAULT_MATCH_ON) <= set(DEFAULT_MATCHERS)


@pytest.mark.parametrize(
    ("change", "differ"),
    [
        ({"prompt": "who am I?"}, ["prompt"]),
        ({"kind": "fork", "fork": True}, ["kind"]),
        ({"output_format": "stream-json"}, ["output_format"]),
        ({"resume": "other-id"}, ["session"]),
        ({"options": {"model": "haiku", "max_turns": 2}}, ["options", "model"]),
        ({"options": {"model": "sonnet", "max_turns": 3}}, ["options", "max_turns"]),
        ({}, []),
    ],
)
def test_the_generic_loop_names_each_differing_criterion(change: dict[str, Any], differ: list[str]) -> None:
    actual = {**BASE, **change}
    criteria = [*DEFAULT_MATCH_ON, "model", "max_turns"]
    assert DEFAULT_MATCHERS.differences(BASE, actual, criteria) == differ
    assert (
        DEFAULT_MATCHERS.differences(
            BASE, {**BASE, "resume": "run-id"}, ["session"], ids={"run-id": "rec-id"}
        )
        == []
    )


def test_a_registered_criterion_is_usable_by_name_and_checked() -> None:
    table = DEFAULT_MATCHERS.copy()

    def prompt_words(recorded: Any, actual: Any, context: MatchContext) -> bool:
        return set(recorded["prompt"].split()) == set(actual["prompt"].split())

    with pytest.raises(ValueError, match="unknown match_on criteria \\['prompt_words'\\]"):
        table.normalize("order,prompt_words")
    table.register("prompt_words", prompt_words)
    assert table.normalize("order, prompt_words") == ("order", "prompt_words")
    assert "prompt_words" not in DEFAULT_MATCHERS  # a copy: the default table is untouched
    reordered = {**BASE, "prompt": "my name? is what"}
    assert table.differences(BASE, reordered, ["prompt_words"]) == []
    assert table.differences(BASE, reordered, ["prompt", "prompt_words"]) == ["prompt"]
    with pytest.raises(ValueError, match="already registered"):
        table.register("prompt", prompt_words)
    table.register("prompt", prompt_words, replace=True)
    assert table.differences(BASE, reordered, ["prompt"]) == []
    with pytest.raises(ValueError, match="lowercase"):
        table.register("Bad Name", prompt_words)
    with pytest.raises(TypeError, match="callable"):
        table.register("fine", "not a function")  # type: ignore[arg-type]


def test_a_criterion_that_raises_is_a_cassette_error_naming_it() -> None:
    table = MatcherTable({"broken": lambda recorded, actual, context: recorded["missing"]})
    with pytest.raises(CassetteError, match="match criterion 'broken' raised KeyError"):
        table.differences(BASE, BASE, ["broken"])


def test_normalize_match_on_refuses_unknown_names_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: order, kind, prompt"):
        normalize_match_on("order, promt")


CUSTOM_CONFTEST = """
from pytest_claude_sessions.cassettes.matching import register_matcher

def prompt_words(recorded, actual, context):
    return sorted(recorded["prompt"].split()) == sorted(actual["prompt"].split())

register_matcher("prompt_words", prompt_words)
"""

CUSTOM_TEST = """
import os
import pytest

@pytest.mark.claude_cassette(match_on="order,kind,prompt_words,session,options")
def test_words(claude_executor, claude_api_stub):
    result = claude_executor.run(os.environ.get("PROMPT", "my name is Alice"))
    assert result.session_id
"""


def test_a_criterion_registered_in_conftest_matches_real_recordings(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Recorded with the real CLI against the stub; replayed (no CLI) with the words of the prompt
    reordered: the registered criterion matches it, and a changed word is a mismatch with a diff."""
    pytester.makeconftest(CUSTOM_CONFTEST)
    pytester.makepyfile(test_words=CUSTOM_TEST)
    recorded = pytester.runpytest_subprocess("--claude-record-mode=once", f"--claude-bin={claude_bin}")
    recorded.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_words" / "test_words.json"
    assert json.loads(cassette.read_text())["interactions"][0]["request"]["prompt"] == "my name is Alice"

    hide_every_claude(monkeypatch, tmp_path)
    monkeypatch.setenv("PROMPT", "Alice is my name")
    pytester.runpytest_subprocess("-n", "2").assert_outcomes(passed=1)
    monkeypatch.setenv("PROMPT", "Bob is my name")
    failed = pytester.runpytest_subprocess()
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        ["*prompt_words*", '*-  "prompt": "my name is Alice"*', '*+  "prompt": "Bob is my name"*']
    )
