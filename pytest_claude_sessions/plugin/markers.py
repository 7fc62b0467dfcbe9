"""The plugin's markers: their registration lines, and their keywords merged along the node chain.

``claude_cassette``, ``claude_session`` and ``claude_budget`` may be set on a module (``pytestmark``), a
class and the test itself. Their keywords are merged: the closest marker wins per keyword, the farther
ones fill the keywords it leaves out (pytest-recording's ``merge_kwargs`` style), so a module-level
``claude_cassette(dir="shared")`` and a test's ``claude_cassette(allow_unused=True)`` give both.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pytest_claude_sessions.plugin.options import RECORD_MODE_NAMES

KEYWORDS: Mapping[str, frozenset[str]] = {
    "claude_session": frozenset({"agent", "expect_continuity", "allow_new_sessions", "cwd"}),
    "claude_budget": frozenset({"max_cost_usd", "max_turns", "max_calls"}),
    "claude_cassette": frozenset(
        {"mode", "name", "dir", "match_on", "allow_unused", "record_on_failure", "redact", "slim"}
    ),
}

LINES = (
    "claude_integration: needs the real Claude Code CLI and API credentials; skipped unless enabled with "
    "--claude-integration (ini claude_integration, env PYTEST_CLAUDE_INTEGRATION).",
    "claude_session(agent=None, expect_continuity=False, allow_new_sessions=False, cwd=None): the test's "
    "session chain; agent= names the chain (default: the node id); expect_continuity=True fails the test "
    "when a step after the first starts a new session or its transcript does not continue the previous "
    "step (allow_new_sessions=True permits several conversations); cwd= sets the CLI's working directory "
    "(relative: under the test's tmp_path). Merged per keyword with the module's and class's markers.",
    "claude_budget(max_cost_usd=None, max_turns=None, max_calls=None): fail the test when its Claude calls "
    "spend more (cost is the sum of per-call costs). Merged per keyword along the node chain.",
    "claude_cassette(mode=None, name=None, dir=None, match_on=None, allow_unused=False, "
    "record_on_failure=False, redact=(), slim=None): record/replay this test's Claude CLI calls in a "
    f"cassette (modes: {', '.join(RECORD_MODE_NAMES)}; default none = replay only). Merged per keyword "
    "along the node chain.",
)

_MERGED = pytest.StashKey[dict[str, dict[str, Any] | None]]()


class MarkerError(ValueError):
    """A marker with bad arguments (the message names the test and the marker)."""


def register(config: pytest.Config) -> None:
    for line in LINES:
        config.addinivalue_line("markers", line)


def merged(item: pytest.Item, name: str) -> dict[str, Any] | None:
    """The keywords of marker ``name`` on ``item`` merged along the node chain (closest wins per
    keyword), or ``None`` when no node of the chain carries it. Raises :class:`MarkerError` on
    positional or unknown arguments. Computed once per test."""
    cache = item.stash.setdefault(_MERGED, {})
    if name in cache:
        return cache[name]
    result: dict[str, Any] | None = None
    for marker in item.iter_markers(name):  # closest first: the test, its class, its module
        if marker.args:
            raise MarkerError(f"{item.nodeid}: {name} takes keyword arguments only, got {marker.args!r}")
        unknown = set(marker.kwargs) - KEYWORDS[name]
        if unknown:
            raise MarkerError(
                f"{item.nodeid}: {name}: unknown argument(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(sorted(KEYWORDS[name]))}"
            )
        result = {} if result is None else result
        for key, value in marker.kwargs.items():
            result.setdefault(key, value)
    cache[name] = result
    return result


def kwargs_or_fail(item: pytest.Item, name: str) -> dict[str, Any]:
    """:func:`merged`, with ``{}`` when unmarked, failing the test (no traceback) on bad arguments."""
    __tracebackhide__ = True
    try:
        return merged(item, name) or {}
    except MarkerError as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)  # outside the except: no "During handling of ..." chain shown
