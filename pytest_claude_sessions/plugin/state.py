"""What the per-test modules share: a test's state in ``item.stash`` and the view of the run they use.

The per-test logic (:mod:`.item`, :mod:`.cassette_item`) needs a few things of the run (its settings, its
directory, the CLI it found, a way to register the per-test hooks); it sees them through :class:`RunView`,
so it never imports the run object (:mod:`.run` imports it: dependencies point one way).

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor, CassetteReport
    from pytest_claude_sessions.executor.executor import ClaudeExecutor
    from pytest_claude_sessions.models import SessionInfo
    from pytest_claude_sessions.plugin.options import Settings
    from pytest_claude_sessions.redact import Redactor
    from pytest_claude_sessions.store.tracker import SessionTracker


class RunView(Protocol):
    """What per-test code may use of the run (``ClaudeRun`` implements it)."""

    settings: Settings
    run_dir: Path
    search_roots: tuple[str, ...]

    def resolved_bin(self) -> str: ...

    def need_per_test_hooks(self) -> None: ...


@dataclass
class CassetteState:
    """The test's cassette, where its mode came from, and its report once finished."""

    interceptor: CassetteInterceptor
    mode_source: str
    report: CassetteReport | None = None

    def wire(self, nodeid: str) -> dict[str, Any]:
        """The report as it travels on the teardown report (JSON-safe: crosses xdist)."""
        data = {} if self.report is None else self.report.to_dict()
        return {**data, "nodeid": nodeid}


@dataclass
class TestState:
    """Per-test bookkeeping in ``item.stash`` (only for tests that requested a Claude fixture)."""

    __test__ = False  # not a test class, whatever a collection of this package thinks

    tracker: SessionTracker | None = None
    agent_id: str = ""
    start_step: int = 0
    executor: ClaudeExecutor | None = None
    outcomes: dict[str, str] = field(default_factory=dict)
    continuity: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    cassette: CassetteState | None = None

    def steps(self) -> list[SessionInfo]:
        return [] if self.tracker is None else list(self.tracker.session_chain)[self.start_step :]

    def redactor(self) -> Redactor:
        """The rules of this test's steps and errors, plus the key variables of its CLI's environment
        (the stub's dummy key, a token the test set): what pytest shows of a failure passes through it."""
        from pytest_claude_sessions.redact import Redactor

        base = self.tracker.redactor if self.tracker is not None else Redactor()
        return base.with_env(self.executor.build_env()) if self.executor is not None else base

    @property
    def did_not_pass(self) -> tuple[bool, bool]:
        """(failed, skipped-or-xfailed) from the outcomes seen so far."""
        failed = any(v == "failed" for v in self.outcomes.values())
        return failed, not failed and any(v == "skipped" for v in self.outcomes.values())


_TEST = pytest.StashKey[TestState]()


def state(item: pytest.Item, run: RunView) -> TestState:
    """The test's state, made (and the per-test hooks registered) on first use."""
    found = item.stash.get(_TEST, None)
    if found is None:
        run.need_per_test_hooks()  # before the setup report: it records that outcome too
        found = item.stash[_TEST] = TestState()
    return found


def existing_state(item: pytest.Item) -> TestState | None:
    return item.stash.get(_TEST, None)
