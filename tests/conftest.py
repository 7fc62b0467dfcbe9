"""Shared test fixtures: pytester, a clean environment, the real CLI and the loopback stub."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def hide_every_claude(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, tools: Iterable[str] = ()) -> None:
    """No claude CLI anywhere for this test and its inner runs: PATH holds only the interpreter's
    directory, no $CLAUDE_BIN, and claude-agent-sdk's bundled binary (a test extra) is shadowed by an
    empty package of that name (in-process runs and subprocesses alike). ``tools`` (e.g. ``sh``) stay
    reachable, linked into that directory."""
    bin_dir = tmp_path / "only-python"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}")
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    shadow = tmp_path / "no-sdk"
    (shadow / "claude_agent_sdk").mkdir(parents=True, exist_ok=True)
    (shadow / "claude_agent_sdk" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(shadow))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))
    )
    for name in [m for m in sys.modules if m == "claude_agent_sdk" or m.startswith("claude_agent_sdk.")]:
        monkeypatch.delitem(sys.modules, name)


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


def run_cli(
    claude_bin: Path, prompt: str, *options: str, cwd: Path, env: Mapping[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """The real CLI once, ``-p --output-format json``, as a user would run it (the prompt after ``--``).
    The timeout makes a hang fail the test instead of blocking the suite."""
    return subprocess.run(
        [str(claude_bin), "-p", "--output-format", "json", *options, "--", prompt],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_cli_json(
    claude_bin: Path, prompt: str, *options: str, cwd: Path, env: Mapping[str, str]
) -> dict[str, Any]:
    """:func:`run_cli`, its JSON result (the CLI's stderr in the failure when it printed none)."""
    proc = run_cli(claude_bin, prompt, *options, cwd=cwd, env=env)
    assert proc.stdout.strip(), f"no JSON from the CLI (rc {proc.returncode}): {proc.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result
