"""Hook specifications this plugin adds (registered through ``pytest_addhooks``).

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_claude_sessions.executor.executor import ClaudeExecutor


@pytest.hookspec
def pytest_claude_sessions_executor(executor: ClaudeExecutor, request: pytest.FixtureRequest) -> None:
    """Called when the ``claude_executor`` fixture has built a test's executor, before the test uses it.

    Implement it in a ``conftest.py`` or a plugin to adjust the executor: add ``executor.guards``, set
    ``executor.interceptor`` (record/replay), change ``executor.env``.
    """
