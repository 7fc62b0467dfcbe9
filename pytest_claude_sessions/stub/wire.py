"""How the Messages API stub writes its answers: JSON error bodies, plain Messages, SSE streams, faults.

The shapes follow the real API (event order ``message_start``, ``ping``, content blocks, ``message_delta``,
``message_stop``; Anthropic-style error bodies with ``request-id``), which is what the CLI parses.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from pytest_claude_sessions.stub.conversation import Conversation
from pytest_claude_sessions.stub.replies import DropStream, HttpError, Reply, SseError, Stall, Text, ToolUse

__all__ = ["abort", "message_id", "read_body", "send_error", "send_json", "serve_reply"]

_TEXT_CHUNK = 64  # characters per text_delta: a reply of a few sentences arrives in several deltas

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


def serve_reply(
    h: BaseHTTPRequestHandler,
    conv: Conversation,
    reply: Reply,
    msg_id: str,
    request_id: str,
    *,
    input_tokens: int,
    stopping: threading.Event,
) -> None:
    """Answer one request with ``reply``: an error body, a JSON Message or an SSE stream (or a fault).

    ``stopping`` is set when the stub stops: it cuts a stall short.
    """
    if isinstance(reply, HttpError):
        error_type, error_text = _ERROR_TYPES.get(
            reply.status, ("api_error" if reply.status >= 500 else "invalid_request_error", "Error")
        )
        extra = {} if reply.should_retry is None else {"x-should-retry": str(reply.should_retry).lower()}
        text = reply.message or error_text
        send_error(h, reply.status, reply.error_type or error_type, text, request_id, extra)
        return
    if isinstance(reply, Stall) and (reply.before_headers or not conv.stream):
        stopping.wait(reply.seconds)
        abort(h)
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
        send_json(h, 200, message, request_id)
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
        stopping.wait(reply.seconds)
        abort(h)
        return
    if isinstance(reply, DropStream):
        abort(h)
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


class _Stream:
    """Writes SSE events as HTTP/1.1 chunks."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self.handler = handler

    def event(self, name: str, data: Mapping[str, Any]) -> None:
        payload = f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
        self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))

    def end(self) -> None:
        self.handler.wfile.write(b"0\r\n\r\n")


def read_body(h: BaseHTTPRequestHandler) -> bytes:
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


def send_json(
    h: BaseHTTPRequestHandler,
    status: int,
    payload: Mapping[str, Any],
    request_id: str,
    extra: Mapping[str, str] = {},
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


def send_error(
    h: BaseHTTPRequestHandler,
    status: int,
    error_type: str,
    message: str,
    request_id: str,
    extra: Mapping[str, str] = {},
) -> None:
    payload = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    send_json(h, status, payload, request_id, extra)


def abort(h: BaseHTTPRequestHandler) -> None:
    """Close the connection without finishing the response: the client sees a broken stream."""
    h.close_connection = True
    with contextlib.suppress(OSError):  # already gone
        h.connection.shutdown(socket.SHUT_RDWR)


def _hex(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def message_id(conv: Conversation, reply: Reply) -> str:
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
