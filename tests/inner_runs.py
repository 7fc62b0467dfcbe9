"""Real pytest runs in a directory of their own (a subprocess: module-scoped fixtures can share them), with
the real CLI against the loopback stub, leaving a real store. Used by the command, HTML and gate tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
_SCRUB_PREFIXES = ("PYTEST_CLAUDE_", "PYTEST_XDIST_", "ANTHROPIC_", "PYTEST_ADDOPTS")

# SUITE_VARIANT=2 makes test_chain one resume longer, drops test_gone and adds test_added: the diff sees
# a changed, a gone and an added test.
SUITE = """
import os
import pytest

VARIANT = os.environ.get("SUITE_VARIANT", "1")


@pytest.mark.claude_session(expect_continuity=True)
def test_chain(claude_api_stub, claude_executor):
    claude_executor.run("my name is Alice")
    claude_executor.resume("what is my name?")
    if VARIANT == "2":
        claude_executor.resume("and once more?")
    claude_executor.fork("fork it")


def test_fails(claude_api_stub, claude_executor):
    claude_executor.run("hello there")
    assert 1 == 2, "deliberate"


def test_raises(claude_api_stub, claude_executor):
    with pytest.raises(Exception):
        claude_executor.run("are you there?", resume="00000000-0000-4000-8000-000000000000")


def test_plain():
    pass


if VARIANT == "1":
    def test_gone(claude_api_stub, claude_executor):
        claude_executor.run("only in the first run")
else:
    def test_added(claude_api_stub, claude_executor):
        claude_executor.run("only in the second run")
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    env.pop("CLAUDE_CONFIG_DIR", None)
    env.update(extra)
    return env


def run_pytest(
    directory: Path, *args: str, suite: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` in ``directory`` (made, with the ini and ``test_inner.py`` when given)."""
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "pytest.ini").exists():
        (directory / "pytest.ini").write_text(INI)
    if suite is not None:
        (directory / "test_inner.py").write_text(suite)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--strict-markers", *args],
        cwd=directory,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def claude_sessions(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    script = Path(sys.executable).with_name("claude-sessions")
    return subprocess.run(
        [str(script), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# A cassette suite for the regression gate and the plugin's HTML report: GATE_VARIANT=more makes test_chain
# one resume longer (one more call, turn and its cost), test_steady stays the same.
GATE_SUITE = """
import os
import pytest

pytestmark = pytest.mark.claude_cassette
MORE = os.environ.get("GATE_VARIANT") == "more"


@pytest.mark.claude_session(expect_continuity=True)
def test_chain(claude_api_stub, claude_executor):
    claude_executor.run("my name is Alice")
    claude_executor.resume("what is my name?")
    if MORE:
        claude_executor.resume("and once more?")


def test_steady(claude_api_stub, claude_executor):
    claude_executor.run("hello there")


def test_plain():
    pass
"""


def record_gate_cassettes(directory: Path, claude: Path) -> Path:
    """Record both variants of :data:`GATE_SUITE` with the real CLI against the stub, into
    ``cassettes-base/`` and ``cassettes-more/`` (replay them with ``--claude-cassette-dir``)."""
    for variant in ("base", "more"):
        done = run_pytest(
            directory,
            "--claude-record-mode=once",
            f"--claude-bin={claude}",
            f"--claude-cassette-dir=cassettes-{variant}",
            f"--claude-sessions-dir=.store-record-{variant}",
            suite=GATE_SUITE,
            env=clean_env(GATE_VARIANT=variant),
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return directory


def replay_gate(
    directory: Path, variant: str, *args: str, store: str = ".claude_sessions", pythonpath: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Replay one variant (mode none: no CLI is run) with the given options (``pythonpath``: a directory
    of optional plugins put first on the inner run's path)."""
    env = clean_env(GATE_VARIANT=variant)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    return run_pytest(
        directory,
        f"--claude-cassette-dir=cassettes-{variant}",
        f"--claude-sessions-dir={store}",
        *args,
        env=env,
    )
