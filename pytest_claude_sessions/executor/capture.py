"""Bounded capture of a process's output: a capped head and tail, and lines cut to a maximum length.

A hostile or broken CLI can print without end (a flood under a hung call) or one line of tens of MB. The
executor and the interposed ``claude`` keep at most ``head`` + ``tail`` bytes of each stream, say how many
were dropped in between, and hand complete lines to a callback only up to ``max_line`` bytes (a longer
line is counted, not delivered). Every operation is O(size of the data fed), never of what was kept: a
flood costs neither memory nor time beyond the caps.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Capture", "CaptureLimits", "LineSplitter"]


@dataclass(frozen=True)
class CaptureLimits:
    """How much of each stream is kept (bytes): ``head`` from the start, ``tail`` from the end; ``max_line``
    bounds one stdout line handed to a line callback (and so one stream-json event)."""

    stdout_head: int = 24 * 1024 * 1024
    stdout_tail: int = 8 * 1024 * 1024
    stderr_head: int = 64 * 1024
    stderr_tail: int = 256 * 1024
    max_line: int = 16 * 1024 * 1024


DEFAULT_LIMITS = CaptureLimits()


class Capture:
    """The first ``head`` and the last ``tail`` bytes of a stream, and how many bytes fell in between."""

    def __init__(self, head: int, tail: int) -> None:
        self.head_limit = head
        self.tail_limit = tail
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data or self.tail_limit <= 0:
            return
        if len(data) >= self.tail_limit:
            self._tail.clear()
            self._tail.append(bytes(data[-self.tail_limit :]))
            self._tail_size = self.tail_limit
            return
        self._tail.append(bytes(data))
        self._tail_size += len(data)
        while self._tail_size - len(self._tail[0]) >= self.tail_limit:
            self._tail_size -= len(self._tail.popleft())

    @property
    def dropped(self) -> int:
        """Bytes neither in the head nor in the tail."""
        return max(0, self.total - len(self._head) - min(self._tail_size, self.tail_limit))

    def getvalue(self) -> bytes:
        """Head and tail joined (the tail trimmed to its limit); a marker stands where bytes were dropped."""
        tail = b"".join(self._tail)
        if len(tail) > self.tail_limit:
            tail = tail[-self.tail_limit :]
        if self.dropped:
            marker = f"\n[... {self.dropped} bytes dropped by pytest-claude-sessions ...]\n".encode()
            return bytes(self._head) + marker + tail
        return bytes(self._head) + tail

    def text(self) -> str:
        return self.getvalue().decode("utf-8", errors="replace")


class LineSplitter:
    """Splits a byte stream into complete lines (with their ``\\n``) of at most ``max_line`` bytes.

    A longer line is skipped whole and counted in ``skipped``: what is pending never exceeds ``max_line``.
    """

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._oversized = False  # inside a line already longer than max_line: drop until its end
        self.skipped = 0

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._add(data[start:])
                return lines
            self._add(data[start : end + 1])
            if self._oversized:
                self.skipped += 1
            else:
                lines.append(b"".join(self._pending))
            self._pending, self._pending_size, self._oversized = [], 0, False
            start = end + 1

    def _add(self, piece: bytes) -> None:
        if not piece or self._oversized:
            return
        if self._pending_size + len(piece) > self.max_line:
            self._pending, self._pending_size, self._oversized = [], 0, True
            return
        self._pending.append(piece)
        self._pending_size += len(piece)

    def rest(self) -> bytes:
        """The unterminated last line (empty if none, or if it was too long: then it counts as skipped)."""
        if self._oversized:
            self.skipped += 1
            rest = b""
        else:
            rest = b"".join(self._pending)
        self._pending, self._pending_size, self._oversized = [], 0, False
        return rest
