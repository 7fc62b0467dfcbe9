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

This module holds the server, the scripting API and the request log; the reply types live in
:mod:`.stub_replies`, request normalization and the default reply in :mod:`.stub_conversation`, and the
wire format in :mod:`.stub_wire`. Every public name is importable from here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from pytest_claude_sessions.errors import StubError, StubTimeoutError
from pytest_claude_sessions.stub.conversation import (
    ChatMessage,
    Conversation,
    ToolCall,
    ToolResult,
    default_reply,
    normalize_messages,
)
from pytest_claude_sessions.stub.replies import (
    Delay,
    DropStream,
    HttpError,
    Reply,
    ReplyKind,
    ReplySource,
    SseError,
    Stall,
    Text,
    ToolUse,
    check_reply,
    reply_kind,
)
from pytest_claude_sessions.stub.wire import abort, message_id, read_body, send_error, serve_reply

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


_REPR_PROMPT = 80  # characters of the prompt a RecordedRequest repr shows


@dataclass(frozen=True, repr=False)
class RecordedRequest:
    """One request the stub received, as logged before it was answered.

    ``headers`` have lower-case names with ``x-api-key``/``authorization`` redacted; ``body`` is the
    parsed JSON body (``None`` if it was not JSON); ``messages``/``prompts``/``prompt`` are normalized as
    in :class:`Conversation`. ``reply_kind`` says what was served and ``source`` who chose it. The repr
    is one short line (method, path, session id, model, stream, message count, prompt excerpt, reply);
    the fields themselves are complete.
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

    def __repr__(self) -> str:
        # The body of one CLI request is ~600 KB (tools, system prompt): a repr that printed it would
        # bury every assertion message that shows a request. The fields stay complete on the object.
        prompt = self.prompt
        if prompt is not None and len(prompt) > _REPR_PROMPT:
            prompt = prompt[: _REPR_PROMPT - 3] + "..."
        return (
            f"RecordedRequest({self.method} {self.path}, session_id={self.session_id!r}, "
            f"model={self.model!r}, stream={self.stream}, messages={len(self.messages)} ({self.roles}), "
            f"prompt={prompt!r}, reply_kind={self.reply_kind!r}, status={self.status})"
        )


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
            check_reply(reply, f"enqueue(): reply #{i}")
        with self._lock:
            self._queue.extend(replies)

    def add_rule(
        self, pattern: str | re.Pattern[str], reply: Reply, *, regex: bool = False, times: int | None = None
    ) -> Rule:
        """Answer prompts containing ``pattern`` (``regex=True``: ``re.search``) with ``reply``.

        The match is case-sensitive (use ``(?i)`` in a regex otherwise) and is made against the latest
        real user prompt; tool follow-ups are never matched. ``times`` limits how often it fires.
        """
        check_reply(reply, f"add_rule({pattern!r})")
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
                check_reply(reply, "responder")
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
            raw = read_body(h)
        except ValueError as exc:  # a broken Content-Length or chunk size: the connection is unusable
            h.close_connection = True
            send_error(h, 400, "invalid_request_error", f"stub: unreadable body: {exc}", request_id)
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
            send_error(h, 404, "not_found_error", f"stub: no route for {h.command} {split.path}", request_id)
            return
        if body is None or not isinstance(body.get("messages"), list):
            record("bad_request", "route", 400)
            message = "stub: the body must be a JSON object with a messages list"
            send_error(h, 400, "invalid_request_error", message, request_id)
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
        msg_id = None if isinstance(reply, HttpError) else message_id(conv, reply)
        record(reply_kind(reply), source, reply.status if isinstance(reply, HttpError) else 200, msg_id)
        if delay and self._stopping.wait(delay):
            abort(h)
            return
        serve_reply(
            h, conv, reply, msg_id or "", request_id,
            input_tokens=max(1, len(raw) // 4), stopping=self._stopping,
        )  # fmt: skip
