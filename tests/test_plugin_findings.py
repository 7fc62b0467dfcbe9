"""Plugin behaviour a user's-eye review found missing: calls that raised in every report, continuity that
catches a forgotten ``--resume``, marker cwd, project-local CLI discovery, start-up errors and runs that
execute no test. Inner pytest runs (pytester) with the real CLI against the loopback stub.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import hide_every_claude

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    if not (pytester.path / "pytest.ini").exists():
        pytester.makeini(INI)
    return pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", *args)


RAISING_SUITE = """
import pytest
from pytest_claude_sessions import ClaudeTimeoutError, ClaudeProcessError, Stall

UNKNOWN = "00000000-0000-4000-8000-000000000000"

def test_unknown_session(claude_api_stub, claude_executor):
    claude_executor.run("my name is Alice")
    with pytest.raises(ClaudeProcessError):
        claude_executor.run("are you there?", resume=UNKNOWN)

def test_stall(claude_api_stub, claude_executor):
    claude_executor.timeout = 4  # this call only: the others keep the default (a loaded machine is slow)
    claude_api_stub.enqueue(Stall())
    with pytest.raises(ClaudeTimeoutError):
        claude_executor.run("hang please")
"""


@pytest.mark.parametrize("dist", [[], ["-n", "2"]], ids=["no_xdist", "xdist_two"])
def test_calls_that_raised_are_in_section_summary_json_and_junit(
    pytester: pytest.Pytester, claude_bin: Path, dist: list[str]
) -> None:
    pytester.makepyfile(test_inner=RAISING_SUITE)
    result = run(
        pytester,
        *dist,
        f"--claude-bin={claude_bin}",
        "-rA",
        "--junitxml=junit.xml",
        "--claude-json-report=r.json",
    )
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    # Per-test sections: the raised call's kind, session (the one a resume named, '-' for a new call that
    # never started a session) and error, under the steps that did run.
    result.stdout.fnmatch_lines(
        [
            "calls that raised (1, no step recorded):",
            "kind * session id * prompt * error",
            "resume  00000000-0000-4000-8000-000000000000  'are you there?'  ClaudeProcessError: *",
        ]
    )
    assert re.search(r"\(no step recorded\)\n.*\n.*calls that raised", out)
    assert re.search(
        r"^resume .*'are you there\?'  ClaudeProcessError: .*; stderr: No conversation found with "
        r"session ID: "
        r"00000000-0000-4000-8000-000000000000$",
        out,
        re.M,
    )
    assert re.search(r"^new\s+-\s+'hang please'\s+ClaudeTimeoutError: .*4s", out, re.M)
    # The summary counts both as errors (nothing else errored), and the JSON report and junit carry them.
    result.stdout.fnmatch_lines(
        ["2 tests, 1 call, 1 distinct session, total cost $0.*, 1 turn, 2 errors (2 raised), *"]
    )
    report = json.loads((pytester.path / "r.json").read_text())
    assert (report["totals"]["errors"], report["totals"]["failed_calls"]) == (2, 2)
    by_node = {t["nodeid"]: t for t in report["tests"]}
    stall = by_node["test_inner.py::test_stall"]
    assert stall["calls"] == 0 and stall["steps"] == []
    (failed,) = stall["failed_calls"]
    assert (failed["kind"], failed["prompt"], failed["error_type"]) == (
        "new",
        "hang please",
        "ClaudeTimeoutError",
    )
    assert 4 <= failed["elapsed"] < 4 + 120  # killed on time; the margin is for a loaded machine
    unknown = by_node["test_inner.py::test_unknown_session"]
    assert [f["session_id"] for f in unknown["failed_calls"]] == ["00000000-0000-4000-8000-000000000000"]
    assert (
        "No conversation found" in unknown["failed_calls"][0]["error"] + unknown["failed_calls"][0]["stderr"]
    )
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    }
    assert props["test_stall"]["claude_errors"] == "1"
    assert props["test_unknown_session"]["claude_errors"] == "1"
    assert props["test_unknown_session"]["claude_calls"] == "1"


FORGOT_RESUME_SUITE = """
import pytest

@pytest.mark.claude_session(expect_continuity=True)
def test_forgot_resume(claude_api_stub, claude_executor):
    claude_executor.run("my name is Alice")
    claude_executor.run("what is my name?")   # the bug: run() instead of resume()

@pytest.mark.claude_session(expect_continuity=True, allow_new_sessions=True)
def test_two_conversations_on_purpose(claude_api_stub, claude_executor):
    claude_executor.run("my name is Alice")
    claude_executor.resume("what is my name?")
    claude_executor.run("my name is Bob")

@pytest.mark.claude_session(expect_continuity=True)
def test_fork_is_a_continuation(claude_api_stub, claude_executor):
    claude_executor.run("my name is Alice")
    claude_executor.fork("what is my name?")
"""


def test_expect_continuity_catches_a_forgotten_resume(pytester: pytest.Pytester, claude_bin: Path) -> None:
    pytester.makepyfile(test_inner=FORGOT_RESUME_SUITE)
    result = run(pytester, f"--claude-bin={claude_bin}", "--claude-report=full")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    match = re.search(
        rf"session chain is not continuous:\n  step 2 started a new session ({UUID}) instead of continuing "
        rf"({UUID}) \(a forgotten --resume\?",
        out,
    )
    assert match and match.group(1) != match.group(2)
    result.stdout.fnmatch_lines(["*test_forgot_resume  failed  2 calls, 2 sessions, *CONTINUITY BROKEN"])
    result.stdout.fnmatch_lines(
        ["*test_two_conversations_on_purpose  passed  3 calls, 2 sessions, *continuity ok"]
    )
    result.stdout.fnmatch_lines(["*test_fork_is_a_continuation  passed  2 calls, 2 sessions, *continuity ok"])


CWD_SUITE = """
import pytest

@pytest.mark.claude_session(cwd="sub/dir")
def test_relative(claude_api_stub, claude_executor, tmp_path):
    assert claude_executor.cwd == tmp_path / "sub" / "dir"
    assert claude_executor.run("hello").ok

@pytest.mark.claude_session(cwd="/nonexistent/pcs-dir")
def test_missing(claude_executor):
    pass
"""


def test_marker_cwd_is_under_tmp_path_and_a_missing_one_names_the_marker(
    pytester: pytest.Pytester, claude_bin: Path
) -> None:
    pytester.makepyfile(test_inner=CWD_SUITE)
    result = run(pytester, f"--claude-bin={claude_bin}")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*claude_session(cwd='/nonexistent/pcs-dir'): /nonexistent/pcs-dir is not a directory "
            "(a relative cwd is taken under the test's tmp_path; an absolute one must exist)"
        ]
    )
    assert not (pytester.path / "sub").exists()  # not resolved against the process cwd


PROJECT_CLI_SUITE = """
def test_finds_the_projects_cli(claude_api_stub, claude_executor):
    assert claude_executor.run("hello").ok
    assert str(claude_executor.claude_bin).endswith("node_modules/.bin/claude")
"""


def test_project_local_cli_is_found_and_shown_in_the_header(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``npm install`` put the CLI in the project's node_modules: no --claude-bin, not on PATH."""
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    monkeypatch.delenv("PYTEST_CLAUDE_BIN", raising=False)
    monkeypatch.setenv(
        "PATH",
        os.pathsep.join(
            p for p in os.environ["PATH"].split(os.pathsep) if p and not (Path(p) / "claude").exists()
        ),
    )
    assert shutil.which("claude") is None
    hide_every_claude(monkeypatch, pytester.path / "elsewhere")  # nor claude-agent-sdk's bundled one
    local = pytester.path / "node_modules" / ".bin"
    local.mkdir(parents=True)
    (local / "claude").symlink_to(claude_bin)
    pytester.makepyfile(test_inner=PROJECT_CLI_SUITE)
    result = run(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"claude-sessions: * bin={pytester.path.resolve() / 'node_modules/.bin/claude'}"]
    )
    (local / "claude").unlink()
    result = run(pytester, "-p", "no:xdist")
    result.stdout.fnmatch_lines(["claude-sessions: * bin=not found"])
    result.stdout.fnmatch_lines(["*ClaudeNotFoundError*"])


def test_unwritable_json_report_is_a_usage_error_at_start_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="def test_x(): pass")
    (pytester.path / "taken").mkdir()
    (pytester.path / "afile").write_text("")
    result = run(pytester, "--claude-json-report=taken")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"*--claude-json-report: invalid value '{pytester.path / 'taken'}' (from command line): cannot "
            "write there: it is a directory"
        ]
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "claude_json_report=afile/r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--claude-json-report: invalid value 'afile/r.json' (from -o claude_json_report on the command "
            "line): *afile is not a directory"
        ]
    )
    assert not (pytester.path / ".claude_sessions").exists()


@pytest.mark.parametrize("flag", ["--claude-cassettes-unused", "--claude-prune-cassettes"])
def test_cassette_housekeeping_creates_no_run_and_prunes_nothing(
    pytester: pytest.Pytester, flag: str
) -> None:
    pytester.makepyfile(test_inner="def test_x(): pass")
    runs_dir = pytester.path / ".claude_sessions" / "runs"
    old = [runs_dir / f"2020-01-01T00-00-0{i}.000000Z-00000{i}" for i in range(3)]
    for path in old:
        (path / "chains").mkdir(parents=True)
    run(pytester, flag, "--claude-keep-runs=1")
    assert sorted(runs_dir.iterdir()) == old
    result = run(pytester, "--claude-keep-runs=1")
    result.assert_outcomes(passed=1)
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []  # a real run prunes (then discards itself)


INHERITED_MARKS_SUITE = """
import pytest

@pytest.mark.claude_integration
class TestMarkedClass:
    def test_a(self):
        pass

    def test_b(self):
        pass

def test_unmarked():
    pass
"""


def test_integration_marker_is_seen_on_classes_and_modules(pytester: pytest.Pytester) -> None:
    """Markers are read once per parent node: a class's or a module's marker reaches each of its tests."""
    pytester.makepyfile(test_class=INHERITED_MARKS_SUITE)
    pytester.makepyfile(
        test_module="import pytest\npytestmark = pytest.mark.claude_integration\n\ndef test_m(): pass\n"
    )
    result = run(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=1, skipped=3)


def test_controllers_starting_at_once_on_one_store_never_crash_each_other(pytester: pytest.Pytester) -> None:
    """Several pytest runs share one store and start together: each creates its run and prunes the others
    (keep 1) while they are being created; none may fail (no FileNotFoundError/FileExistsError)."""
    import subprocess
    import sys

    pytester.makeini(INI)
    pytester.makepyfile(
        test_inner="""
        def test_step(session_tracker):
            session_tracker.update_session("00000000-0000-4000-8000-000000000001", "p", "r", cost_usd=0.01)
        """
    )
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--claude-keep-runs=1"]
    for _round in range(3):
        procs = [
            subprocess.Popen(
                args, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for _ in range(6)
        ]
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        for proc, out in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, out
            assert "Error" not in out and "INTERNALERROR" not in out, out
    runs_dir = pytester.path / ".claude_sessions" / "runs"
    assert not [p for p in runs_dir.iterdir() if p.name.startswith(".creating-")]  # no staging left
