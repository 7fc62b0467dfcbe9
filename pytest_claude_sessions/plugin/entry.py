"""pytest entry point (``pytest11: claude_sessions``): each hook is one line into the run object.

The run object (:mod:`.run`, in ``config.stash``) holds the settings (:mod:`.options`: one table, one
resolver), the run directory, the report and the collector; the per-test logic is in :mod:`.item`
(sessions, checks, records) and :mod:`.cassette_item` (record/replay); reporting in :mod:`.reporting`;
xdist in :mod:`.xdist`. Hook reference: https://docs.pytest.org/en/stable/reference/reference.html#hooks

Start-up cost matters (every pytest run of a project with the plugin installed pays it): the modules
imported here import nothing heavy; per-test hooks are registered only once a test needs them.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

import pytest

from pytest_claude_sessions.plugin import hookspecs, item, options, run as claude_run
from pytest_claude_sessions.plugin.fixtures import (
    claude_api_stub,
    claude_cassette,
    claude_executor,
    claude_session_history,
    claude_transcripts,
    session_manager,
    session_tracker,
)

# The interposed claude's wiring (claude_cli, which tests intercept): loaded and disabled with this plugin.
pytest_plugins = ["pytest_claude_sessions.plugin.intercept"]

__all__ = [
    "claude_api_stub",
    "claude_cassette",
    "claude_executor",
    "claude_session_history",
    "claude_transcripts",
    "session_manager",
    "session_tracker",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.register(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    claude_run.configure(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    claude_run.unconfigure(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return claude_run.of(config).header()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    claude_run.of(config).collection_modifyitems(items)


def pytest_sessionstart(session: pytest.Session) -> None:
    claude_run.of(session.config).session_start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    claude_run.of(session.config).session_finish(session)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    claude_run.of(config).terminal_summary(terminalreporter)


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: object, right: object
) -> list[str] | None:
    return item.compare_repr(op, left, right)
