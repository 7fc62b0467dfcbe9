"""The interposed ``claude`` under the real Claude Agent SDK (Python): the duplex control protocol.

``examples/sdk_agent`` runs in an inner pytest: live with the pinned CLI against the stub (recording; the
SDK's bundled binary is present in this venv, so the recorded CLI version proves the lookup redirect),
then replayed with no CLI on ``PATH`` and no ``--claude-bin``, with and without xdist; a changed callback
decision and a changed prompt are mismatches with a diff.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

# The SDK lives in .sdk/ (scripts/test.sh installs it there, not in the venv: its bundled CLI would change
# the executor's binary discovery for the rest of the suite); only the inner runs get it on PYTHONPATH.
SDK_DIR = Path(__file__).resolve().parent.parent / ".sdk"
pytestmark = pytest.mark.skipif(
    not (SDK_DIR / "claude_agent_sdk").is_dir(), reason=f"claude-agent-sdk is not installed in {SDK_DIR}"
)


@pytest.fixture(autouse=True)
def _sdk_on_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(SDK_DIR), os.environ.get("PYTHONPATH")) if p)
    )


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sdk_agent"
TEST_FILE = "tests/test_sdk_agent.py"


def _project(pytester: pytest.Pytester, *, cassettes: bool) -> Path:
    shutil.copy(EXAMPLE / "sdk_agent.py", pytester.path / "sdk_agent.py")
    shutil.copy(EXAMPLE / "pytest.ini", pytester.path / "pytest.ini")
    (pytester.path / "tests").mkdir(exist_ok=True)
    shutil.copy(EXAMPLE / TEST_FILE, pytester.path / TEST_FILE)
    if cassettes:
        shutil.copytree(EXAMPLE / "tests" / "cassettes", pytester.path / "tests" / "cassettes")
    return pytester.path


@pytest.fixture
def no_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = tmp_path / "only-python"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}")
    monkeypatch.delenv("CLAUDE_BIN", raising=False)


def test_sdk_agent_records_live_then_replays_without_a_cli(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _project(pytester, cassettes=False)
    live = pytester.runpytest_subprocess(
        "-p", "no:asyncio", "--claude-record-mode=once", f"--claude-bin={claude_bin}"
    )
    live.assert_outcomes(passed=3)
    live.stdout.fnmatch_lines(["*0 call(s) replayed, 5 recorded, 3 cassette(s) saved*"])
    client = (
        pytester.path / "tests" / "cassettes" / "test_sdk_agent" / "test_client_turns_run_the_callbacks.json"
    )
    (interaction,) = json.loads(client.read_text(encoding="utf-8"))["interactions"]
    sent = [e.get("message", {}) for e in interaction["response"]["stdin"]]
    asked = [
        line for line in interaction["response"]["stdout"]["lines"] if line.get("type") == "control_request"
    ]
    subtypes = {line["request"]["subtype"] for line in asked}
    assert {"hook_callback", "can_use_tool", "mcp_message"} <= subtypes, subtypes
    assert sum(1 for m in sent if m.get("type") == "control_response") == len(asked)
    assert interaction["request"]["options"]["opening"]["request"]["subtype"] == "initialize"

    bin_dir = tmp_path / "only-python"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}")
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    before = client.read_bytes()
    for extra in ([], ["-n", "2"]):
        replayed = pytester.runpytest_subprocess("-p", "no:asyncio", *extra)
        replayed.assert_outcomes(passed=3)
        replayed.stdout.fnmatch_lines(
            ["*5 call(s) replayed, 0 recorded*", "*0 errors, 0 continuity failures*"]
        )
    assert client.read_bytes() == before


def test_a_changed_callback_decision_is_a_mismatch(pytester: pytest.Pytester, no_cli: None) -> None:
    project = _project(pytester, cassettes=True)
    path = project / TEST_FILE
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "bot = Assistant(tmp_path)", "bot = Assistant(tmp_path, allow_writes=False)"
        ),
        encoding="utf-8",
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-k", "callbacks")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "*replayed claude process*(the answer to the CLI's control request *) differs from the*",
            '*-      "behavior": "allow",*',
            '*+      "behavior": "deny",*',
            "*Re-record the test with: pytest tests/test_sdk_agent.py::test_client_turns_run_the_callbacks*",
        ]
    )


def test_a_changed_prompt_in_a_client_turn_is_a_mismatch(pytester: pytest.Pytester, no_cli: None) -> None:
    project = _project(pytester, cassettes=True)
    path = project / TEST_FILE
    path.write_text(
        path.read_text(encoding="utf-8").replace('"look up order 42")', '"look up order 43")'),
        encoding="utf-8",
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-k", "callbacks")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "*(a user message: the prompt changed?) differs from the recording*",
            '*-    "content": "look up order 42",*',
            '*+    "content": "look up order 43",*',
        ]
    )
