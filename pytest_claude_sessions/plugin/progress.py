"""The progress line of a long live call: with ``-v`` on a terminal, a live ``stream-json`` call shows one
line after the test's name — its turn, the tool calls so far and the elapsed time — redrawn on each
stream-json event and wiped when the process ends. Nothing when the output is not a terminal (a pipe, a
CI log, an xdist worker), nothing without ``-v``, nothing for replayed calls or ``json`` calls (they have no
events).

The line is drawn after the cursor (save cursor, text, clear to the end of the line, restore cursor), so
pytest's own line (``test_x.py::test_a PASSED [ 50%]``) is written exactly as without it. Only numbers are
shown: nothing the agent wrote reaches the terminal.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_claude_sessions.executor.parsing import StreamEvent

SAVE, RESTORE, CLEAR = "\x1b7", "\x1b8", "\x1b[K"


class ProgressLine:
    """A :class:`~pytest_claude_sessions.executor.ProgressObserver` drawing one updating line."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._reset()

    def _reset(self) -> None:
        self.turns = 0
        self.tools = 0
        self.shown = False
        self._messages: set[str] = set()

    def text(self, elapsed: float) -> str:
        tools = f"{self.tools} tool call{'' if self.tools == 1 else 's'}"
        return f"  claude: turn {max(self.turns, 1)}, {tools}, {elapsed:.1f}s"

    def event(self, event: StreamEvent) -> None:
        if event.type == "assistant":
            # The CLI writes an assistant message block by block, each as an event with the message's id.
            message = event.raw.get("message")
            key = message.get("id") if isinstance(message, dict) else None
            if not isinstance(key, str) or key not in self._messages:
                self.turns += 1
                if isinstance(key, str):
                    self._messages.add(key)
        self.tools += len(event.tool_names)
        self._write(SAVE + self.text(event.elapsed) + CLEAR + RESTORE)
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self._write(SAVE + CLEAR + RESTORE)
        self._reset()


def progress_for(config: pytest.Config) -> ProgressLine | None:
    """The progress line for this process's live calls, or ``None``: not ``-v``, not a terminal, a worker."""
    if config.get_verbosity() < 1 or hasattr(config, "workerinput"):
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not getattr(reporter, "isatty", False):
        return None
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(text: str) -> None:
        # The test's output is captured (fd level): the line goes past the capture to the terminal.
        disabled = capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
        with disabled:
            sys.stdout.write(text)
            sys.stdout.flush()

    return ProgressLine(write)
