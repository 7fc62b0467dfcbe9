"""Running one CLI process, sync or async, with a timeout that really stops it.

The child runs in its own session (``start_new_session=True``), so on timeout, error or cancellation the
whole process group (the CLI and the ``git``/``rg``/tool children it spawns) gets SIGTERM, a short grace,
then SIGKILL. Output read so far is kept. stdin is always ``DEVNULL``: with an open pipe the CLI waits 3 s
and appends whatever arrives to the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from .models import CliOutcome

TERM_GRACE = 0.5  # seconds between SIGTERM and SIGKILL; the CLI exits within ~40 ms of SIGTERM
STREAM_LIMIT = 64 * 1024 * 1024  # asyncio line limit: a stream-json init line can be large
_READ_SIZE = 65536

LineCallback = Callable[[str, float], object]


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(pgid, sig)


def _decode(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode("utf-8", errors="replace")


def _pump_lines(stream: IO[bytes], sink: queue.SimpleQueue[bytes | None]) -> None:
    try:
        for line in iter(stream.readline, b""):
            sink.put(line)
    except (OSError, ValueError):
        pass  # pipe closed under us during teardown
    finally:
        sink.put(None)


def _pump_chunks(stream: IO[bytes], chunks: list[bytes]) -> None:
    read1 = getattr(stream, "read1", stream.read)
    try:
        while chunk := read1(_READ_SIZE):
            chunks.append(chunk)
    except (OSError, ValueError):
        pass


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # Always SIGKILL the group: children can outlive (or ignore SIGTERM unlike) the CLI itself.
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def run_sync(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: LineCallback | None = None,
    grace: float = TERM_GRACE,
) -> CliOutcome:
    """Run ``argv`` to completion or ``timeout``; ``on_line(line, elapsed)`` is called in this thread.

    Uses threads (never an event loop), so it is safe inside a running asyncio loop. Raises ``OSError``
    when the process cannot be started; any exception from ``on_line`` kills the group and propagates.
    """
    start = time.monotonic()
    deadline = start + timeout
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=_pump_lines, args=(proc.stdout, lines), daemon=True, name="claude-stdout"),
        threading.Thread(target=_pump_chunks, args=(proc.stderr, err), daemon=True, name="claude-stderr"),
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            try:
                item = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if item is None:
                break
            out.append(item)
            if on_line is not None:
                on_line(item.decode("utf-8", errors="replace"), time.monotonic() - start)
        if not timed_out:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.001))
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out:
            _terminate(proc, grace)
    except BaseException:
        _terminate(proc, grace)
        raise
    finally:
        for reader in readers:
            reader.join(timeout=2.0)
        # Lines that arrived between the timeout and the kill are part of the partial output.
        while True:
            try:
                item = lines.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                out.append(item)
        for stream in (proc.stdout, proc.stderr):
            stream.close()
    return CliOutcome(
        returncode=None if timed_out else proc.returncode,
        stdout=_decode(out),
        stderr=_decode(err),
        elapsed=time.monotonic() - start,
        timed_out=timed_out,
    )


async def _aterminate(proc: asyncio.subprocess.Process, grace: float) -> None:
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)
    _signal_group(proc.pid, signal.SIGKILL)
    await proc.wait()


async def run_async(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: Callable[[str, float], object | Awaitable[object]] | None = None,
    grace: float = TERM_GRACE,
) -> CliOutcome:
    """The asyncio twin of :func:`run_sync`; ``on_line`` may be a plain function or return an awaitable."""
    start = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=STREAM_LIMIT,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    stdout, stderr = proc.stdout, proc.stderr
    out: list[bytes] = []
    err: list[bytes] = []

    async def read_out() -> None:
        while line := await stdout.readline():
            out.append(line)
            if on_line is not None:
                ret = on_line(line.decode("utf-8", errors="replace"), time.monotonic() - start)
                if inspect.isawaitable(ret):
                    await ret

    async def read_err() -> None:
        while chunk := await stderr.read(_READ_SIZE):
            err.append(chunk)

    async def body() -> None:
        await asyncio.gather(read_out(), read_err())
        await proc.wait()

    timed_out = False
    try:
        await asyncio.wait_for(body(), timeout)
    except TimeoutError:
        timed_out = True
        await _aterminate(proc, grace)
    except BaseException:
        # Cancelled, or on_line raised: never leave the CLI running behind the caller's back.
        _signal_group(proc.pid, signal.SIGKILL)
        # A second cancellation while reaping must not mask the first error.
        with contextlib.suppress(BaseException):
            await asyncio.shield(proc.wait())
        raise
    return CliOutcome(
        returncode=None if timed_out else proc.returncode,
        stdout=_decode(out),
        stderr=_decode(err),
        elapsed=time.monotonic() - start,
        timed_out=timed_out,
    )
