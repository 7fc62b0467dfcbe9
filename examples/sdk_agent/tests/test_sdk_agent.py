"""The SDK agent's suite: the agent runs as it is (the Agent SDK finds and starts ``claude`` itself), and
every CLI process the SDK starts goes through the plugin's interposed ``claude`` (the SDK's lookup of its
bundled binary is redirected for the test): tracked, recorded in tests/cassettes/, replayed offline with
no CLI installed. On replay the recorded control requests of the CLI (hook callbacks, permission prompts,
SDK MCP tool calls) are sent to the SDK, so the agent's callbacks really run, and their answers are
checked against the recording.

The cassettes were recorded with the real Claude Code CLI against the loopback stub (``claude_api_stub``):
``pytest --claude-record-mode=all`` re-records them (needs the CLI).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from claude_agent_sdk import get_session_messages
from sdk_agent import Assistant, ask

from pytest_claude_sessions import MessagesStub, SessionTracker, ToolUse
from pytest_claude_sessions.plugin.intercept import ClaudeCli

pytestmark = pytest.mark.claude_cassette


@pytest.mark.claude_session(expect_continuity=True)
def test_query_new_resume_fork(
    claude_api_stub: MessagesStub, session_tracker: SessionTracker, tmp_path: Path
) -> None:
    first = asyncio.run(ask("my name is Alice", cwd=tmp_path))
    second = asyncio.run(ask("what is my name?", cwd=tmp_path, resume=first.session_id))
    fork = asyncio.run(ask("what is my name?", cwd=tmp_path, resume=first.session_id, fork=True))
    assert "Alice" in second.text
    assert "Alice" in fork.text
    assert fork.session_id != first.session_id == second.session_id
    chain = session_tracker.session_chain
    assert [(s.kind, s.parent_session_id) for s in chain] == [
        ("new", None),
        ("resume", first.session_id),
        ("fork", first.session_id),
    ]
    assert chain[0].cli_version == "2.1.330"  # the pinned CLI, not the SDK's bundled one: the redirect
    # the transcripts are in the test's config dir, live or replayed: the SDK's own reader finds them
    said = [m.message for m in get_session_messages(first.session_id, directory=str(tmp_path))]
    assert len(said) == 4, said


@pytest.mark.claude_session(expect_continuity=True)
def test_client_turns_run_the_callbacks(
    claude_api_stub: MessagesStub, session_tracker: SessionTracker, tmp_path: Path
) -> None:
    note = tmp_path / "note.txt"
    claude_api_stub.add_rule("write the note", ToolUse("Write", {"file_path": str(note), "content": "hi"}))
    claude_api_stub.add_rule("look up order", ToolUse("mcp__orders__lookup_order", {"order_id": "42"}))
    bot = Assistant(tmp_path)
    results = asyncio.run(bot.chat("write the note", "look up order 42"))
    assert [r.session_id for r in results] == [results[0].session_id] * 2  # one process, one session
    assert bot.tools_seen == ["Write", "mcp__orders__lookup_order"]  # the PreToolUse hook ran
    assert bot.permissions_asked == ["Write"]  # can_use_tool ran (the MCP tool is allowed outright)
    assert "two blue mugs" in (results[1].result or "")  # the SDK MCP tool answered
    steps = session_tracker.session_chain
    assert [(s.kind, s.last_prompt) for s in steps] == [
        ("new", "write the note"),
        ("resume", "look up order 42"),
    ]


def test_cli_path_from_the_fixture(
    claude_api_stub: MessagesStub, claude_cli: ClaudeCli, tmp_path: Path
) -> None:
    # Code that takes a binary path gets the interposed one; it works like the redirect.
    answer = asyncio.run(ask("my name is Zoe", cwd=tmp_path, cli_path=claude_cli.path))
    assert "Zoe" in answer.text
    assert claude_cli.calls == 1
