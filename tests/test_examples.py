"""The shipped example project: it replays offline, and re-records against the stub with the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support_agent"


def _run_example(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:asyncio", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )


def _copy_example(tmp_path: Path) -> Path:
    dest = tmp_path / "support_agent"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".claude_sessions", "__pycache__"))
    return dest


def test_example_suite_replays_with_no_cli(tmp_path: Path) -> None:
    project = _copy_example(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "CLAUDE_BIN"}
    env["PATH"] = str(Path(sys.executable).parent)  # python only: no claude, no node on the path
    proc = _run_example(project, "--claude-json-report=report.json", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "7 passed, 1 skipped" in proc.stdout
    assert "Captured claude sessions call" in proc.stdout
    assert "continuity: ok" in proc.stdout
    assert "mode none: 7 test(s) with cassettes, 12 call(s) replayed, 0 recorded" in proc.stdout
    assert (project / "report.json").is_file()


def test_example_cassettes_rerecord_with_the_real_cli(tmp_path: Path, claude_bin: Path) -> None:
    project = _copy_example(tmp_path)
    shutil.rmtree(project / "tests" / "cassettes")
    env = dict(os.environ)
    proc = _run_example(project, f"--claude-bin={claude_bin}", "--claude-record-mode=once", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "12 recorded, 7 cassette(s) saved" in proc.stdout
    # ...and the fresh recordings replay.
    proc = _run_example(project, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "12 call(s) replayed, 0 recorded" in proc.stdout
