"""The interposed ``claude`` with an agent that runs the CLI itself (subprocess, a shell, two at once).

The agent is ``examples/subprocess_agent`` as shipped: its suite runs in an inner pytest (pytester), live
with the real CLI against the stub (recording), then replayed with no CLI on ``PATH`` and no
``--claude-bin``, with and without xdist; a changed prompt and a missing cassette fail with what to do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import hide_every_claude

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "subprocess_agent"


def _project(pytester: pytest.Pytester, *, cassettes: bool) -> Path:
    shutil.copy(EXAMPLE / "notes_agent.py", pytester.path / "notes_agent.py")
    shutil.copy(EXAMPLE / "pytest.ini", pytester.path / "pytest.ini")
    tests = pytester.path / "tests"
    tests.mkdir(exist_ok=True)
    shutil.copy(EXAMPLE / "tests" / "test_notes_agent.py", tests / "test_notes_agent.py")
    if cassettes:
        shutil.copytree(EXAMPLE / "tests" / "cassettes", tests / "cassettes", dirs_exist_ok=True)
    return pytester.path


@pytest.fixture
def no_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the python interpreter's directory and the shell's on PATH: no claude, no node."""
    hide_every_claude(monkeypatch, tmp_path, tools=("sh", "printf"))


def test_record_live_then_replay_without_a_cli(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _project(pytester, cassettes=False)
    recorded = pytester.runpytest_subprocess(
        "--claude-record-mode=once", f"--claude-bin={claude_bin}", "-p", "no:asyncio", "--junitxml=live.xml"
    )
    recorded.assert_outcomes(passed=5)
    recorded.stdout.fnmatch_lines(["*0 call(s) replayed, 9 recorded, 5 cassette(s) saved*"])
    # every intercepted call is a step of its test, exactly like an executor call (section, summary)
    recorded.stdout.fnmatch_lines(["*5 tests, 8 calls, * 1 error (1 raised)*"])
    cassette = pytester.path / "tests" / "cassettes" / "test_notes_agent" / "test_fork_and_continue.json"
    data = json.loads(cassette.read_text(encoding="utf-8"))
    assert [i["request"]["kind"] for i in data["interactions"]] == ["new", "fork", "continue"]
    assert [i["request"]["output_format"] for i in data["interactions"]] == ["stream-json", "json", "json"]
    junit = ET.parse(pytester.path / "live.xml").getroot()
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert any(name.startswith("claude_") for name in props), props

    hide_every_claude(monkeypatch, tmp_path, tools=("sh", "printf"))
    before = cassette.read_bytes()
    for extra in ([], ["-n", "2"]):
        replayed = pytester.runpytest_subprocess("-p", "no:asyncio", "--claude-json-report=r.json", *extra)
        replayed.assert_outcomes(passed=5)
        replayed.stdout.fnmatch_lines(["*9 call(s) replayed, 0 recorded*"])
        report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
        steps = [s for t in report["tests"] for s in t.get("steps", [])]
        assert len(steps) == 8, report  # 9 processes, one of which raised (an unknown session)
    assert cassette.read_bytes() == before


def test_a_changed_prompt_fails_with_a_diff(pytester: pytest.Pytester, no_cli: None) -> None:
    project = _project(pytester, cassettes=True)
    test_file = project / "tests" / "test_notes_agent.py"
    test_file.write_text(
        test_file.read_text(encoding="utf-8").replace('ask("my name is Alice")', 'ask("I am Alice")'),
        encoding="utf-8",
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-k", "resume_remembers")
    result.assert_outcomes(failed=1, deselected=4)
    result.stdout.fnmatch_lines(
        [
            "*Claude call #1 does not match the next recorded interaction*differing on: prompt*",
            '*-  "prompt": "my name is Alice",*',
            '*+  "prompt": "I am Alice",*',
            "*re-record with: pytest tests/test_notes_agent.py::test_resume_remembers_the_name "
            "--claude-record-mode=rewrite",
            # the process itself exited non-zero with the reason on one line
            "*the test body then raised AgentError: claude (pytest-claude-sessions): Claude call #1 does*",
        ]
    )


def test_a_miss_without_a_cassette_names_the_command_that_records(
    pytester: pytest.Pytester, no_cli: None
) -> None:
    _project(pytester, cassettes=False)
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-k", "shell_pipeline")
    result.assert_outcomes(failed=1, deselected=4)
    result.stdout.fnmatch_lines(
        [
            "*Claude call #1 has no cassette to replay from*does not exist*",
            # pasteable: --claude-bin is added when the default lookup would not find the CLI
            "Record it with: pytest tests/test_notes_agent.py::test_shell_pipeline*--claude-record-mode=once",
        ]
    )


def test_a_call_outside_any_test_is_refused(tmp_path: Path) -> None:
    from pytest_claude_sessions.intercept.bindir import write_launcher

    launcher = write_launcher(tmp_path / "bin", str(tmp_path / "no-server"))
    done = subprocess.run(
        [str(launcher), "-p", "hello"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "cannot reach the test's intercept server" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one line: what, where


def test_the_shipped_example_replays_with_no_cli(pytester: pytest.Pytester, no_cli: None) -> None:
    _project(pytester, cassettes=True)
    result = pytester.runpytest_subprocess("-p", "no:asyncio")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*9 call(s) replayed, 0 recorded*", "*0 continuity failures*"])


def test_a_live_call_in_a_replaying_test_is_an_error(pytester: pytest.Pytester, claude_bin: Path) -> None:
    pytester.makepyfile(
        test_bypass=f"""
        import json, subprocess, pytest

        @pytest.mark.claude_cassette
        def test_bypasses(claude_api_stub, claude_cli):
            subprocess.run([{str(claude_bin)!r}, "-p", "--output-format", "json", "--", "hi"],
                           env={{**__import__("os").environ, **claude_api_stub.env()}},
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        """
    )
    cassettes = pytester.path / "cassettes" / "test_bypass"
    cassettes.mkdir(parents=True)
    (cassettes / "test_bypasses.json").write_text(
        json.dumps(
            {"format": "pytest-claude-sessions/cassette", "version": 1, "header": {}, "interactions": []}
        ),
        encoding="utf-8",
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*this test replays its cassette, yet the Messages API stub got 1 request(s)*"]
    )
