"""The process layer under the executor, on real child processes: timeouts, kills, stdin, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from pytest_claude_sessions.executor.process import ORPHAN_GRACE, descendants, run_async, run_sync

# A child that prints, starts a grandchild in a session of its own (as the CLI does for Bash tools), hangs.
KILL_SLACK = 20.0  # far above the kill's own 1.5 s: a loaded machine never fails it, a missing kill does

HANGER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(300)"])
    print("started", flush=True)
    sys.stderr.write("progress on stderr\\n"); sys.stderr.flush()
    time.sleep(300)
    """
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")


def _env(marker: str) -> dict[str, str]:
    return {**os.environ, "PCS_PROCESS_TEST": marker}


def _gone(marker: str, within: float = 10.0) -> bool:
    """True once no process carries ``marker`` (a SIGKILLed process takes a moment to disappear)."""
    deadline = time.monotonic() + within
    while _alive(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _alive(marker: str) -> list[int]:
    needle = f"PCS_PROCESS_TEST={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_timeout_kills_the_group_and_escaped_descendants_keeping_partial_output(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    seen: list[str] = []
    outcome = run_sync(
        [sys.executable, "-c", HANGER],
        cwd=tmp_path,
        env=_env(marker),
        timeout=1.5,
        on_line=lambda line, elapsed: seen.append(line),
    )
    assert outcome.timed_out
    assert outcome.returncode is None
    assert outcome.stdout == "started\n"
    assert seen == ["started\n"]
    assert "progress on stderr" in outcome.stderr
    assert 1.5 <= outcome.elapsed < 1.5 + KILL_SLACK
    assert _gone(marker)


def test_async_timeout_kills_everything_and_does_not_block_the_loop(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    ticks = 0

    async def main() -> None:
        nonlocal ticks
        task = asyncio.create_task(
            run_async([sys.executable, "-c", HANGER], cwd=tmp_path, env=_env(marker), timeout=1.5)
        )
        while not task.done():
            await asyncio.sleep(0.02)
            ticks += 1
        outcome = task.result()
        assert outcome.timed_out
        assert outcome.stdout == "started\n"

    asyncio.run(main())
    assert ticks > 20
    assert _gone(marker)


def test_a_failing_callback_and_a_cancellation_leave_nothing_running(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex

    def boom(line: str, elapsed: float) -> None:
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        run_sync([sys.executable, "-c", HANGER], cwd=tmp_path, env=_env(marker), timeout=30, on_line=boom)
    assert _gone(marker)

    async def cancel_it() -> None:
        task = asyncio.create_task(
            run_async([sys.executable, "-c", HANGER], cwd=tmp_path, env=_env(marker), timeout=30)
        )
        await asyncio.sleep(1.0)
        assert _alive(marker)  # running: the check below can fail
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_it())
    assert _gone(marker)


def test_stdin_is_closed_and_exit_codes_pass_through(tmp_path: Path) -> None:
    code = "import sys; print(repr(sys.stdin.read())); sys.exit(3)"
    outcome = run_sync([sys.executable, "-c", code], cwd=tmp_path, env=_env("x"), timeout=30)
    assert outcome.stdout == "''\n"
    assert outcome.returncode == 3
    assert not outcome.timed_out
    done = asyncio.run(run_async([sys.executable, "-c", code], cwd=tmp_path, env=_env("x"), timeout=30))
    assert (done.stdout, done.returncode) == ("''\n", 3)


def test_descendants_follows_parent_links(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    sleeper = "import time; time.sleep(30)"
    spawner = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", spawner], stdin=subprocess.DEVNULL, env=_env(marker))
    try:
        deadline = time.monotonic() + 10
        while not descendants(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        family = descendants(parent.pid)
        assert len(family) == 1
        assert family[0] in _alive(marker)
        assert descendants(family[0]) == []
    finally:
        for pid in descendants(parent.pid):
            os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()


# Exits at once but leaves a grandchild, in a session of its own, holding stdout and stderr open.
ORPHANER = textwrap.dedent(
    """
    import subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(300)"])
    print("done", flush=True)
    """
)


def _kill_marked(marker: str) -> None:
    for pid in _alive(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_leftover_holding_the_pipes_does_not_hang_the_call(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    try:
        outcome = run_sync([sys.executable, "-c", ORPHANER], cwd=tmp_path, env=_env(marker), timeout=30)
        assert (outcome.returncode, outcome.stdout, outcome.timed_out) == (0, "done\n", False)
        assert outcome.elapsed < ORPHAN_GRACE + KILL_SLACK
        assert _alive(marker)  # the leftover still runs: the call returned without waiting for it
        done = asyncio.run(
            run_async([sys.executable, "-c", ORPHANER], cwd=tmp_path, env=_env(marker), timeout=30)
        )
        assert (done.returncode, done.stdout, done.timed_out) == (0, "done\n", False)
        assert done.elapsed < ORPHAN_GRACE + KILL_SLACK
    finally:
        _kill_marked(marker)
