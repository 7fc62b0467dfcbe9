"""An intercepted test on a machine with no claude CLI at all: what the agent and the executor are told."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import hide_every_claude

NO_CLI_SUITE = """
import subprocess

import pytest

from pytest_claude_sessions import ClaudeNotFoundError


@pytest.mark.claude_session
def test_executor_inside(claude_executor):
    with pytest.raises(ClaudeNotFoundError) as info:
        claude_executor.run("hello")
    assert "PATH:" in str(info.value)  # the executor looked past the interposed claude, for the real one


def test_agent_process(claude_cli):
    proc = subprocess.run(
        ["claude", "-p", "--output-format", "json", "hello"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    print("AGENT STDERR<<" + proc.stderr + ">>")
"""


def test_no_cli_is_a_not_found_error_listing_every_place_tried(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hide_every_claude(monkeypatch, tmp_path)
    pytester.makepyfile(test_nocli=NO_CLI_SUITE)
    result = pytester.runpytest_subprocess("-s", "-rA", "-p", "no:asyncio", "--claude-record-mode=all")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    # the agent's claude prints the whole list (not only its first line): that list is the fix
    stderr = out.split("AGENT STDERR<<", 1)[1].split(">>", 1)[0]
    assert "the claude CLI was not found. Searched:" in stderr, stderr
    assert "$CLAUDE_BIN: not set" in stderr and "PATH:" in stderr, stderr
    assert "Install it" in stderr, stderr
    # one call, one entry among the calls that raised: the real reason, never the launcher run as the CLI
    section = out.split("test_executor_inside", 1)[1]
    assert "ClaudeNotFoundError" in section
    assert "ClaudeProcessError" not in out, out
