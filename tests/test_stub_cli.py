"""The real Claude Code CLI against the Messages API stub: what the stub promises, the CLI confirms.

Each CLI call takes about half a second; these tests stay few on purpose.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from pytest_claude_sessions.stub.server import (
    Conversation,
    DropStream,
    HttpError,
    MessagesStub,
    SseError,
    Stall,
    ToolUse,
)

CLI_TIMEOUT = 60  # a hang must fail the test, never block the suite (a stalled stream waits >= 5 min)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def json(self) -> dict[str, Any]:
        assert self.stdout.strip(), f"empty stdout (rc {self.returncode}); stderr: {self.stderr[-2000:]}"
        data = json.loads(self.stdout)
        assert isinstance(data, dict)
        return data


@dataclass
class Cli:
    claude_bin: Path
    stub: MessagesStub
    root: Path

    def __post_init__(self) -> None:
        for name in ("config", "tmp", "run", "home", "cwd"):
            (self.root / name).mkdir(exist_ok=True)

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    def run(
        self, *args: str, prompt: str, max_retries: int | None = 0, api_timeout_ms: int | None = None
    ) -> Run:
        env = {
            **os.environ,
            **self.stub.env(max_retries=max_retries, api_timeout_ms=api_timeout_ms),
            "CLAUDE_CONFIG_DIR": str(self.root / "config"),
            "TMPDIR": str(self.root / "tmp"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "HOME": str(self.root / "home"),
        }
        started = time.monotonic()
        proc = run_cli(self.claude_bin, prompt, *args, cwd=self.cwd, env=env, timeout=CLI_TIMEOUT)
        return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


@pytest.fixture
def cli(claude_bin: Path, api_stub: MessagesStub, tmp_path: Path) -> Cli:
    return Cli(claude_bin, api_stub, tmp_path)


def assert_success(run: Run) -> dict[str, Any]:
    result = run.json
    assert run.returncode == 0 and result["is_error"] is False, (run.returncode, result, run.stderr[-2000:])
    return result


def test_plain_prompt(cli: Cli) -> None:
    result = assert_success(cli.run(prompt="hello"))
    assert result["result"] == "ECHO: hello [turn 1]"
    assert result["num_turns"] == 1
    assert result["total_cost_usd"] > 0  # the stub's usage figures reach the CLI's cost computation
    assert result["usage"]["input_tokens"] > 1000 and result["usage"]["output_tokens"] > 0
    (rec,) = cli.stub.requests  # CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: nothing but the one POST
    assert (rec.method, rec.path, rec.query, rec.stream) == ("POST", "/v1/messages", "beta=true", True)
    assert rec.session_id == result["session_id"]
    assert rec.model == "claude-opus-5-5"
    assert rec.headers["x-api-key"] == "<redacted>"
    assert rec.prompts == ("hello",)
    assert rec.roles == "u"  # the CLI's role "system" message and reminder block are normalized away
    raw_roles = [m["role"] for m in rec.body["messages"]] if rec.body else []
    assert "system" in raw_roles


def test_resume_carries_the_earlier_turn(cli: Cli) -> None:
    first = assert_success(cli.run(prompt="my name is Zed"))
    assert first["result"] == "Nice to meet you, Zed! [turn 1]"
    second = assert_success(cli.run("--resume", first["session_id"], prompt="what is my name?"))
    assert second["result"] == "Your name is Zed. [turn 2]"
    assert second["session_id"] == first["session_id"]
    a, b = cli.stub.requests
    assert a.session_id == b.session_id == first["session_id"]
    assert b.prompts == ("my name is Zed", "what is my name?")
    assert b.roles == "uau"
    assert b.messages[1].text == "Nice to meet you, Zed! [turn 1]"  # our earlier reply came back
    # a fresh session does not know the name: the answer really depends on what was sent
    fresh = assert_success(cli.run(prompt="what is my name?"))
    assert fresh["result"] == "I don't know your name. [turn 1]"


def test_tool_use_makes_the_cli_run_read_and_come_back(cli: Cli) -> None:
    target = cli.cwd / "notes.txt"
    target.write_text("the launch code is 4711\n", encoding="utf-8")
    rule = cli.stub.add_rule("read my notes", ToolUse("Read", {"file_path": str(target)}, text="Reading."))
    result = assert_success(cli.run(prompt="please read my notes"))
    assert result["num_turns"] == 2
    assert result["result"].startswith("Tool Read returned:")
    assert "the launch code is 4711" in result["result"]
    assert rule.hits == 1  # the follow-up did not fire the rule again
    first, follow_up = cli.stub.requests
    assert first.reply_kind == "tool_use"
    assert (follow_up.source, follow_up.prompt, follow_up.roles) == ("default", "please read my notes", "uau")
    (tool_result,) = follow_up.messages[-1].tool_results
    assert tool_result.tool_name == "Read" and not tool_result.is_error
    assert "the launch code is 4711" in tool_result.content
    (call,) = follow_up.messages[1].tool_calls  # our tool_use came back in the assistant turn
    assert call.name == "Read" and call.input == {"file_path": str(target)}
    assert call.id.startswith("toolu_stub_") and tool_result.tool_use_id == call.id


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, "API Error: 500 Internal server error"),
        (529, "API Error: 529 Overloaded"),
        (401, "Invalid API key"),
    ],
)
def test_http_errors_without_retries(cli: Cli, status: int, expected: str) -> None:
    cli.stub.enqueue(HttpError(status))
    run = cli.run(prompt="hello")
    result = run.json
    assert run.returncode == 1
    assert result["is_error"] is True
    assert result["subtype"] == "success"  # API errors keep subtype success: is_error is what counts
    assert result["api_error_status"] == status
    assert expected in result["result"]
    assert len(cli.stub.requests) == 1  # CLAUDE_CODE_MAX_RETRIES=0


def test_x_should_retry_false_stops_the_cli_retrying(cli: Cli) -> None:
    # with the CLI's default of 10 retries a 529 would take minutes; the header makes it a single request
    cli.stub.add_rule("hello", HttpError(529, should_retry=False))
    run = cli.run(prompt="hello", max_retries=None)
    assert run.returncode == 1 and run.json["api_error_status"] == 529
    assert len(cli.stub.requests) == 1


@pytest.mark.parametrize(("fault", "kind"), [(SseError(), "sse_error"), (DropStream(), "drop_stream")])
def test_stream_faults_fall_back_to_non_streaming(cli: Cli, fault: SseError | DropStream, kind: str) -> None:
    cli.stub.add_rule("hello", fault)
    result = assert_success(cli.run(prompt="hello"))
    assert result["result"] == "ECHO: hello [turn 1]"
    assert [(r.stream, r.reply_kind) for r in cli.stub.requests] == [(True, kind), (False, "text")]


def test_queue_rules_and_responder_drive_the_cli(cli: Cli) -> None:
    target = cli.cwd / "data.txt"
    target.write_text("alpha\n", encoding="utf-8")
    # queue: a tool call and then the final answer of the same turn
    cli.stub.enqueue(ToolUse("Read", {"file_path": str(target)}), "queued final answer")
    assert assert_success(cli.run(prompt="anything"))["result"] == "queued final answer"
    # a rule beats the responder; the responder sees the whole conversation
    cli.stub.add_rule("ping", "pong")
    seen: list[Conversation] = []

    def responder(conv: Conversation) -> str:
        seen.append(conv)
        return f"responder: {conv.prompt} in session {conv.session_id}"

    cli.stub.responder = responder
    assert assert_success(cli.run(prompt="ping"))["result"] == "pong"
    other = assert_success(cli.run(prompt="something else"))
    assert other["result"] == f"responder: something else in session {other['session_id']}"
    assert [r.source for r in cli.stub.requests] == ["queue", "queue", "rule", "responder"]
    assert len(seen) == 1 and seen[0].stream


def test_resume_after_a_failed_turn_reads_the_new_prompt(cli: Cli) -> None:
    first = assert_success(cli.run(prompt="my name is Fay"))
    sid = first["session_id"]
    cli.stub.add_rule("explode", HttpError(500), times=1)
    failed = cli.run("--resume", sid, prompt="explode")
    assert failed.returncode == 1 and failed.json["is_error"] is True
    third = assert_success(cli.run("--resume", sid, prompt="what is my name?"))
    assert third["result"] == "Your name is Fay. [turn 2]"
    last = cli.stub.requests[-1]
    # the CLI merged the failed prompt into the new user message; the stub reads its last block
    assert last.messages[-1].texts == ("explode", "what is my name?")
    assert last.prompt == "what is my name?"


def test_stall_before_headers_is_bounded_by_api_timeout_ms(cli: Cli) -> None:
    cli.stub.enqueue(Stall(before_headers=True))
    run = cli.run(prompt="hello", api_timeout_ms=1000)
    result = run.json
    assert run.returncode == 1 and result["is_error"] is True
    assert result["api_error_status"] is None
    assert "Request timed out" in result["result"]
    assert [r.reply_kind for r in cli.stub.requests] == ["stall"]
