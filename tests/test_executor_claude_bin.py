"""The suite's ``claude_bin`` fixture: the real-CLI tests fail under CI when the binary is missing.

The fixture is the one in tests/conftest.py, loaded as is into a pytester project where the pinned CLI
is not installed (its ``.claude-cli`` would sit next to the pytester directory).
"""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

USES_THE_CLI = """
def test_needs_the_cli(claude_bin):
    assert claude_bin.is_file()
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    conftest = CONFTEST.read_text(encoding="utf-8")
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_cli=USES_THE_CLI)
    assert not (pytester.path.parent / ".claude-cli").exists()
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    return pytester


def test_missing_cli_fails_under_ci(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the Claude Code CLI is not installed at*run: bash scripts/install-claude-cli.sh*"]
    )


def test_missing_cli_skips_with_the_fix_elsewhere(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*run: bash scripts/install-claude-cli.sh*"])


def test_claude_bin_env_points_at_the_cli(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, claude_bin: Path
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("CLAUDE_BIN", str(claude_bin))
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
