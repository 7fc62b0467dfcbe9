"""Hook specifications this plugin adds (registered through ``pytest_addhooks``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .executor import ClaudeExecutor


@pytest.hookspec
def pytest_claude_sessions_executor(executor: ClaudeExecutor, request: pytest.FixtureRequest) -> None:
    """Called when the ``claude_executor`` fixture has built a test's executor, before the test uses it.

    Implement it in a ``conftest.py`` or a plugin to adjust the executor: add ``executor.guards``, set
    ``executor.interceptor`` (record/replay), change ``executor.env``.
    """
