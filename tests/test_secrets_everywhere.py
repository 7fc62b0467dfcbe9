"""Secrets planted in every input of a run (a prompt of the agent's own `claude` process and of the executor,
the CLI's stderr, a metadata key, a parametrize id, an agent id, the environment) reach no file the run
wrote and no line of our terminal output: store, run directory, cassettes, JSON and HTML reports, baseline,
junit, the report sections and the summary."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# each built so a single rule must catch it: a key by pattern, literals by the environment
ANTHROPIC_KEY = "sk-ant-api03-" + "Q7" * 24
BEARER = "Bearer " + "tokZ9" * 8
AWS_SECRET = "aws_secret_access_key=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"[:40]
ENV_TOKEN = "literal-service-token-4411"  # in MY_SERVICE_TOKEN: only its literal value gives it away
ENV_KEY = "plainkeyvalue-90817263"  # in OTHER_API_KEY
PARAM_SECRET = "sk-ant-api03-" + "P3" * 24
AGENT_SECRET = "sk-ant-api03-" + "G5" * 24
META_SECRET = "sk-ant-api03-" + "M8" * 24

# the secret's distinctive part: a redactor that keeps a prefix readable must still drop these
NEEDLES = {
    "anthropic key": "Q7Q7Q7Q7Q7Q7",
    "bearer token": "tokZ9tokZ9",
    "aws secret": "wJalrXUtnFEMI",
    "env token": ENV_TOKEN,
    "env key": ENV_KEY,
    "parametrize id": "P3P3P3P3P3P3",
    "agent id": "G5G5G5G5G5G5",
    "metadata key": "M8M8M8M8M8M8",
    "user pattern": "internal-ticket-4242",  # a claude_cassette_redact pattern of the project
}

FAKE_CLI = """#!/bin/sh
# the real CLI, except for a prompt asking it to fail: then it echoes the key variables on stderr
for a in "$@"; do
  case "$a" in
    *PLEASE-FAIL*) echo "auth failed for token $MY_SERVICE_TOKEN key $OTHER_API_KEY" >&2; exit 1 ;;
  esac
done
exec "{real}" "$@"
"""

SUITE = f"""
import json
import subprocess

import pytest

KEY = {ANTHROPIC_KEY!r}
BEARER = {BEARER!r}
AWS = {AWS_SECRET!r}


def ask(prompt, *more):
    done = subprocess.run(
        ["claude", "-p", prompt, "--output-format", "json", *more], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.claude_cassette
@pytest.mark.claude_session(agent="agent-" + {AGENT_SECRET!r}, expect_continuity=True)
def test_the_agents_own_claude(claude_api_stub, session_tracker):
    first = ask("remember " + KEY + " and " + BEARER + " for internal-ticket-4242")
    again = ask("and " + AWS + "?", "--resume", first["session_id"])
    assert again["session_id"] == first["session_id"]


@pytest.mark.claude_cassette
@pytest.mark.parametrize("value", ["x"], ids=["id-" + {PARAM_SECRET!r}])
def test_the_executor_with_a_secret_id(claude_api_stub, claude_executor, session_tracker, value):
    claude_executor.run("the key is " + KEY)
    session_tracker.update_session(
        "00000000-0000-4000-8000-000000000001", "p " + BEARER, "r", metadata={{{META_SECRET!r}: "value"}}
    )


def test_a_failing_cli_echoes_the_environment(claude_api_stub, claude_executor):
    claude_executor.run("PLEASE-FAIL with " + KEY)


def test_a_failing_assertion_shows_the_prompt(claude_api_stub, claude_executor):
    result = claude_executor.run("hello " + KEY)
    assert result.result == "never " + BEARER + " " + AWS
"""


def _written_since(root: Path, before: dict[Path, int]) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        # the CLI's own config dir (its transcripts hold the prompt as the agent sent it: the agent's data,
        # written by the CLI, not by the plugin) and the compiled test module (the test's own source)
        dirnames[:] = [d for d in dirnames if d not in (".claude", "__pycache__")]
        for name in filenames:
            path = Path(dirpath, name)
            if before.get(path) != path.stat().st_mtime_ns:
                out.append(path)
    return out


def _leaks(text: str) -> list[str]:
    return [what for what, needle in NEEDLES.items() if needle in text]


@pytest.mark.parametrize("dist", [[], ["-n", "2"]], ids=["no_xdist", "xdist_two"])
def test_no_planted_secret_reaches_any_file_or_the_terminal(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, claude_bin: Path, dist: list[str]
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_TOKEN)
    monkeypatch.setenv("OTHER_API_KEY", ENV_KEY)
    fake = pytester.path / "fake-claude"
    fake.write_text(FAKE_CLI.format(real=claude_bin))
    fake.chmod(0o755)
    pytester.makepyfile(test_inner=SUITE)
    pytester.makeini("[pytest]\nclaude_cassette_redact = internal-ticket-\\d+\n")
    before = {p: p.stat().st_mtime_ns for p in pytester.path.rglob("*") if p.is_file()}
    basetemp = pytester.path / "basetemp"
    result = pytester.runpytest_subprocess(
        *dist,
        f"--basetemp={basetemp}",
        f"--claude-bin={fake}",
        "--claude-record-mode=all",
        "--claude-report=full",
        "--claude-json-report=out/report.json",
        "--claude-html=out/report.html",
        "--claude-save-baseline=out/baseline.json",
        "--junitxml=out/junit.xml",
        "-rA",
        "-l",
        "-p",
        "no:cacheprovider",  # pytest's own cache of node ids, not ours
        "-p",
        "no:asyncio",
    )
    result.assert_outcomes(passed=2, failed=2)
    written = _written_since(pytester.path, before)
    names = {p.name for p in written}
    assert {"report.json", "report.html", "baseline.json", "junit.xml"} <= names
    assert any(p.suffix == ".jsonl" for p in written), "no journal was written: the store was not exercised"
    assert any("cassettes" in p.parts for p in written), "no cassette was recorded"
    leaks = {}
    for path in written:
        if path.parent == pytester.path and path.name in ("stdout", "stderr"):
            continue  # pytester's copy of the terminal, checked below
        text = path.read_bytes().decode("utf-8", "replace")
        if path.name == "junit.xml":
            text = _junit_without_pytests_names(text)
        if _leaks(text):
            leaks[str(path.relative_to(pytester.path))] = _leaks(text)
    assert not leaks, leaks
    terminal = result.stdout.str() + result.stderr.str()
    ours = "\n".join(line for line in terminal.splitlines() if not _is_pytests_own_name_line(line))
    assert not _leaks(ours), f"the terminal shows: {_leaks(ours)}"
    # the secrets were really there to be found: the run saw them, and says so
    assert "[REDACTED:" in terminal
    report = (pytester.path / "out" / "report.json").read_text()
    assert "[REDACTED:" in report
    assert re.search(r"calls that raised|raised", terminal)


def _is_pytests_own_name_line(line: str) -> bool:
    """pytest prints the node id (so the parametrize id) itself; only the plugin's lines are ours."""
    if NEEDLES["parametrize id"] not in line:
        return False
    stripped = line.strip()
    return bool(
        re.match(r"^(PASSED|FAILED|ERROR) test_inner\.py::test_the_executor_with_a_secret_id\[", stripped)
        or re.match(r"^_+ test_the_executor_with_a_secret_id\[.*\] _+$", stripped)
        or re.match(r"^test_inner\.py::test_the_executor_with_a_secret_id\[\S*\] (PASSED|FAILED)", stripped)
        or re.match(r"^\[gw\d\] .*(PASSED|FAILED) test_inner\.py::", stripped)
    )


def _junit_without_pytests_names(text: str) -> str:
    """junit's testcase ``name`` is pytest's rendering of the node id; everything else must be clean."""
    root = ET.fromstring(text)
    for case in root.iter("testcase"):
        case.attrib.pop("name", None)
    return ET.tostring(root, encoding="unicode")
