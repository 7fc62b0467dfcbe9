"""The plugin's fixtures, each a thin function over the run object and the per-test logic.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_claude_sessions.plugin import item as per_test, run as claude_run
from pytest_claude_sessions.plugin.state import state

if TYPE_CHECKING:
    from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor
    from pytest_claude_sessions.executor.executor import ClaudeExecutor
    from pytest_claude_sessions.store.manager import SessionManager
    from pytest_claude_sessions.store.runs import SessionHistory
    from pytest_claude_sessions.store.tracker import SessionTracker
    from pytest_claude_sessions.stub.server import MessagesStub
    from pytest_claude_sessions.transcripts.validator import SessionValidator


@pytest.fixture(scope="session")
def session_manager(pytestconfig: pytest.Config) -> SessionManager:
    """The run's session store, shared by every xdist worker (one manager per process)."""
    from pytest_claude_sessions.redact import Redactor
    from pytest_claude_sessions.store.manager import SessionManager

    run = claude_run.of(pytestconfig)
    # the user's patterns redact the store, the ids and the reports too, not only the cassettes
    redactor = Redactor(run.settings.cassette_redact)
    return SessionManager(run.run_dir, run_id=run.run_id or None, redactor=redactor)


@pytest.fixture
def session_tracker(
    request: pytest.FixtureRequest, session_manager: SessionManager
) -> Iterator[SessionTracker]:
    """The session chain of this test node for this run (agent id: the node id or claude_session(agent=))."""
    item = request.node
    # the state first: a test whose markers are bad still gets its row in the reports
    test = state(item, claude_run.of(request.config))
    per_test.budget_limits(item)  # a bad claude_budget value errors at set-up, before any call
    agent = per_test.agent_id(item)
    # Trackers come from the process-wide manager: one store (one lock object per journal) per process.
    tracker = session_manager.tracker(agent)
    # the tracker's id: a secret in the node id (a parametrize id) is masked there, once
    test.tracker, test.agent_id, test.start_step = tracker, tracker.agent_id, len(tracker.session_chain)
    yield tracker
    per_test.finish_record(item, test)


@pytest.fixture
def claude_api_stub() -> Iterator[MessagesStub]:
    """A loopback Messages API stub for this test; ``claude_executor`` talks to it when both are used."""
    from pytest_claude_sessions.stub.server import MessagesStub

    with MessagesStub() as stub:
        yield stub


@pytest.fixture
def claude_executor(
    request: pytest.FixtureRequest, session_tracker: SessionTracker, tmp_path: Path
) -> Iterator[ClaudeExecutor]:
    """A ``ClaudeExecutor`` bound to the test's tracker, isolated under the test's tmp path."""
    executor = per_test.build_executor(request, claude_run.of(request.config), session_tracker, tmp_path)
    yield executor
    executor.close()


@pytest.fixture
def claude_transcripts(claude_executor: ClaudeExecutor) -> SessionValidator:
    """The CLI transcripts of this test (a ``SessionValidator`` bound to the executor's config dir)."""
    return claude_executor.validator


@pytest.fixture
def claude_session_history(request: pytest.FixtureRequest, session_manager: SessionManager) -> SessionHistory:
    """Chains this test node recorded in earlier runs of the store, newest first."""
    from pytest_claude_sessions.store.runs import SessionHistory

    run = claude_run.of(request.config)
    agent = session_manager.redactor.redact_id(per_test.agent_id(request.node))  # as its tracker names it
    return SessionHistory(run.settings.sessions_dir, agent, exclude=run.run_dir)


@pytest.fixture
def claude_cassette(request: pytest.FixtureRequest) -> Iterator[CassetteInterceptor]:
    """This test's cassette (a ``CassetteInterceptor``): saved at teardown unless the test failed.

    Under replay no call reaches the CLI, so ``claude_api_stub`` (still started: a call that records
    needs it) sees no request. ``claude_cassette.replaying`` says whether every call of this test
    replays; guard assertions on stub traffic with it, or use each result's ``replayed``.
    """
    __tracebackhide__ = True
    from pytest_claude_sessions.plugin import cassette_item

    run = claude_run.of(request.config)
    cassette = cassette_item.start(request.node, run)
    yield cassette.interceptor
    cassette_item.finish(request.node, run, cassette)
