"""The live relay of the interposed ``claude``: signals reach the CLI, and the CLI dies with the launcher.

These use the plugin's own ``claude_cli`` fixture in this suite (live: no cassette), the real CLI and a
stub that never answers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from pytest_claude_sessions import MessagesStub, Stall
from pytest_claude_sessions.plugin.intercept import ClaudeCli


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _gone(marker: str, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _processes_with(marker):
            return True
        time.sleep(0.1)
    return False


def _wait_for_request(stub: MessagesStub, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not stub.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stub.requests, "the CLI never reached the stub"


@pytest.fixture
def live(claude_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_BIN", str(claude_bin))


pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")


def test_a_callers_timeout_kills_the_cli_too(
    live: None, claude_api_stub: MessagesStub, claude_cli: ClaudeCli, claude_executor: object
) -> None:
    claude_api_stub.enqueue(Stall())
    marker = f"hang-{uuid.uuid4().hex}"
    with pytest.raises(subprocess.TimeoutExpired):
        # subprocess.run kills the launcher (SIGKILL) on timeout: nothing can be forwarded
        subprocess.run(
            ["claude", "-p", "--output-format", "json", "--", marker],
            capture_output=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
    assert _gone(marker), f"the real CLI outlived its launcher: {_processes_with(marker)}"
    failures = claude_executor.failures  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while not failures and time.monotonic() < deadline:
        time.sleep(0.1)
        failures = claude_executor.failures  # type: ignore[attr-defined]
    assert failures, "the killed call is not among the calls that raised"
    assert "ended before the CLI did" in (failures[0].error or "")


def test_sigterm_reaches_the_cli(live: None, claude_api_stub: MessagesStub, claude_cli: ClaudeCli) -> None:
    claude_api_stub.enqueue(Stall())
    marker = f"term-{uuid.uuid4().hex}"
    proc = subprocess.Popen(
        ["claude", "-p", "--output-format", "json", "--", marker],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        _wait_for_request(claude_api_stub)
        os.kill(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143  # the CLI's own answer to SIGTERM, passed through
    assert out == b""
    assert _gone(marker)


def test_version_probe_passes_through(live: None, claude_cli: ClaudeCli) -> None:
    done = subprocess.run(["claude", "-v"], capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.strip() == "2.1.330 (Claude Code)"
    assert claude_cli.calls == 0  # a probe is no call
