"""The progress line of live calls: a real pytest run under a pseudo-terminal (``-v``), the real CLI against
the stub with a tool call, and the same run into a pipe (nothing drawn) and without ``-v``."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from inner_runs import INI, clean_env

from pytest_claude_sessions.executor.parsing import decode_line, make_event
from pytest_claude_sessions.plugin.progress import CLEAR, RESTORE, SAVE, ProgressLine

SAMPLES = Path(__file__).parent / "data" / "samples"

SUITE = """
from pytest_claude_sessions.stub import ToolUse


def test_live(claude_api_stub, claude_executor, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("the answer is 42")
    claude_api_stub.enqueue(ToolUse("Read", {"file_path": str(notes)}, text="Reading."), "It says 42.")
    result = claude_executor.run("read my notes", output_format="stream-json", allowed_tools=["Read"])
    assert "42" in result.result


def test_json_call(claude_api_stub, claude_executor):
    claude_executor.run("hello")
"""


def test_the_line_counts_turns_and_tools_of_real_events() -> None:
    written: list[str] = []
    line = ProgressLine(written.append)
    lines = (SAMPLES / "stream_json_tool_use.jsonl").read_text().splitlines()
    for n, raw in enumerate(lines):
        decoded = decode_line(raw)
        assert decoded is not None
        line.event(make_event(decoded, elapsed=n * 1.5, index=n))
    # two assistant messages (the first written as two events: its text, then its tool call), one tool
    assert (line.turns, line.tools) == (2, 1)
    assert written[-1] == SAVE + "  claude: turn 2, 1 tool call, 7.5s" + CLEAR + RESTORE
    assert all(w.startswith(SAVE) and w.endswith(RESTORE) and "\n" not in w for w in written)
    line.done()
    assert written[-1] == SAVE + CLEAR + RESTORE
    assert (line.turns, line.tools, line.shown) == (0, 0, False)
    line.done()  # nothing shown: nothing to wipe
    assert len(written) == len(lines) + 1


def _project(tmp_path: Path, claude: Path) -> tuple[Path, list[str], dict[str, str]]:
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "test_inner.py").write_text(SUITE)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--claude-bin={claude}"]
    return tmp_path, argv, clean_env(COLUMNS="120", TERM="xterm")


def _in_a_pty(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            out += data
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        code = proc.wait(timeout=60)
    return code, bytes(out)


def test_a_live_call_shows_one_updating_line_on_a_terminal(claude_bin: Path, tmp_path: Path) -> None:
    cwd, argv, env = _project(tmp_path, claude_bin)
    # live calls, recorded into cassettes for the replay below
    code, out = _in_a_pty([*argv, "-v", "--claude-cassettes", "--claude-record-mode=once"], cwd, env)
    text = out.decode("utf-8", "replace")
    assert code == 0, text
    drawn = [part.split(CLEAR)[0] for part in text.split(SAVE)[1:] if part.split(CLEAR)[0]]
    assert drawn, text
    assert all(d.startswith("  claude: turn ") for d in drawn), drawn
    # the tool call the stub asked for shows up, the turn goes on after its result
    assert any(", 1 tool call, " in d for d in drawn), drawn
    assert any(d.startswith("  claude: turn 2, ") for d in drawn), drawn
    # wiped once the process ended, before pytest writes the outcome on the same line
    live = text[text.index("test_inner.py::test_live") :]
    assert SAVE + CLEAR + RESTORE in live[: live.index("PASSED")]
    # the json call has no events: nothing is drawn while it runs
    json_line = text[text.index("test_inner.py::test_json_call") :]
    assert SAVE not in json_line[: json_line.index("PASSED")]
    # replayed from the cassettes: no live event, nothing drawn
    code, out = _in_a_pty([*argv, "-v", "--claude-cassettes"], cwd, env)
    assert code == 0 and b"2 call(s) replayed" in out, out
    assert SAVE.encode() not in out


def test_nothing_is_drawn_into_a_pipe_or_without_verbose(claude_bin: Path, tmp_path: Path) -> None:
    cwd, argv, env = _project(tmp_path, claude_bin)
    piped = subprocess.run([*argv, "-v"], cwd=cwd, env=env, capture_output=True, timeout=600, check=False)
    assert piped.returncode == 0, piped.stdout
    assert b"test_live PASSED" in piped.stdout and SAVE.encode() not in piped.stdout + piped.stderr
    code, out = _in_a_pty(argv, cwd, env)  # a terminal, but no -v
    assert code == 0, out
    assert SAVE.encode() not in out


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
