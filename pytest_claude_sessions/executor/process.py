"""Running one CLI process, sync or async, with a timeout that really stops it.

The child runs in its own session (``start_new_session=True``). On timeout, error or cancellation its
whole process group (the CLI and the ``git``/``rg`` children it spawns) and every descendant found through
``/proc`` (the CLI starts Bash tools in sessions of their own) get SIGTERM, a short grace, then SIGKILL.
Output read so far is kept, capped (:mod:`.capture`: a head and a tail, the bytes dropped in between
counted). stdin is ``DEVNULL`` unless the caller gives bytes (with an open pipe the CLI waits 3 s and
appends whatever arrives to the prompt, so the executor never opens one).

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
from typing import Any

from pytest_claude_sessions.executor.capture import DEFAULT_LIMITS, Capture, CaptureLimits, LineSplitter
from pytest_claude_sessions.models import CliOutcome

TERM_GRACE = 0.5  # seconds between SIGTERM and SIGKILL; the CLI exits within ~40 ms of SIGTERM
ORPHAN_GRACE = 1.0  # seconds the pipes may stay open after the CLI exited (its children finishing)
DRAIN_TIME = 0.5  # seconds to collect output still buffered in the pipes after a kill
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


class _Streams:
    """What one run keeps of its output (capped, :mod:`.capture`) and the stdout lines for ``on_line``."""

    def __init__(self, limits: CaptureLimits, start: float, want_lines: bool) -> None:
        self.start = start
        self.out = Capture(limits.stdout_head, limits.stdout_tail)
        self.err = Capture(limits.stderr_head, limits.stderr_tail)
        self.lines = LineSplitter(limits.max_line) if want_lines else None

    def stdout(self, data: bytes) -> list[str]:
        self.out.feed(data)
        if self.lines is None:
            return []
        return [line.decode("utf-8", errors="replace") for line in self.lines.feed(data)]

    def stderr(self, data: bytes) -> None:
        self.err.feed(data)

    def rest(self) -> list[str]:
        """The unterminated last stdout line, for ``on_line`` once the process is done."""
        rest = self.lines.rest() if self.lines is not None else b""
        return [rest.decode("utf-8", errors="replace")] if rest else []

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def outcome(self, returncode: int | None, timed_out: bool) -> CliOutcome:
        return CliOutcome(
            returncode=None if timed_out else returncode,
            stdout=self.out.text(),
            stderr=self.err.text(),
            elapsed=self.elapsed(),
            timed_out=timed_out,
            stdout_dropped=self.out.dropped,
            stderr_dropped=self.err.dropped,
        )


def _sync_terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    family = descendants(proc.pid)  # before any signal: once the CLI dies its children are re-parented
    _signal_tree(proc.pid, family, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # Always SIGKILL: children can outlive the CLI, ignore SIGTERM, or sit in a session of their own.
    _signal_tree(proc.pid, family, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


class _Pump:
    """The sync run's pipes behind one selector: stdin written as the child takes it, output read."""

    def __init__(self, proc: subprocess.Popen[bytes], streams: _Streams, stdin: bytes | None) -> None:
        assert proc.stdout is not None
        assert proc.stderr is not None
        self.proc, self.streams = proc, streams
        self.out_fd, self.err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        self.selector = selectors.DefaultSelector()
        for fd in (self.out_fd, self.err_fd):
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ)
        self.in_fd: int | None = None
        self.pending_in = memoryview(stdin or b"")
        if proc.stdin is not None:
            self.in_fd = proc.stdin.fileno()
            os.set_blocking(self.in_fd, False)
            self.selector.register(self.in_fd, selectors.EVENT_WRITE)

    @property
    def reading(self) -> bool:
        """Whether an output pipe is still open (stdin does not count)."""
        return any(key.fd != self.in_fd for key in self.selector.get_map().values())

    def _write(self) -> None:
        assert self.in_fd is not None
        try:
            written = os.write(self.in_fd, self.pending_in[:_READ_SIZE]) if self.pending_in else 0
        except BlockingIOError:
            return
        except OSError:  # the child closed its stdin (BrokenPipe): it reads no more
            written = len(self.pending_in)
        self.pending_in = self.pending_in[written:]
        if not self.pending_in:
            self.selector.unregister(self.in_fd)
            assert self.proc.stdin is not None
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            self.in_fd = None

    def pump(self, wait: float) -> list[str]:
        """Move what is ready within ``wait`` seconds; returns complete stdout lines."""
        ready: list[str] = []
        for key, _ in self.selector.select(wait):
            fd = int(key.fd)
            if fd == self.in_fd:
                self._write()
                continue
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                continue
            if not data:
                self.selector.unregister(fd)
            elif fd == self.out_fd:
                ready += self.streams.stdout(data)
            else:
                self.streams.stderr(data)
        return ready

    def close(self) -> None:
        self.selector.close()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


def _sync_loop(pump: _Pump, deadline: float, on_line: LineCallback | None) -> bool:
    """Read until the output ends, the CLI exited ``ORPHAN_GRACE`` ago, or the deadline (then ``True``)."""
    proc, streams = pump.proc, pump.streams
    exited_at: float | None = None
    while pump.reading:
        now = time.monotonic()
        if now >= deadline:
            return True
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at >= ORPHAN_GRACE:
            _signal_group(proc.pid, signal.SIGKILL)  # leftovers of the CLI hold its pipes open
            break
        for line in pump.pump(min(deadline - now, _POLL)):
            if on_line is not None:
                on_line(line, streams.elapsed())
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0.001))
    except subprocess.TimeoutExpired:
        return True  # the CLI closed its output but did not exit
    return False


def run_sync(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: LineCallback | None = None,
    grace: float = TERM_GRACE,
    stdin: bytes | None = None,
    limits: CaptureLimits = DEFAULT_LIMITS,
) -> CliOutcome:
    """Run ``argv`` to completion or ``timeout``; ``on_line(line, elapsed)`` is called in this thread.

    ``stdin``: bytes for the process to read (``None``: ``/dev/null``). Output is kept per ``limits``.
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
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    streams = _Streams(limits, start, on_line is not None)
    pump = _Pump(proc, streams, stdin)
    try:
        timed_out = _sync_loop(pump, deadline, on_line)
        if timed_out:
            _sync_terminate(proc, grace)
            drain_until = time.monotonic() + DRAIN_TIME
            while pump.reading and time.monotonic() < drain_until:
                pump.pump(drain_until - time.monotonic())  # partial output only: no more callbacks
        elif on_line is not None:
            for line in streams.rest():
                on_line(line, streams.elapsed())
    except BaseException:
        _sync_terminate(proc, grace)
        raise
    finally:
        pump.close()
    return streams.outcome(proc.returncode, timed_out)


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


async def _feed_stdin(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    with contextlib.suppress(OSError):  # the child may close its stdin early (BrokenPipe): fine
        proc.stdin.write(data)
        await proc.stdin.drain()
    with contextlib.suppress(OSError):
        proc.stdin.close()


async def _read_all(
    proc: asyncio.subprocess.Process, streams: _Streams, on_line: AsyncLineCallback | None
) -> None:
    """Read both pipes to their end in chunks (never ``readline``: a line has no length limit here)."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    stdout, stderr = proc.stdout, proc.stderr

    async def read_out() -> None:
        while chunk := await stdout.read(_READ_SIZE):
            for line in streams.stdout(chunk):
                await _call(on_line, line, streams.elapsed())
        for line in streams.rest():
            await _call(on_line, line, streams.elapsed())

    async def read_err() -> None:
        while chunk := await stderr.read(_READ_SIZE):
            streams.stderr(chunk)

    await asyncio.gather(read_out(), read_err())


async def _call(on_line: AsyncLineCallback | None, line: str, elapsed: float) -> None:
    if on_line is not None:
        ret = on_line(line, elapsed)
        if inspect.isawaitable(ret):
            await ret


async def _async_loop(
    proc: asyncio.subprocess.Process, readers: asyncio.Future[Any], deadline: float
) -> bool:
    """Wait for the readers (or the orphan grace, or the deadline); ``True``: timed out."""
    exited_at: float | None = None
    while not readers.done():
        now = time.monotonic()
        if now >= deadline:
            return True
        if exited_at is None and proc.returncode is not None:
            exited_at = now
        if exited_at is not None and now - exited_at >= ORPHAN_GRACE:
            _signal_group(proc.pid, signal.SIGKILL)  # leftovers of the CLI hold its pipes open
            return False
        await asyncio.wait({readers}, timeout=min(deadline - now, _POLL))
    readers.result()  # an exception from on_line propagates here
    try:  # the pipes are at end-of-file, so wait() no longer waits for them
        await asyncio.wait_for(proc.wait(), max(deadline - time.monotonic(), 0.001))
    except TimeoutError:
        return proc.returncode is None  # the CLI closed its output but did not exit
    return False


async def run_async(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: AsyncLineCallback | None = None,
    grace: float = TERM_GRACE,
    stdin: bytes | None = None,
    limits: CaptureLimits = DEFAULT_LIMITS,
) -> CliOutcome:
    """The asyncio twin of :func:`run_sync`; ``on_line`` may be a plain function or return an awaitable."""
    __tracebackhide__ = True  # its errors surface through the executor: show the user's call instead
    start = time.monotonic()
    deadline = start + timeout
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    streams = _Streams(limits, start, on_line is not None)
    feeder = asyncio.ensure_future(_feed_stdin(proc, stdin)) if stdin is not None else None
    readers = asyncio.ensure_future(_read_all(proc, streams, on_line))
    timed_out = False
    try:
        timed_out = await _async_loop(proc, readers, deadline)
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
        for task in (readers, feeder):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        _close_transport(proc)
    return streams.outcome(proc.returncode, timed_out)
