"""A loopback stub of the Anthropic Messages API that the real Claude Code CLI can talk to (stdlib only).

Start it, point the CLI at it with :meth:`MessagesStub.env`, and every model turn is answered locally::

    with MessagesStub() as stub:
        stub.add_rule("deploy", ToolUse("Read", {"file_path": str(path)}))
        env = {**os.environ, **stub.env()}
        subprocess.run([claude, "-p", "--output-format", "json", "--", "deploy it"], env=env, ...)
        assert stub.requests[-1].prompt == "deploy it"

What it serves: ``POST /v1/messages`` whatever the query string (the CLI sends ``?beta=true``), as an SSE
stream when the body says ``"stream": true`` and as a plain JSON Message otherwise (the CLI's fallback
after a broken stream). Any other path gets a 404 with an Anthropic-style error body; it is logged, so a
surprise shows up in :attr:`MessagesStub.requests`.

How a reply is chosen, first match wins:

1. the FIFO queue (:meth:`~MessagesStub.enqueue`): every ``/v1/messages`` request takes the next entry,
   whatever it is -- a tool follow-up and a non-streaming fallback each take one;
2. the rules (:meth:`~MessagesStub.add_rule`), tried in the order added, against the latest *real* user
   prompt. Rules only answer requests whose last message is a prompt: the CLI's follow-up after a tool
   call ends with a ``tool_result`` (and still carries the original prompt), so a rule that answers with
   :class:`ToolUse` would otherwise call the tool for ever;
3. the :attr:`~MessagesStub.responder` callable, given the whole :class:`Conversation`; ``None`` passes;
4. the default reply, deterministic and conversation-aware (see :func:`default_reply`).

Replies are a plain ``str`` or one of :class:`Text`, :class:`ToolUse`, :class:`HttpError`,
:class:`SseError`, :class:`DropStream`, :class:`Stall` and :class:`Delay`. Stream faults
(:class:`SseError`, :class:`DropStream`) chosen for a non-streaming request are answered with the default
reply instead, which is what lets the CLI's fallback succeed as it does against the real API.

The default reply's vocabulary (details in :func:`default_reply`); every answer ends with ``[turn N]``,
N being the number of real user prompts in the request:

- ``my name is X`` -> ``Nice to meet you, X!``
- ``what is my name?`` -> ``Your name is X.`` only if an earlier prompt *in this request* said it,
  else ``I don't know your name.`` -- so a resumed session shows whether the history was really sent;
- ``list my messages`` -> ``Earlier messages: 1. ... | 2. ...``;
- after a tool call -> ``Tool <name> returned: <start of the result>``;
- anything else -> ``ECHO: <prompt>``.

Ids are deterministic (``msg_stub_`` / ``toolu_stub_`` + a hash of the normalized conversation and the
reply), the model of the request is echoed, and usage is estimated (input: body bytes / 4, output: reply
characters / 4) so the CLI computes a non-zero cost.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import re
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypeAlias
from urllib.parse import urlsplit

from .errors import (
    StubError,
    StubTimeoutError,
)

__all__ = [
    "DUMMY_API_KEY",
    "ChatMessage",
    "Conversation",
    "Delay",
    "DropStream",
    "HttpError",
    "MessagesStub",
    "RecordedRequest",
    "Reply",
    "Rule",
    "SseError",
    "Stall",
    "StubError",
    "StubTimeoutError",
    "Text",
    "ToolCall",
    "ToolResult",
    "ToolUse",
    "default_reply",
    "normalize_messages",
]

logger = logging.getLogger(__name__)

DUMMY_API_KEY = "sk-ant-stub-not-a-real-key"
REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})
_REMINDER_RE = re.compile(r"<system-reminder>.*?(?:</system-reminder>|\Z)", re.DOTALL)
_NAME_IS_RE = re.compile(r"\bmy name is\s+([^\W\d_][\w'-]*(?:\s+[A-Z][\w'-]*)*)", re.IGNORECASE)
_ASK_NAME_RE = re.compile(r"\bwhat(?:['’]s|\s+is)\s+my\s+name\b", re.IGNORECASE)
_LIST_RE = re.compile(r"\blist\s+my\s+messages\b", re.IGNORECASE)
_TEXT_CHUNK = 64  # characters per text_delta: a reply of a few sentences arrives in several deltas
_SNIPPET = 160  # characters of a tool result quoted by the default reply

# error.type and error.message the real API sends for common statuses
_ERROR_TYPES: Mapping[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


# --------------------------------------------------------------------------- replies


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
        _check_reply(self.reply, "Delay.reply")


Reply: TypeAlias = str | Text | ToolUse | HttpError | SseError | DropStream | Stall | Delay
_REPLY_TYPES = (str, Text, ToolUse, HttpError, SseError, DropStream, Stall, Delay)
ReplyKind = Literal[
    "text", "tool_use", "http_error", "sse_error", "drop_stream", "stall", "not_found", "bad_request"
]
ReplySource = Literal["queue", "rule", "responder", "default", "route"]


def _check_reply(reply: object, where: str) -> None:
    if not isinstance(reply, _REPLY_TYPES):
        names = ", ".join(t.__name__ for t in _REPLY_TYPES)
        raise StubError(f"{where}: a reply must be one of {names}; got {type(reply).__name__}: {reply!r}")


def _kind(reply: Reply) -> ReplyKind:
    if isinstance(reply, Delay):
        return _kind(reply.reply)
    if isinstance(reply, str | Text):
        return "text"
    if isinstance(reply, ToolUse):
        return "tool_use"
    if isinstance(reply, HttpError):
        return "http_error"
    if isinstance(reply, SseError):
        return "sse_error"
    return "drop_stream" if isinstance(reply, DropStream) else "stall"


# --------------------------------------------------------------------------- conversations


@dataclass(frozen=True)
class ToolCall:
    """A ``tool_use`` block the assistant sent earlier in the conversation."""

    id: str
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class ToolResult:
    """A ``tool_result`` block; ``tool_name`` is looked up from the matching earlier :class:`ToolCall`."""

    tool_use_id: str
    content: str
    is_error: bool
    tool_name: str | None = None


@dataclass(frozen=True)
class ChatMessage:
    """One user or assistant message with ``<system-reminder>`` blocks removed.

    ``texts`` are the non-empty text blocks in order and ``text`` joins them with newlines.
    """

    role: str
    text: str
    texts: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()

    @property
    def is_prompt(self) -> bool:
        """A user message with text of its own, i.e. not only tool results or reminders."""
        return self.role == "user" and bool(self.texts)


@dataclass(frozen=True)
class Conversation:
    """A normalized ``/v1/messages`` request: what rules, the responder and the default reply look at.

    ``role: "system"`` messages are dropped. ``prompts`` holds the last text block of every real user
    prompt (after a failed turn the CLI merges the failed prompt and the new one into one message; the
    new one is last), ``prompt`` the latest of them. ``body`` is the raw request (system prompt, tools).
    """

    messages: tuple[ChatMessage, ...]
    model: str
    stream: bool
    session_id: str | None = None
    body: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def prompts(self) -> tuple[str, ...]:
        return tuple(m.texts[-1] for m in self.messages if m.is_prompt)

    @property
    def prompt(self) -> str | None:
        prompts = self.prompts
        return prompts[-1] if prompts else None

    @property
    def turn(self) -> int:
        """How many real user prompts the conversation holds (the current one included)."""
        return len(self.prompts)

    @property
    def pending_tool_results(self) -> tuple[ToolResult, ...]:
        """The tool results this request answers with, when its last message is a tool follow-up."""
        if not self.messages:
            return ()
        last = self.messages[-1]
        if last.role == "user" and not last.is_prompt:
            return last.tool_results
        return ()

    @property
    def after_tool_result(self) -> bool:
        """True for the CLI's follow-up after a tool call (its last message carries only tool results)."""
        return bool(self.pending_tool_results)


def _strip_reminders(text: str) -> str:
    return _REMINDER_RE.sub("", text).strip()


def _block_text(content: object) -> str:
    """Flatten a ``tool_result`` content (a string or a list of blocks) to text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, Mapping) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif isinstance(block, Mapping):
                parts.append(f"[{block.get('type', 'block')}]")
        return "\n".join(parts)
    return "" if content is None else json.dumps(content)


def normalize_messages(raw_messages: object) -> tuple[ChatMessage, ...]:
    """Turn a request's ``messages`` into :class:`ChatMessage` objects (system messages dropped)."""
    if not isinstance(raw_messages, list):
        return ()
    out: list[ChatMessage] = []
    tool_names: dict[str, str] = {}
    for raw in raw_messages:
        if not isinstance(raw, Mapping):
            continue
        role = str(raw.get("role", ""))
        if role not in ("user", "assistant"):
            continue  # the CLI puts environment reminders in role "system" messages
        content = raw.get("content")
        blocks: list[Any] = [{"type": "text", "text": content}] if isinstance(content, str) else []
        if isinstance(content, list):
            blocks = content
        texts: list[str] = []
        calls: list[ToolCall] = []
        results: list[ToolResult] = []
        for block in blocks:
            if not isinstance(block, Mapping):
                continue
            kind = block.get("type")
            if kind == "text":
                text = _strip_reminders(str(block.get("text", "")))
                if text:
                    texts.append(text)
            elif kind == "tool_use":
                call_input = block.get("input")
                call = ToolCall(
                    id=str(block.get("id", "")),
                    name=str(block.get("name", "")),
                    input=call_input if isinstance(call_input, Mapping) else {},
                )
                tool_names[call.id] = call.name
                calls.append(call)
            elif kind == "tool_result":
                use_id = str(block.get("tool_use_id", ""))
                results.append(
                    ToolResult(
                        tool_use_id=use_id,
                        content=_strip_reminders(_block_text(block.get("content"))),
                        is_error=bool(block.get("is_error", False)),
                        tool_name=tool_names.get(use_id),
                    )
                )
        out.append(ChatMessage(role, "\n".join(texts), tuple(texts), tuple(calls), tuple(results)))
    return tuple(out)


# --------------------------------------------------------------------------- the default reply


def default_reply(conversation: Conversation) -> str:
    """The built-in deterministic reply; every answer ends with ``[turn N]`` (N = real prompts so far).

    Vocabulary, looked for in the latest prompt (case-insensitive):

    - after a tool call: ``Tool <name> returned: <start of the result>`` (``failed:`` for an error result);
    - ``my name is X`` -> ``Nice to meet you, X!``;
    - ``what is my name`` / ``what's my name`` -> ``Your name is X.`` when an *earlier* prompt in this
      request said ``my name is X`` (the latest such), else ``I don't know your name.``;
    - ``list my messages`` -> ``Earlier messages: 1. <prompt> | 2. <prompt>`` (or ``No earlier messages.``);
    - anything else -> ``ECHO: <prompt>``.
    """
    turn = conversation.turn
    pending = conversation.pending_tool_results
    if pending:
        parts = []
        for result in pending:
            snippet = " ".join(result.content.split())
            if len(snippet) > _SNIPPET:
                snippet = snippet[:_SNIPPET] + "…"
            verb = "failed" if result.is_error else "returned"
            parts.append(f"Tool {result.tool_name or 'call'} {verb}: {snippet}")
        return f"{'; '.join(parts)} [turn {turn}]"
    prompt = conversation.prompt
    if prompt is None:
        return f"(no prompt) [turn {turn}]"
    said = _NAME_IS_RE.search(prompt)
    if said:
        return f"Nice to meet you, {said.group(1)}! [turn {turn}]"
    # every prompt text before the latest one, including a failed prompt merged into the same message
    earlier = [t for m in conversation.messages if m.is_prompt for t in m.texts][:-1]
    if _ASK_NAME_RE.search(prompt):
        for text in reversed(earlier):
            found = _NAME_IS_RE.search(text)
            if found:
                return f"Your name is {found.group(1)}. [turn {turn}]"
        return f"I don't know your name. [turn {turn}]"
    if _LIST_RE.search(prompt):
        previous = conversation.prompts[:-1]
        if not previous:
            return f"No earlier messages. [turn {turn}]"
        listed = " | ".join(f"{i}. {p}" for i, p in enumerate(previous, 1))
        return f"Earlier messages: {listed} [turn {turn}]"
    return f"ECHO: {prompt} [turn {turn}]"


# --------------------------------------------------------------------------- rules and the log


@dataclass
class Rule:
    """A scripted answer for prompts matching ``pattern``; ``times=None`` means unlimited."""

    pattern: str | re.Pattern[str]
    reply: Reply
    times: int | None = None
    hits: int = 0

    def matches(self, prompt: str) -> bool:
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(prompt) is not None
        return self.pattern in prompt

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stub received, as logged before it was answered.

    ``headers`` have lower-case names with ``x-api-key``/``authorization`` redacted; ``body`` is the
    parsed JSON body (``None`` if it was not JSON); ``messages``/``prompts``/``prompt`` are normalized as
    in :class:`Conversation`. ``reply_kind`` says what was served and ``source`` who chose it.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    session_id: str | None
    model: str | None
    stream: bool
    body: dict[str, Any] | None
    messages: tuple[ChatMessage, ...]
    prompts: tuple[str, ...]
    prompt: str | None
    reply_kind: ReplyKind
    source: ReplySource
    status: int
    message_id: str | None
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def roles(self) -> str:
        """The roles of the normalized messages as letters, e.g. ``"uau"``."""
        return "".join(m.role[0] for m in self.messages)


# --------------------------------------------------------------------------- the server


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stalled handler must never keep the interpreter alive
    block_on_close = False

    def __init__(self, address: tuple[str, int], stub: MessagesStub) -> None:
        self.stub = stub
        self.open_sockets: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        self.sockets_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        super().__init__(address, _Handler)

    def wake(self) -> None:
        """Make :meth:`serve_until_woken` return."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
            self.handler_threads.add(threading.current_thread())
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(request)
                self.handler_threads.discard(threading.current_thread())

    def abort_connections(self) -> None:
        """Shut every open connection so handlers blocked on a keep-alive read return at once."""
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by the peer
                sock.shutdown(socket.SHUT_RDWR)

    def serve_until_woken(self) -> None:
        """Accept connections until :meth:`wake` is called.

        ``serve_forever`` polls for its shutdown flag (every 0.5 s by default), which would make every
        stop() slow; waiting on the listening socket and a wake-up socket together stops at once.
        """
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ, "accept")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    self.handle_request()  # the socket is readable: this accepts without blocking

    def join_handlers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.sockets_lock:
            threads = list(self.handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like the real API
    disable_nagle_algorithm = True  # small SSE writes must leave at once
    server: _Server
    server_version = "messages-stub/1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self) -> None:
        try:
            self.server.stub._handle(self)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the client went away; nothing to answer

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _Stream:
    """Writes SSE events as HTTP/1.1 chunks."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler

    def event(self, name: str, data: Mapping[str, Any]) -> None:
        payload = f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
        self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))

    def end(self) -> None:
        self.handler.wfile.write(b"0\r\n\r\n")


# --------------------------------------------------------------------------- the stub


class MessagesStub:
    """A loopback Messages API for the Claude Code CLI: scripted replies, faults and a request log.

    ``host`` must be an IPv4 loopback address; ``port=0`` picks a free port. ``responder`` may also be
    set later. The log keeps the latest ``log_limit`` requests (``None``: all); each record holds the
    whole body, about 50 KB for a CLI request, so a long benchmark would otherwise grow without bound.
    Use it as a context manager, or call :meth:`start` (returns ``self``) and :meth:`stop`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        responder: Callable[[Conversation], Reply | None] | None = None,
        log_limit: int | None = 10_000,
    ) -> None:
        if log_limit is not None and log_limit < 1:
            raise StubError(f"MessagesStub log_limit must be >= 1 or None, got {log_limit!r}")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise StubError(f"MessagesStub host must be an IPv4 loopback address, got {host!r}") from None
        if address.version != 4 or not address.is_loopback:
            raise StubError(f"MessagesStub host must be an IPv4 loopback address, got {host!r}")
        self.host = host
        self.port = port
        self.responder = responder
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._queue: list[Reply] = []
        self._rules: list[Rule] = []
        self._log: deque[RecordedRequest] = deque(maxlen=log_limit)
        self._received = 0  # requests logged since start or reset(), dropped ones included
        self._responder_errors: list[Exception] = []
        self._serial = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> MessagesStub:
        """Bind and serve in a daemon thread; returns ``self``. Starting twice is a no-op."""
        if self._stopped:
            raise StubError("this MessagesStub was stopped; create a new one")
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), self)
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_until_woken,
            name=f"messages-stub:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake up stalls and delays, close open connections. Safe to call twice."""
        self._stopped = True
        self._stopping.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        server.abort_connections()
        server.server_close()
        server.join_handlers(timeout=5)
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> MessagesStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the value for ``ANTHROPIC_BASE_URL``."""
        if self._server is None:
            raise StubError("MessagesStub.base_url: the stub is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    def env(self, *, max_retries: int | None = 0, api_timeout_ms: int | None = None) -> dict[str, str]:
        """Environment variables that point the CLI at this stub (lay them over ``os.environ``).

        ``max_retries`` defaults to 0 because the CLI otherwise retries a 5xx, 529, 401 or a refused
        connection 10 times with backoff, so one fault test takes about 3 minutes; pass ``None`` to keep
        the CLI's default. ``api_timeout_ms`` bounds the wait for response headers (not a stalled stream).
        """
        env = {
            "ANTHROPIC_BASE_URL": self.base_url,
            "ANTHROPIC_API_KEY": DUMMY_API_KEY,
            # without it the CLI also sends HEAD /api/hello and looks up api.anthropic.com
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        if max_retries is not None:
            if max_retries < 0:
                raise StubError(f"env(max_retries=...) must be >= 0 or None, got {max_retries!r}")
            env["CLAUDE_CODE_MAX_RETRIES"] = str(max_retries)
        if api_timeout_ms is not None:
            if api_timeout_ms <= 0:
                raise StubError(f"env(api_timeout_ms=...) must be > 0, got {api_timeout_ms!r}")
            env["API_TIMEOUT_MS"] = str(api_timeout_ms)
        return env

    # ----------------------------------------------------------------- scripting

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the FIFO queue; each ``/v1/messages`` request takes the next one."""
        for i, reply in enumerate(replies):
            _check_reply(reply, f"enqueue(): reply #{i}")
        with self._lock:
            self._queue.extend(replies)

    def add_rule(
        self, pattern: str | re.Pattern[str], reply: Reply, *, regex: bool = False, times: int | None = None
    ) -> Rule:
        """Answer prompts containing ``pattern`` (``regex=True``: ``re.search``) with ``reply``.

        The match is case-sensitive (use ``(?i)`` in a regex otherwise) and is made against the latest
        real user prompt; tool follow-ups are never matched. ``times`` limits how often it fires.
        """
        _check_reply(reply, f"add_rule({pattern!r})")
        if times is not None and times < 1:
            raise StubError(f"add_rule({pattern!r}): times must be >= 1 or None, got {times!r}")
        compiled: str | re.Pattern[str] = pattern
        if regex and isinstance(pattern, str):
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise StubError(f"add_rule(): invalid regex {pattern!r}: {exc}") from exc
        rule = Rule(compiled, reply, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def reset(self) -> None:
        """Forget the queue, the rules, the responder and the request log."""
        with self._lock:
            self._queue.clear()
            self._rules.clear()
            self._log.clear()
            self._received = 0
            self._responder_errors.clear()
            self.responder = None

    @property
    def responder_errors(self) -> list[Exception]:
        """Exceptions the responder raised; each was answered with a 500 (``x-should-retry: false``)."""
        with self._lock:
            return list(self._responder_errors)

    @property
    def pending(self) -> int:
        """How many queued replies are still waiting."""
        with self._lock:
            return len(self._queue)

    # ----------------------------------------------------------------- the log

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def requests_dropped(self) -> int:
        """How many old records the ``log_limit`` pushed out of :attr:`requests`."""
        with self._lock:
            return self._received - len(self._log)

    @property
    def message_requests(self) -> list[RecordedRequest]:
        """Only the ``/v1/messages`` requests."""
        return [r for r in self.requests if r.path == "/v1/messages"]

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until ``n`` requests arrived (since start or :meth:`reset`) and return :attr:`requests`.

        Raises :class:`StubTimeoutError` when fewer arrived within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._received < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StubTimeoutError(
                        f"MessagesStub at port {self.port}: waited {timeout:g}s for {n} request(s), "
                        f"got {self._received}"
                    )
                self._changed.wait(left)
            return list(self._log)

    # ----------------------------------------------------------------- serving

    def _choose(self, conv: Conversation) -> tuple[Reply, ReplySource]:
        with self._lock:
            if self._queue:
                return self._queue.pop(0), "queue"
            prompt = conv.prompt
            if prompt is not None and not conv.after_tool_result:
                for rule in self._rules:
                    if not rule.exhausted and rule.matches(prompt):
                        rule.hits += 1
                        return rule.reply, "rule"
            responder = self.responder
        if responder is not None:
            reply = responder(conv)
            if reply is not None:
                _check_reply(reply, "responder")
                return reply, "responder"
        return default_reply(conv), "default"

    def _record(self, rec: RecordedRequest) -> None:
        with self._changed:
            self._log.append(rec)
            self._received += 1
            self._changed.notify_all()

    def _next_serial(self) -> int:
        with self._lock:
            self._serial += 1
            return self._serial

    def _handle(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        headers = {k.lower(): (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in h.headers.items()}
        request_id = f"req_stub_{self._next_serial():06d}"
        try:
            raw = _read_body(h)
        except ValueError as exc:  # a broken Content-Length or chunk size: the connection is unusable
            h.close_connection = True
            _send_error(h, 400, "invalid_request_error", f"stub: unreadable body: {exc}", request_id)
            return
        body: dict[str, Any] | None = None
        try:
            parsed = json.loads(raw) if raw else None
            body = parsed if isinstance(parsed, dict) else None
        except (ValueError, UnicodeDecodeError):
            body = None
        model = str(body["model"]) if body and body.get("model") else None
        conv = Conversation(
            normalize_messages(body.get("messages") if body else None),
            model or "claude-stub",
            bool(body.get("stream")) if body else False,
            headers.get("x-claude-code-session-id"),
            body or {},
        )

        def record(kind: ReplyKind, source: ReplySource, status: int, msg_id: str | None = None) -> None:
            self._record(
                RecordedRequest(
                    method=h.command,
                    path=split.path,
                    query=split.query,
                    headers=headers,
                    session_id=conv.session_id,
                    model=model,
                    stream=conv.stream,
                    body=body,
                    messages=conv.messages,
                    prompts=conv.prompts,
                    prompt=conv.prompt,
                    reply_kind=kind,
                    source=source,
                    status=status,
                    message_id=msg_id,
                )
            )

        if split.path != "/v1/messages" or h.command != "POST":
            logger.warning("messages stub: no route for %s %s (404)", h.command, h.path)
            record("not_found", "route", 404)
            _send_error(h, 404, "not_found_error", f"stub: no route for {h.command} {split.path}", request_id)
            return
        if body is None or not isinstance(body.get("messages"), list):
            record("bad_request", "route", 400)
            message = "stub: the body must be a JSON object with a messages list"
            _send_error(h, 400, "invalid_request_error", message, request_id)
            return
        try:
            reply, source = self._choose(conv)
        except Exception as exc:  # a broken responder must show up as an answer, not a hung CLI
            logger.exception("messages stub: the responder raised")
            reply, source = HttpError(500, "api_error", f"stub responder raised {exc!r}", False), "responder"
            with self._lock:
                self._responder_errors.append(exc)
        delay = 0.0
        while isinstance(reply, Delay):
            delay += reply.seconds
            reply = reply.reply
        if not conv.stream and isinstance(reply, SseError | DropStream):
            reply = default_reply(conv)  # stream faults do not apply: let the fallback succeed
        msg_id = None if isinstance(reply, HttpError) else _message_id(conv, reply)
        record(_kind(reply), source, reply.status if isinstance(reply, HttpError) else 200, msg_id)
        if delay and self._stopping.wait(delay):
            _abort(h)
            return
        self._serve(h, conv, reply, msg_id or "", request_id, input_tokens=max(1, len(raw) // 4))

    def _serve(
        self, h: _Handler, conv: Conversation, reply: Reply, msg_id: str, request_id: str, input_tokens: int
    ) -> None:
        if isinstance(reply, HttpError):
            error_type, error_text = _ERROR_TYPES.get(
                reply.status, ("api_error" if reply.status >= 500 else "invalid_request_error", "Error")
            )
            extra = {} if reply.should_retry is None else {"x-should-retry": str(reply.should_retry).lower()}
            text = reply.message or error_text
            _send_error(h, reply.status, reply.error_type or error_type, text, request_id, extra)
            return
        if isinstance(reply, Stall) and (reply.before_headers or not conv.stream):
            self._stopping.wait(reply.seconds)
            _abort(h)
            return
        content = _content_blocks(reply, msg_id)
        stop_reason = _stop_reason(reply)
        output_tokens = _output_tokens(content)
        message: dict[str, Any] = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": conv.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": _usage(input_tokens, output_tokens),
        }
        if not conv.stream:
            _send_json(h, 200, message, request_id)
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("request-id", request_id)
        h.end_headers()
        out = _Stream(h)
        start: dict[str, Any] = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": _usage(input_tokens, 1),
        }
        out.event("message_start", {"type": "message_start", "message": start})
        if isinstance(reply, Stall):
            self._stopping.wait(reply.seconds)
            _abort(h)
            return
        if isinstance(reply, DropStream):
            _abort(h)
            return
        out.event("ping", {"type": "ping"})
        if isinstance(reply, SseError):
            error = {"type": reply.error_type, "message": reply.message}
            out.event("error", {"type": "error", "error": error})
            out.end()
            return
        for index, block in enumerate(content):
            _stream_block(out, index, block)
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        out.event(
            "message_delta",
            {"type": "message_delta", "delta": delta, "usage": {"output_tokens": output_tokens}},
        )
        out.event("message_stop", {"type": "message_stop"})
        out.end()


# --------------------------------------------------------------------------- wire helpers


def _read_body(h: _Handler) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size_line = h.rfile.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)  # ValueError when garbled
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(h.rfile.read(size))
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    if length < 0:
        raise ValueError(f"negative Content-Length {length}")
    return h.rfile.read(length) if length > 0 else b""


def _send_json(
    h: _Handler, status: int, payload: Mapping[str, Any], request_id: str, extra: Mapping[str, str] = {}
) -> None:
    data = json.dumps(payload).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.send_header("request-id", request_id)
    for name, value in extra.items():
        h.send_header(name, value)
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(data)


def _send_error(
    h: _Handler,
    status: int,
    error_type: str,
    message: str,
    request_id: str,
    extra: Mapping[str, str] = {},
) -> None:
    payload = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    _send_json(h, status, payload, request_id, extra)


def _abort(h: _Handler) -> None:
    """Close the connection without finishing the response: the client sees a broken stream."""
    h.close_connection = True
    with contextlib.suppress(OSError):  # already gone
        h.connection.shutdown(socket.SHUT_RDWR)


def _hex(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def _message_id(conv: Conversation, reply: Reply) -> str:
    """A deterministic id: the same conversation and reply give the same id in every run."""
    shape = json.dumps(
        [
            [m.role, m.texts, [c.id for c in m.tool_calls], [r.tool_use_id for r in m.tool_results]]
            for m in conv.messages
        ]
    )
    return "msg_stub_" + _hex(shape, repr(reply))


def _content_blocks(reply: Reply, msg_id: str) -> list[dict[str, Any]]:
    if isinstance(reply, str):
        return [{"type": "text", "text": reply}]
    if isinstance(reply, Text):
        return [{"type": "text", "text": reply.text}]
    if isinstance(reply, ToolUse):
        blocks: list[dict[str, Any]] = []
        if reply.text:
            blocks.append({"type": "text", "text": reply.text})
        tool_id = "toolu_stub_" + _hex(msg_id, reply.name)
        blocks.append({"type": "tool_use", "id": tool_id, "name": reply.name, "input": dict(reply.input)})
        return blocks
    return []  # faults carry no content


def _stop_reason(reply: Reply) -> str:
    if isinstance(reply, Text):
        return reply.stop_reason
    return "tool_use" if isinstance(reply, ToolUse) else "end_turn"


def _output_tokens(content: Iterable[Mapping[str, Any]]) -> int:
    size = sum(len(b.get("text", "")) + len(json.dumps(b.get("input", ""))) for b in content)
    return max(1, size // 4)


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def _stream_block(out: _Stream, index: int, block: Mapping[str, Any]) -> None:
    if block["type"] == "text":
        text = str(block["text"])
        out.event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        )
        for i in range(0, max(len(text), 1), _TEXT_CHUNK):
            delta = {"type": "text_delta", "text": text[i : i + _TEXT_CHUNK]}
            out.event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        out.event(
            "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
        )
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        out.event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
    out.event("content_block_stop", {"type": "content_block_stop", "index": index})
