"""The Messages API stub at the HTTP level: real sockets on loopback, parsed with the stdlib clients."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_claude_sessions.errors import ClaudeSessionsError
from pytest_claude_sessions.stub.server import (
    DUMMY_API_KEY,
    Conversation,
    Delay,
    DropStream,
    HttpError,
    MessagesStub,
    SseError,
    Stall,
    StubError,
    StubTimeoutError,
    Text,
    ToolUse,
)

REMINDER = "<system-reminder>\nAttribution for git commits … today's date is 2026-11-24\n</system-reminder>"


def user(*texts: str, reminder: bool = False) -> dict[str, Any]:
    blocks = [{"type": "text", "text": REMINDER}] if reminder else []
    blocks += [{"type": "text", "text": t} for t in texts]
    return {"role": "user", "content": blocks}


def system_msg() -> dict[str, Any]:
    return {"role": "system", "content": [{"type": "text", "text": "# Environment\n - Platform: linux"}]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def body(*messages: dict[str, Any], stream: bool = True, model: str = "claude-opus-5-5") -> dict[str, Any]:
    return {"model": model, "messages": list(messages), "max_tokens": 1024, "stream": stream}


def post(
    stub: MessagesStub,
    payload: dict[str, Any] | bytes,
    *,
    path: str = "/v1/messages?beta=true",
    **headers: str,
) -> tuple[int, dict[str, str], bytes]:
    """POST and read the whole answer; HTTP errors are returned, not raised."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(
        stub.base_url + path,
        data=data,
        method="POST",
        headers={"content-type": "application/json", "x-api-key": "sk-ant-secret-123", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Parse an SSE body into (event name, data) pairs, checking each frame is well formed."""
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        lines = frame.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), frame
        events.append((lines[0][len("event: ") :], json.loads(lines[1][len("data: ") :])))
    return events


def streamed_message(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Rebuild the Message from its events the way an SDK does."""
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"], names
    message = dict(events[0][1]["message"])
    blocks: list[dict[str, Any]] = []
    partial: dict[int, str] = {}
    for name, data in events[1:]:
        if name == "content_block_start":
            assert data["index"] == len(blocks)
            blocks.append(dict(data["content_block"]))
        elif name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                blocks[data["index"]]["text"] += delta["text"]
            else:
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
        elif name == "content_block_stop":
            if data["index"] in partial:
                blocks[data["index"]]["input"] = json.loads(partial[data["index"]])
        elif name == "message_delta":
            message["stop_reason"] = data["delta"]["stop_reason"]
            message["usage"] = {**message["usage"], **data["usage"]}
    message["content"] = blocks
    return message


# --------------------------------------------------------------------------- lifecycle


@contextlib.contextmanager
def posting(
    port: int, payload: dict[str, Any], *, path: str = "/v1/messages", timeout: float = 10
) -> Iterator[http.client.HTTPConnection]:
    """A raw connection that has sent ``payload`` (for replies a plain request cannot observe)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(payload))
        yield conn
    finally:
        conn.close()


def test_binds_loopback_on_a_free_port_and_serves_as_soon_as_start_returns() -> None:
    stub = MessagesStub()
    assert stub.port == 0
    stub.start()
    try:
        assert stub.host == "127.0.0.1"
        assert stub.port > 0
        assert stub.base_url == f"http://127.0.0.1:{stub.port}"
        # listening already: no sleep, no retry
        with socket.create_connection(("127.0.0.1", stub.port), timeout=2):
            pass
        status, _, _ = post(stub, body(user("hi")))
        assert status == 200
    finally:
        stub.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", stub.port), timeout=2).close()


def test_two_stubs_get_different_ports() -> None:
    with MessagesStub() as a, MessagesStub() as b:
        assert a.port != b.port


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::1", "localhost", ""])
def test_non_loopback_or_non_ipv4_host_is_refused(host: str) -> None:
    with pytest.raises(StubError, match="loopback"):
        MessagesStub(host=host)


def test_stop_is_idempotent_and_a_stopped_stub_cannot_restart() -> None:
    stub = MessagesStub().start()
    assert stub.start() is stub  # already running: no-op
    stub.stop()
    stub.stop()
    assert not stub.running
    with pytest.raises(StubError, match="stopped"):
        stub.start()
    with pytest.raises(StubError, match="not running"):
        _ = stub.base_url


def test_stub_errors_belong_to_the_library_tree() -> None:
    assert issubclass(StubError, ClaudeSessionsError)
    assert issubclass(StubTimeoutError, TimeoutError)


def test_env_points_the_cli_at_the_stub(api_stub: MessagesStub) -> None:
    env = api_stub.env()
    assert env == {
        "ANTHROPIC_BASE_URL": api_stub.base_url,
        "ANTHROPIC_API_KEY": DUMMY_API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }
    assert "CLAUDE_CODE_MAX_RETRIES" not in api_stub.env(max_retries=None)
    assert api_stub.env(max_retries=3, api_timeout_ms=2500)["CLAUDE_CODE_MAX_RETRIES"] == "3"
    assert api_stub.env(api_timeout_ms=2500)["API_TIMEOUT_MS"] == "2500"
    with pytest.raises(StubError, match="max_retries"):
        api_stub.env(max_retries=-1)
    with pytest.raises(StubError, match="api_timeout_ms"):
        api_stub.env(api_timeout_ms=0)


# --------------------------------------------------------------------------- streaming and not


def test_streaming_reply_has_the_full_event_sequence(api_stub: MessagesStub) -> None:
    payload = body(user("hello", reminder=True), system_msg())
    status, headers, raw = post(api_stub, payload)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["request-id"].startswith("req_stub_")
    events = sse_events(raw)
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    message = streamed_message(events)
    assert message["content"] == [{"type": "text", "text": "ECHO: hello [turn 1]"}]
    assert message["id"].startswith("msg_stub_")
    assert message["model"] == "claude-opus-5-5"
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["input_tokens"] == len(json.dumps(payload).encode()) // 4
    assert message["usage"]["output_tokens"] == len("ECHO: hello [turn 1]") // 4


def test_model_is_echoed(api_stub: MessagesStub) -> None:
    _, _, raw = post(api_stub, body(user("x"), model="claude-haiku-5-5", stream=False))
    assert json.loads(raw)["model"] == "claude-haiku-5-5"


def test_long_text_arrives_in_several_deltas_and_reassembles(api_stub: MessagesStub) -> None:
    text = "".join(f"word{i} " for i in range(60)) + "ünïcødé ✓"
    api_stub.enqueue(Text(text, stop_reason="max_tokens"))
    events = sse_events(post(api_stub, body(user("long")))[2])
    assert sum(name == "content_block_delta" for name, _ in events) > 3
    message = streamed_message(events)
    assert message["content"][0]["text"] == text
    assert message["stop_reason"] == "max_tokens"


def test_non_streaming_reply_is_a_plain_message(api_stub: MessagesStub) -> None:
    status, headers, raw = post(api_stub, body(user("hello"), stream=False))
    assert status == 200
    assert headers["content-type"] == "application/json"
    message = json.loads(raw)
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"] == [{"type": "text", "text": "ECHO: hello [turn 1]"}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["input_tokens"] > 0 and message["usage"]["output_tokens"] > 0
    # the same request streamed gives the same message id: ids depend on the conversation only
    streamed = streamed_message(sse_events(post(api_stub, body(user("hello")))[2]))
    assert streamed["id"] == message["id"]


def test_ids_are_deterministic_across_stubs_and_differ_between_conversations() -> None:
    def ids(stub: MessagesStub) -> list[str]:
        stub.enqueue(ToolUse("Read", {"file_path": "/x"}))
        first = json.loads(post(stub, body(user("a"), stream=False))[2])
        second = json.loads(post(stub, body(user("a"), assistant("b"), user("c"), stream=False))[2])
        return [first["id"], first["content"][0]["id"], second["id"]]

    with MessagesStub() as one, MessagesStub() as two:
        a, b = ids(one), ids(two)
    assert a == b
    assert len(set(a)) == 3
    assert a[1].startswith("toolu_stub_")


def test_keep_alive_connection_serves_several_requests(api_stub: MessagesStub) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", api_stub.port, timeout=5)
    try:
        for prompt in ("one", "two", "three"):
            conn.request("POST", "/v1/messages", json.dumps(body(user(prompt))))
            resp = conn.getresponse()
            message = streamed_message(sse_events(resp.read()))
            assert message["content"][0]["text"] == f"ECHO: {prompt} [turn 1]"
    finally:
        conn.close()
    assert len(api_stub.requests) == 3


def test_concurrent_requests_are_all_served_and_logged(api_stub: MessagesStub) -> None:
    results: dict[int, str] = {}

    def worker(i: int) -> None:
        _, _, raw = post(api_stub, body(user(f"p{i}"), stream=i % 2 == 0))
        msg = streamed_message(sse_events(raw)) if i % 2 == 0 else json.loads(raw)
        results[i] = msg["content"][0]["text"]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {i: f"ECHO: p{i} [turn 1]" for i in range(12)}
    assert sorted(r.prompt or "" for r in api_stub.requests) == sorted(f"p{i}" for i in range(12))


# --------------------------------------------------------------------------- routing and bad input


def test_unknown_path_is_a_logged_404_with_an_error_body(api_stub: MessagesStub) -> None:
    status, _, raw = post(api_stub, {"x": 1}, path="/v1/complete")
    assert status == 404
    error = json.loads(raw)
    assert error["type"] == "error"
    assert error["error"]["type"] == "not_found_error"
    assert "/v1/complete" in error["error"]["message"]
    req = urllib.request.Request(api_stub.base_url + "/api/hello", method="HEAD")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 404
    log = api_stub.requests
    assert [(r.method, r.path, r.reply_kind, r.status) for r in log] == [
        ("POST", "/v1/complete", "not_found", 404),
        ("HEAD", "/api/hello", "not_found", 404),
    ]


def test_get_on_messages_is_not_routed(api_stub: MessagesStub) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(api_stub.base_url + "/v1/messages", timeout=5)
    assert info.value.code == 404


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'{"model": "m"}', b""])
def test_a_body_that_is_not_a_messages_request_is_a_logged_400(
    api_stub: MessagesStub, payload: bytes
) -> None:
    status, _, raw = post(api_stub, payload)
    assert status == 400
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"
    assert api_stub.requests[-1].reply_kind == "bad_request"


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("reply", "status", "error_type", "message"),
    [
        (HttpError(500), 500, "api_error", "Internal server error"),
        (HttpError(529), 529, "overloaded_error", "Overloaded"),
        (HttpError(401), 401, "authentication_error", "invalid x-api-key"),
        (HttpError(503), 503, "api_error", "Error"),
        (HttpError(418), 418, "invalid_request_error", "Error"),
        (
            HttpError(400, "invalid_request_error", "prompt is too long"),
            400,
            "invalid_request_error",
            "prompt is too long",
        ),
    ],
)
def test_http_errors_carry_anthropic_error_bodies(
    api_stub: MessagesStub, reply: HttpError, status: int, error_type: str, message: str
) -> None:
    api_stub.enqueue(reply)
    got_status, headers, raw = post(api_stub, body(user("x")))
    assert got_status == status
    assert headers["content-type"] == "application/json"
    assert "x-should-retry" not in headers
    payload = json.loads(raw)
    assert payload["type"] == "error"
    assert payload["error"] == {"type": error_type, "message": message}
    assert payload["request_id"] == headers["request-id"]
    rec = api_stub.requests[-1]
    assert (rec.reply_kind, rec.status, rec.message_id) == ("http_error", status, None)


@pytest.mark.parametrize(("should_retry", "header"), [(False, "false"), (True, "true")])
def test_x_should_retry_header(api_stub: MessagesStub, should_retry: bool, header: str) -> None:
    api_stub.enqueue(HttpError(529, should_retry=should_retry))
    _, headers, _ = post(api_stub, body(user("x")))
    assert headers["x-should-retry"] == header


@pytest.mark.parametrize("status", [200, 302, 399, 600, "500"])
def test_http_error_status_must_be_an_error(status: Any) -> None:
    with pytest.raises(StubError, match=r"400\.\.599"):
        HttpError(status)


def test_sse_error_is_an_error_event_inside_a_200_stream(api_stub: MessagesStub) -> None:
    api_stub.add_rule("flaky", SseError("overloaded_error", "Overloaded now"))
    status, _, raw = post(api_stub, body(user("flaky")))
    assert status == 200
    events = sse_events(raw)
    assert [name for name, _ in events] == ["message_start", "ping", "error"]
    assert events[-1][1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded now"},
    }
    # the CLI's non-streaming fallback (same rule matches) gets a normal message
    status, _, raw = post(api_stub, body(user("flaky"), stream=False))
    assert status == 200
    assert json.loads(raw)["content"][0]["text"] == "ECHO: flaky [turn 1]"
    assert [r.reply_kind for r in api_stub.requests] == ["sse_error", "text"]


def test_drop_stream_closes_the_connection_after_message_start(api_stub: MessagesStub) -> None:
    api_stub.enqueue(DropStream())
    with posting(api_stub.port, body(user("x")), path="/v1/messages?beta=true", timeout=5) as conn:
        resp = conn.getresponse()
        assert resp.status == 200
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert [name for name, _ in sse_events(info.value.partial)] == ["message_start"]
    assert api_stub.requests[-1].reply_kind == "drop_stream"


def test_stop_wakes_a_stall_in_progress() -> None:
    stub = MessagesStub().start()
    stub.enqueue(Stall())
    try:
        with posting(stub.port, body(user("x")), path="/v1/messages?beta=true") as conn:
            resp = conn.getresponse()
            assert resp.status == 200
            first = resp.fp.readline()  # the chunk size line of message_start has arrived
            assert first.strip()
            stub.wait_for_requests(1)
            stopper = threading.Thread(target=stub.stop)
            stopper.start()
            stopper.join(5)
            assert not stopper.is_alive(), "stop() hung on a stalled stream"
            with pytest.raises((http.client.IncompleteRead, ConnectionError)):
                resp.read()
    finally:
        stub.stop()


def test_stall_before_headers_sends_nothing_until_stop() -> None:
    stub = MessagesStub().start()
    stub.enqueue(Stall(before_headers=True))
    with posting(stub.port, body(user("x"))) as conn:
        stub.wait_for_requests(1)
        assert conn.sock is not None
        conn.sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            conn.sock.recv(1)  # no headers yet
        conn.sock.settimeout(10)
        stub.stop()
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()


def test_a_timed_stall_ends_by_closing_the_stream(api_stub: MessagesStub) -> None:
    api_stub.enqueue(Stall(seconds=0.2))
    with posting(api_stub.port, body(user("x"))) as conn:
        resp = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert [name for name, _ in sse_events(info.value.partial)] == ["message_start"]
    assert api_stub.running


def test_stall_on_a_non_streaming_request_sends_no_headers(api_stub: MessagesStub) -> None:
    api_stub.enqueue(Stall(seconds=0.2))
    with posting(api_stub.port, body(user("x"), stream=False)) as conn:
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()


def test_delay_then_reply(api_stub: MessagesStub) -> None:
    api_stub.enqueue(Delay(0.3, Delay(0.1, "late")))
    started = time.monotonic()
    _, _, raw = post(api_stub, body(user("x"), stream=False))
    assert time.monotonic() - started >= 0.4
    assert json.loads(raw)["content"][0]["text"] == "late"
    assert api_stub.requests[-1].reply_kind == "text"


def test_stop_cuts_a_delay_short() -> None:
    stub = MessagesStub().start()
    stub.enqueue(Delay(60, "never"))
    errors: list[BaseException] = []

    def client() -> None:
        try:
            post(stub, body(user("x")))
        except Exception as exc:
            errors.append(exc)

    t = threading.Thread(target=client)
    t.start()
    stub.wait_for_requests(1)
    stub.stop()
    t.join(5)
    assert not t.is_alive()
    assert errors, "the delayed request should have been cut off, not answered"


@pytest.mark.parametrize(
    "make",
    [
        lambda: Stall(seconds=-1),
        lambda: Delay(-0.5, "x"),
        lambda: Delay(1, 42),  # type: ignore[arg-type]
        lambda: ToolUse("", {}),
        lambda: ToolUse("Read", ["not", "a", "mapping"]),  # type: ignore[arg-type]
        lambda: Text(None),  # type: ignore[arg-type]
    ],
)
def test_invalid_reply_parameters_are_refused(make: Any) -> None:
    with pytest.raises(StubError):
        make()


# --------------------------------------------------------------------------- choosing replies


def text_of(stub: MessagesStub, *messages: dict[str, Any]) -> str:
    _, _, raw = post(stub, body(*messages, stream=False))
    content = json.loads(raw)["content"]
    return " + ".join(b.get("text") or f"<tool_use {b['name']}>" for b in content)


def test_queue_is_fifo_then_falls_through(api_stub: MessagesStub) -> None:
    api_stub.add_rule("x", "from rule")
    api_stub.enqueue("first", Text("second"))
    assert api_stub.pending == 2
    assert text_of(api_stub, user("x")) == "first"
    assert text_of(api_stub, user("x")) == "second"
    assert api_stub.pending == 0
    assert text_of(api_stub, user("x")) == "from rule"
    assert [r.source for r in api_stub.requests] == ["queue", "queue", "rule"]


def test_enqueue_refuses_what_is_not_a_reply(api_stub: MessagesStub) -> None:
    with pytest.raises(StubError, match=r"reply #1"):
        api_stub.enqueue("ok", {"text": "dict"})  # type: ignore[arg-type]
    assert api_stub.pending == 0  # nothing half-queued


def test_rules_substring_regex_order_and_times(api_stub: MessagesStub) -> None:
    once = api_stub.add_rule("deploy", "deploying once", times=1)
    api_stub.add_rule(r"(?i)^DEPLOY\b", "regex deploy", regex=True)
    api_stub.add_rule(re.compile(r"\d{3}"), "digits")
    assert text_of(api_stub, user("deploy now")) == "deploying once"
    assert once.hits == 1 and once.exhausted
    assert text_of(api_stub, user("deploy now")) == "regex deploy"
    assert text_of(api_stub, user("Deploy now")) == "regex deploy"  # substring is case-sensitive
    assert text_of(api_stub, user("call 555")) == "digits"
    assert text_of(api_stub, user("nothing")) == "ECHO: nothing [turn 1]"


def test_rules_match_the_latest_real_prompt_only(api_stub: MessagesStub) -> None:
    api_stub.add_rule("secret", "matched")
    # the word sits in a reminder, a system message and an earlier prompt: none of those count
    reminder_user = {
        "role": "user",
        "content": [
            {"type": "text", "text": "<system-reminder>secret</system-reminder>"},
            {"type": "text", "text": "hi"},
        ],
    }
    assert text_of(api_stub, reminder_user, system_msg()) == "ECHO: hi [turn 1]"
    assert text_of(api_stub, user("secret"), assistant("ok"), user("later")) == "ECHO: later [turn 2]"
    # after a failed turn the CLI merges the failed prompt and the new one: the last block counts
    assert text_of(api_stub, user("secret\n", "what now")) == "ECHO: what now [turn 1]"
    assert text_of(api_stub, user("first", "secret")) == "matched"


def test_invalid_rules_are_refused(api_stub: MessagesStub) -> None:
    with pytest.raises(StubError, match="invalid regex"):
        api_stub.add_rule("(", "x", regex=True)
    with pytest.raises(StubError, match="times"):
        api_stub.add_rule("x", "y", times=0)
    with pytest.raises(StubError, match="reply must be"):
        api_stub.add_rule("x", 3)  # type: ignore[arg-type]


def tool_exchange(prompt: str, result: str, *, is_error: bool = False) -> list[dict[str, Any]]:
    return [
        user(prompt, reminder=True),
        system_msg(),
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me read."},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/p/f.txt"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": result, "is_error": is_error},
                {"type": "text", "text": "<system-reminder>noise</system-reminder>"},
            ],
        },
    ]


def test_tool_use_reply_streams_a_tool_block(api_stub: MessagesStub) -> None:
    api_stub.add_rule("read", ToolUse("Read", {"file_path": "/p/f.txt", "limit": 5}, text="Let me read."))
    message = streamed_message(sse_events(post(api_stub, body(user("read the file")))[2]))
    assert message["stop_reason"] == "tool_use"
    text, tool = message["content"]
    assert text == {"type": "text", "text": "Let me read."}
    assert tool["type"] == "tool_use" and tool["name"] == "Read"
    assert tool["id"].startswith("toolu_stub_")
    assert tool["input"] == {"file_path": "/p/f.txt", "limit": 5}


def test_a_tool_follow_up_does_not_retrigger_the_rule(api_stub: MessagesStub) -> None:
    rule = api_stub.add_rule("read", ToolUse("Read", {"file_path": "/p/f.txt"}))
    reply = text_of(api_stub, *tool_exchange("read the file", "     1\tline one\n     2\tline two\n"))
    assert reply == "Tool Read returned: 1 line one 2 line two [turn 1]"
    assert rule.hits == 0
    rec = api_stub.requests[-1]
    assert (rec.source, rec.prompt, rec.roles) == ("default", "read the file", "uau")
    assert rec.messages[-1].tool_results[0].tool_name == "Read"
    failed = text_of(api_stub, *tool_exchange("read the file", "File does not exist.", is_error=True))
    assert failed == "Tool Read failed: File does not exist. [turn 1]"


def test_responder_sees_the_whole_conversation(api_stub: MessagesStub) -> None:
    seen: list[Conversation] = []

    def responder(conv: Conversation) -> str | None:
        seen.append(conv)
        if conv.after_tool_result:
            return f"done with {conv.pending_tool_results[0].content}"
        return (
            None
            if conv.prompt == "pass"
            else f"{conv.turn} prompts; roles {''.join(m.role[0] for m in conv.messages)}"
        )

    api_stub.responder = responder
    assert (
        text_of(api_stub, user("a", reminder=True), system_msg(), assistant("b"), user("c"))
        == "2 prompts; roles uau"
    )
    assert text_of(api_stub, user("pass")) == "ECHO: pass [turn 1]"
    assert text_of(api_stub, *tool_exchange("read", "content")) == "done with content"
    assert seen[0].prompts == ("a", "c") and seen[0].model == "claude-opus-5-5" and not seen[0].stream
    assert seen[0].body["max_tokens"] == 1024  # the raw request is there too
    assert [r.source for r in api_stub.requests] == ["responder", "default", "responder"]


def test_a_raising_responder_answers_500_without_retry(api_stub: MessagesStub) -> None:
    def responder(conv: Conversation) -> str:
        raise RuntimeError("boom")

    api_stub.responder = responder
    status, headers, raw = post(api_stub, body(user("x")))
    assert status == 500
    assert headers["x-should-retry"] == "false"
    assert "boom" in json.loads(raw)["error"]["message"]
    assert [repr(e) for e in api_stub.responder_errors] == ["RuntimeError('boom')"]


def test_a_responder_returning_junk_is_reported(api_stub: MessagesStub) -> None:
    api_stub.responder = lambda conv: 42  # type: ignore[assignment,return-value]
    status, _, raw = post(api_stub, body(user("x"), stream=False))
    assert status == 500
    assert "a reply must be one of" in json.loads(raw)["error"]["message"]


# --------------------------------------------------------------------------- the default reply


def test_default_reply_knows_names_only_from_earlier_turns(api_stub: MessagesStub) -> None:
    assert (
        text_of(api_stub, user("my name is Zed", reminder=True), system_msg())
        == "Nice to meet you, Zed! [turn 1]"
    )
    assert text_of(api_stub, user("what is my name?")) == "I don't know your name. [turn 1]"
    history = [user("My name is Ada Lovelace."), assistant("Nice"), user("hello"), assistant("ECHO")]
    assert text_of(api_stub, *history, user("What's my name?")) == "Your name is Ada Lovelace. [turn 3]"
    renamed = [*history, user("my name is Bob"), assistant("ok")]
    assert text_of(api_stub, *renamed, user("what is my name")) == "Your name is Bob. [turn 4]"
    # a failed prompt merged into the new user message counts as earlier
    assert text_of(api_stub, user("my name is Fay\n", "what’s my name?")) == "Your name is Fay. [turn 1]"


def test_default_reply_lists_earlier_prompts_and_counts_turns(api_stub: MessagesStub) -> None:
    assert text_of(api_stub, user("list my messages")) == "No earlier messages. [turn 1]"
    convo = [user("one", reminder=True), system_msg(), assistant("r1"), user("two"), assistant("r2")]
    assert text_of(api_stub, *convo, user("list my messages")) == "Earlier messages: 1. one | 2. two [turn 3]"
    assert text_of(api_stub, *convo, user("  spaced  ")) == "ECHO: spaced [turn 3]"
    assert text_of(api_stub, system_msg()) == "(no prompt) [turn 0]"


def test_string_content_is_accepted(api_stub: MessagesStub) -> None:
    assert text_of(api_stub, {"role": "user", "content": "plain string"}) == "ECHO: plain string [turn 1]"


# --------------------------------------------------------------------------- the request log


def test_request_log_records_what_was_sent(api_stub: MessagesStub) -> None:
    payload = body(user("hello", reminder=True), system_msg(), assistant("hi"), user("again"))
    post(
        api_stub,
        payload,
        **{"X-Claude-Code-Session-Id": "13530587-aaaa-4bbb-8ccc-000000000001", "Authorization": "Bearer tok"},
    )
    (rec,) = api_stub.wait_for_requests(1)
    assert (rec.method, rec.path, rec.query) == ("POST", "/v1/messages", "beta=true")
    assert rec.session_id == "13530587-aaaa-4bbb-8ccc-000000000001"
    assert rec.model == "claude-opus-5-5" and rec.stream is True
    assert rec.headers["x-api-key"] == "<redacted>"
    assert rec.headers["authorization"] == "<redacted>"
    assert "sk-ant-secret-123" not in repr(rec.headers)
    assert rec.body == payload
    assert rec.roles == "uau"
    assert [m.text for m in rec.messages] == ["hello", "hi", "again"]
    assert rec.prompts == ("hello", "again") and rec.prompt == "again"
    assert (rec.reply_kind, rec.source, rec.status) == ("text", "default", 200)
    assert rec.message_id is not None and rec.message_id.startswith("msg_stub_")
    assert rec.timestamp.tzinfo is not None
    assert api_stub.message_requests == [rec]


def test_request_repr_is_short_and_names_the_essentials(api_stub: MessagesStub) -> None:
    # A real CLI request body is ~600 KB; the repr of a request must not carry it (nor every message).
    bulk = "x" * 500_000
    payload = body(user(bulk), assistant("hi"), user("what is my name? " + "y" * 300))
    payload["tools"] = [{"name": "Bash", "description": bulk}]
    post(api_stub, payload, **{"X-Claude-Code-Session-Id": "13530587-aaaa-4bbb-8ccc-000000000001"})
    (rec,) = api_stub.wait_for_requests(1)
    shown = repr(rec)
    assert len(shown) < 400, shown
    assert "xxxxxxxxxx" not in shown and "sk-ant" not in shown
    for part in (
        "POST /v1/messages",
        "session_id='13530587-aaaa-4bbb-8ccc-000000000001'",
        "model='claude-opus-5-5'",
        "stream=True",
        "messages=3 (uau)",
        "prompt='what is my name? yyy",
        "...'",
        "reply_kind='text'",
        "status=200",
    ):
        assert part in shown, (part, shown)
    assert rec.body == payload  # the object itself keeps everything
    assert repr([rec]) == f"[{shown}]"


def test_requests_is_a_snapshot(api_stub: MessagesStub) -> None:
    snapshot = api_stub.requests
    post(api_stub, body(user("x")))
    assert snapshot == []
    assert len(api_stub.requests) == 1


def test_wait_for_requests_times_out_with_a_clear_error(api_stub: MessagesStub) -> None:
    with pytest.raises(StubTimeoutError, match=r"waited 0.1s for 1 request\(s\), got 0"):
        api_stub.wait_for_requests(1, timeout=0.1)


def test_wait_for_requests_wakes_when_a_request_arrives(api_stub: MessagesStub) -> None:
    t = threading.Timer(0.1, lambda: post(api_stub, body(user("late"))))
    t.start()
    try:
        assert api_stub.wait_for_requests(1, timeout=10)[0].prompt == "late"
    finally:
        t.join()


def test_reset_clears_queue_rules_responder_and_log(api_stub: MessagesStub) -> None:
    api_stub.enqueue("q")
    api_stub.add_rule("x", "r")
    api_stub.responder = lambda conv: "resp"
    post(api_stub, body(user("x")))
    api_stub.reset()
    assert api_stub.requests == [] and api_stub.pending == 0
    assert text_of(api_stub, user("x")) == "ECHO: x [turn 1]"


def test_log_limit_keeps_the_latest_requests_and_counts_the_dropped() -> None:
    with MessagesStub(log_limit=2) as stub:
        for prompt in ("p0", "p1", "p2"):
            post(stub, body(user(prompt)))
        assert [r.prompt for r in stub.wait_for_requests(3, timeout=1)] == ["p1", "p2"]
        assert stub.requests_dropped == 1
        stub.reset()
        assert stub.requests_dropped == 0
    with pytest.raises(StubError, match="log_limit"):
        MessagesStub(log_limit=0)
