"""Shared test fixtures: pytester, a clean environment, the real CLI and the loopback stub."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_claude_sessions.stub.server import MessagesStub

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_CLI = REPO_ROOT / ".claude-cli" / "node_modules" / ".bin" / "claude"

# Variables that would leak the outer run's settings into inner pytester runs or into the CLI.
_SCRUB_PREFIXES = ("PYTEST_CLAUDE_", "PYTEST_XDIST_", "ANTHROPIC_")
_SCRUB_NAMES = (
    "CLAUDE_SESSIONS_DIR",
    "CLAUDE_SESSIONS_FSYNC",
    "CLAUDE_SESSIONS_LOCK_TIMEOUT",
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_CODE_MAX_RETRIES",
    "API_TIMEOUT_MS",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_SCRUB_PREFIXES) or name in _SCRUB_NAMES:
            monkeypatch.delenv(name, raising=False)


def find_claude_bin() -> Path | None:
    """The pinned CLI installed by scripts/install-claude-cli.sh, or $CLAUDE_BIN."""
    env = os.environ.get("CLAUDE_BIN")
    for candidate in (Path(env) if env else None, LOCAL_CLI):
        if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """Path of the real Claude Code CLI; fails under CI when missing, skips elsewhere with the fix."""
    found = find_claude_bin()
    if found is None:
        msg = (
            f"the Claude Code CLI is not installed at {LOCAL_CLI} (nor $CLAUDE_BIN); "
            "run: bash scripts/install-claude-cli.sh"
        )
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return found


@pytest.fixture
def api_stub() -> Iterator[MessagesStub]:
    """A fresh loopback Messages API stub for one test."""
    from pytest_claude_sessions.stub.server import MessagesStub

    with MessagesStub() as stub:
        yield stub
