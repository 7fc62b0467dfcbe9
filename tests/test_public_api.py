"""The package root exports what the README documents, and every exported name resolves."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest_claude_sessions as pcs
from pytest_claude_sessions import errors


def test_every_name_in_all_resolves() -> None:
    missing = [name for name in pcs.__all__ if not hasattr(pcs, name)]
    assert missing == []


def test_every_exception_of_the_tree_is_exported_and_rooted() -> None:
    classes = [
        obj for _, obj in inspect.getmembers(errors, inspect.isclass) if obj.__module__ == errors.__name__
    ]
    for cls in classes:
        assert cls.__name__ in pcs.__all__, cls
        if not issubclass(cls, Warning):
            assert issubclass(cls, pcs.ClaudeSessionsError), cls


def test_original_design_signatures() -> None:
    # what users of the original design call (issue 2): these must keep working as written
    assert list(inspect.signature(pcs.SessionTracker).parameters)[:2] == ["agent_id", "persistence_dir"]
    update = inspect.signature(pcs.SessionTracker.update_session).parameters
    assert list(update)[:5] == ["self", "new_session_id", "prompt", "response", "metadata"]
    assert list(inspect.signature(pcs.SessionManager).parameters)[:1] == ["persistence_dir"]
    assert list(inspect.signature(pcs.SessionValidator).parameters)[:1] == ["claude_config_dir"]
    execute = inspect.signature(pcs.ClaudeExecutor.execute_claude).parameters
    assert list(execute)[:4] == ["self", "prompt", "session_id", "working_dir"]


def test_exports_match_all_and_load_lazily() -> None:
    assert set(pcs._EXPORTS) | {"__version__"} == set(pcs.__all__)
    code = (
        "import sys, pytest_claude_sessions\n"
        "print(sorted(m for m in sys.modules if 'executor' in m or 'stub' in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # importing the package (as the pytest entry point does) loads no heavy module
