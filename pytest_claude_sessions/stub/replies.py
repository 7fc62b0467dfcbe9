"""What the Messages API stub can answer: text, a tool call, and the faults (HTTP errors, SSE errors,
dropped streams, stalls, delays).

Each reply is a small frozen value checked when it is made, so a bad script fails where it is written, not
when the CLI's request arrives. How a reply goes on the wire is in :mod:`.stub_wire`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from pytest_claude_sessions.errors import StubError

__all__ = [
    "REPLY_TYPES",
    "Delay",
    "DropStream",
    "HttpError",
    "Reply",
    "ReplyKind",
    "ReplySource",
    "SseError",
    "Stall",
    "Text",
    "ToolUse",
    "check_reply",
    "reply_kind",
]


@dataclass(frozen=True)
class Text:
    """An assistant text reply; ``stop_reason`` may be changed (e.g. ``"max_tokens"``)."""

    text: str
    stop_reason: str = "end_turn"

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise StubError(f"Text needs a str, got {type(self.text).__name__}: {self.text!r}")


@dataclass(frozen=True)
class ToolUse:
    """Ask the CLI to run tool ``name`` with ``input`` (optionally after some text).

    The CLI runs it and sends a follow-up request that ends with the ``tool_result``; rules do not answer
    that follow-up (see the module docstring), so unless the queue or the responder does, the default
    reply summarises the tool result and the turn ends.
    """

    name: str
    input: Mapping[str, Any]
    text: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise StubError(f"ToolUse name must be a non-empty tool name, got {self.name!r}")
        if not isinstance(self.input, Mapping):
            raise StubError(
                f"ToolUse({self.name!r}) input must be a mapping, got {type(self.input).__name__}"
            )


@dataclass(frozen=True)
class HttpError:
    """An HTTP error with an Anthropic-style JSON body.

    ``error_type`` and ``message`` default to what the API sends for ``status``. ``should_retry`` sets the
    ``x-should-retry`` header, which the CLI honours (``False``: no retry); ``None`` sends no header.
    """

    status: int
    error_type: str | None = None
    message: str | None = None
    should_retry: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, int) or not 400 <= self.status <= 599:
            raise StubError(f"HttpError status must be an int in 400..599, got {self.status!r}")


@dataclass(frozen=True)
class SseError:
    """A 200 stream that sends ``message_start`` and then an SSE ``event: error``."""

    error_type: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass(frozen=True)
class DropStream:
    """A 200 stream whose connection is closed right after ``message_start``."""


@dataclass(frozen=True)
class Stall:
    """Go silent until :meth:`MessagesStub.stop` or until ``seconds`` (``None``: for ever) elapse.

    By default the response headers and ``message_start`` are sent first: the CLI's ``API_TIMEOUT_MS``
    then does not apply (its stream watchdog waits at least 5 minutes). With ``before_headers=True``
    nothing at all is sent, which ``API_TIMEOUT_MS`` does bound. A non-streaming request always stalls
    before the headers. When the stall ends the connection is closed without finishing the reply.
    """

    seconds: float | None = None
    before_headers: bool = False

    def __post_init__(self) -> None:
        if self.seconds is not None and self.seconds < 0:
            raise StubError(f"Stall seconds must be >= 0 or None, got {self.seconds!r}")


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` (cut short by :meth:`MessagesStub.stop`), then serve ``reply``."""

    seconds: float
    reply: Reply

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise StubError(f"Delay seconds must be >= 0, got {self.seconds!r}")
        check_reply(self.reply, "Delay.reply")


Reply: TypeAlias = str | Text | ToolUse | HttpError | SseError | DropStream | Stall | Delay
REPLY_TYPES = (str, Text, ToolUse, HttpError, SseError, DropStream, Stall, Delay)
ReplyKind = Literal[
    "text", "tool_use", "http_error", "sse_error", "drop_stream", "stall", "not_found", "bad_request"
]
ReplySource = Literal["queue", "rule", "responder", "default", "route"]


def check_reply(reply: object, where: str) -> None:
    if not isinstance(reply, REPLY_TYPES):
        names = ", ".join(t.__name__ for t in REPLY_TYPES)
        raise StubError(f"{where}: a reply must be one of {names}; got {type(reply).__name__}: {reply!r}")


def reply_kind(reply: Reply) -> ReplyKind:
    if isinstance(reply, Delay):
        return reply_kind(reply.reply)
    if isinstance(reply, str | Text):
        return "text"
    if isinstance(reply, ToolUse):
        return "tool_use"
    if isinstance(reply, HttpError):
        return "http_error"
    if isinstance(reply, SseError):
        return "sse_error"
    return "drop_stream" if isinstance(reply, DropStream) else "stall"
