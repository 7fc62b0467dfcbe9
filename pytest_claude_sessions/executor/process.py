"""Running one CLI process, sync or async, with a timeout that really stops it.

The child runs in its own session (``start_new_session=True``). On timeout, error or cancellation its
whole process group (the CLI and the ``git``/``rg`` children it spawns) and every descendant found through
``/proc`` (the CLI starts Bash tools in sessions of their own) get SIGTERM, a short grace, then SIGKILL.
Output read so far is kept. stdin is always ``DEVNULL``: with an open pipe the CLI waits 3 s and appends
whatever arrives to the prompt.

Nothing here ever blocks on a pipe that a leftover process may hold open: the sync path reads with a
selector in the calling thread, the async path polls the exit status instead of awaiting pipe closure.
Once the CLI has exited, its output pipes get ``ORPHAN_GRACE`` seconds to reach end-of-file; after that
whatever still holds them is killed (its process group) and the call returns with what was read.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from pytest_claude_sessions.models import CliOutcome

TERM_GRACE = 0.5  # seconds between SIGTERM and SIGKILL; the CLI exits within ~40 ms of SIGTERM
ORPHAN_GRACE = 1.0  # seconds the pipes may stay open after the CLI exited (its children finishing)
DRAIN_TIME = 0.5  # seconds to collect output still buffered in the pipes after a kill
STREAM_LIMIT = 64 * 1024 * 1024  # asyncio line limit: a stream-json init line can be large
_POLL = 0.25  # seconds between exit-status checks while output is quiet
_READ_SIZE = 65536

LineCallback = Callable[[str, float], object]
AsyncLineCallback = Callable[[str, float], object | Awaitable[object]]


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(pgid, sig)


def _signal_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux ``/proc``; empty elsewhere), found through parent links.

    Needed because the CLI runs tools such as Bash in their *own* session, out of reach of ``killpg``.
    """
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def _signal_tree(pid: int, family: list[int], sig: int) -> None:
    _signal_group(pid, sig)
    for member in family:
        _signal_pid(member, sig)


def _decode(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode("utf-8", errors="replace")


class _Lines:
    """Splits stdout bytes into lines for ``on_line`` while keeping every byte for the outcome."""

    def __init__(self, start: float, on_line: LineCallback | None) -> None:
        self.start = start
        self.on_line = on_line
        self.chunks: list[bytes] = []
        self.pending = b""

    def feed(self, data: bytes) -> list[str]:
        self.chunks.append(data)
        if self.on_line is None:
            return []
        self.pending += data
        *complete, self.pending = self.pending.split(b"\n")
        return [line.decode("utf-8", errors="replace") + "\n" for line in complete]

    def tail(self) -> list[str]:
        rest, self.pending = self.pending, b""
        return [rest.decode("utf-8", errors="replace")] if rest and self.on_line is not None else []

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def _sync_terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    family = descendants(proc.pid)  # before any signal: once the CLI dies its children are re-parented
    _signal_tree(proc.pid, family, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # Always SIGKILL: children can outlive the CLI, ignore SIGTERM, or sit in a session of their own.
    _signal_tree(proc.pid, family, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


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

    No event loop and no helper threads, so it is safe inside a running asyncio loop. Raises ``OSError``
    when the process cannot be started; any exception from ``on_line`` kills the process tree and
    propagates.
    """
    __tracebackhide__ = True  # its errors surface through the executor: show the user's call instead
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
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    lines = _Lines(start, on_line)
    err: list[bytes] = []
    selector = selectors.DefaultSelector()
    for fd in (out_fd, err_fd):
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)

    def pump(wait: float) -> list[str]:
        """Read what is ready within ``wait`` seconds; returns complete stdout lines."""
        ready: list[str] = []
        for key, _ in selector.select(wait):
            fd = int(key.fd)
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(fd)
            elif fd == out_fd:
                ready += lines.feed(data)
            else:
                err.append(data)
        return ready

    timed_out = False
    try:
        exited_at: float | None = None
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at >= ORPHAN_GRACE:
                _signal_group(proc.pid, signal.SIGKILL)  # leftovers of the CLI hold its pipes open
                break
            for line in pump(min(deadline - now, _POLL)):
                if on_line is not None:
                    on_line(line, lines.elapsed())
        if not timed_out:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.001))
            except subprocess.TimeoutExpired:
                timed_out = True  # the CLI closed its output but did not exit
        if timed_out:
            _sync_terminate(proc, grace)
            drain_until = time.monotonic() + DRAIN_TIME
            while selector.get_map() and time.monotonic() < drain_until:
                pump(drain_until - time.monotonic())  # partial output only: no more callbacks
        else:
            for line in lines.tail():
                if on_line is not None:
                    on_line(line, lines.elapsed())
    except BaseException:
        _sync_terminate(proc, grace)
        raise
    finally:
        selector.close()
        proc.stdout.close()
        proc.stderr.close()
    return CliOutcome(
        returncode=None if timed_out else proc.returncode,
        stdout=_decode(lines.chunks),
        stderr=_decode(err),
        elapsed=time.monotonic() - start,
        timed_out=timed_out,
    )


async def _exited(proc: asyncio.subprocess.Process, within: float) -> bool:
    """Whether the process exits within ``within`` seconds (polled: ``wait()`` also waits for the pipes)."""
    until = time.monotonic() + within
    while proc.returncode is None and time.monotonic() < until:
        await asyncio.sleep(0.02)
    return proc.returncode is not None


async def _async_terminate(proc: asyncio.subprocess.Process, grace: float) -> None:
    family = descendants(proc.pid)
    _signal_tree(proc.pid, family, signal.SIGTERM)
    await _exited(proc, grace)
    _signal_tree(proc.pid, family, signal.SIGKILL)
    await _exited(proc, grace)


def _close_transport(proc: asyncio.subprocess.Process) -> None:
    # Pipes a leftover process still holds would keep the transport open until the loop closes.
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()


async def run_async(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: AsyncLineCallback | None = None,
    grace: float = TERM_GRACE,
) -> CliOutcome:
    """The asyncio twin of :func:`run_sync`; ``on_line`` may be a plain function or return an awaitable."""
    __tracebackhide__ = True  # its errors surface through the executor: show the user's call instead
    start = time.monotonic()
    deadline = start + timeout
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

    readers = asyncio.gather(read_out(), read_err())
    timed_out = False
    try:
        exited_at: float | None = None
        while not readers.done():
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            if exited_at is None and proc.returncode is not None:
                exited_at = now
            if exited_at is not None and now - exited_at >= ORPHAN_GRACE:
                _signal_group(proc.pid, signal.SIGKILL)  # leftovers of the CLI hold its pipes open
                break
            await asyncio.wait({readers}, timeout=min(deadline - now, _POLL))
        if readers.done():
            readers.result()  # an exception from on_line propagates here
            try:  # the pipes are at end-of-file, so wait() no longer waits for them
                await asyncio.wait_for(proc.wait(), max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                timed_out = proc.returncode is None  # the CLI closed its output but did not exit
        if timed_out:
            await _async_terminate(proc, grace)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(readers), DRAIN_TIME)  # take what the pipes still hold
    except BaseException:
        # Cancelled, or on_line raised: never leave the CLI running behind the caller's back.
        _signal_tree(proc.pid, descendants(proc.pid), signal.SIGKILL)
        with contextlib.suppress(BaseException):  # a second cancellation must not mask the first
            await _exited(proc, grace)
        raise
    finally:
        if not readers.done():
            readers.cancel()
            with contextlib.suppress(BaseException):
                await readers
        _close_transport(proc)
    return CliOutcome(
        returncode=None if timed_out else proc.returncode,
        stdout=_decode(out),
        stderr=_decode(err),
        elapsed=time.monotonic() - start,
        timed_out=timed_out,
    )
