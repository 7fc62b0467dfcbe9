"""The subprocess agent's suite: the agent runs as it is (``subprocess.run(["claude", ...])``), and every
claude process it starts goes through the plugin's interposed ``claude``: tracked as steps of the test's
chain, recorded in tests/cassettes/, replayed offline with no CLI installed.

The cassettes were recorded with the real Claude Code CLI against the loopback stub (``claude_api_stub``):
``pytest --claude-record-mode=all`` re-records them (needs the CLI).
"""

from __future__ import annotations

import pytest
from notes_agent import AgentError, ask, ask_many, summarize_with_pipeline

from pytest_claude_sessions import MessagesStub, SessionTracker

pytestmark = [pytest.mark.claude_cassette, pytest.mark.usefixtures("claude_api_stub")]


@pytest.mark.claude_session(expect_continuity=True)
def test_resume_remembers_the_name(session_tracker: SessionTracker) -> None:
    first = ask("my name is Alice")
    second = ask("what is my name?", resume=first.session_id)
    assert "Alice" in second.text
    new, resumed = session_tracker.session_chain
    assert (new.kind, resumed.kind) == ("new", "resume")
    assert resumed.parent_session_id == first.session_id == resumed.session_id


@pytest.mark.claude_session(expect_continuity=True)
def test_fork_and_continue(session_tracker: SessionTracker) -> None:
    first = ask("my name is Bea", output_format="stream-json")
    fork = ask("what is my name?", resume=first.session_id, fork=True)
    later = ask("list my messages", continue_=True)
    assert "Bea" in fork.text
    assert fork.session_id != first.session_id
    assert later.session_id == fork.session_id  # --continue picks the most recent session of the cwd
    kinds = [(s.kind, s.parent_session_id) for s in session_tracker.session_chain]
    assert kinds == [("new", None), ("fork", first.session_id), ("continue", fork.session_id)]


# Processes that run at once reach the plugin in any order: match them by what they ask, not by position.
@pytest.mark.claude_cassette(match_on="kind,prompt,output_format,session,options")
def test_two_processes_at_once(session_tracker: SessionTracker) -> None:
    replies = ask_many(["my name is Cy", "my name is Di"])
    assert "Cy" in replies[0].text
    assert "Di" in replies[1].text
    assert sorted(s.last_prompt for s in session_tracker.session_chain) == ["my name is Cy", "my name is Di"]


def test_shell_pipeline(session_tracker: SessionTracker) -> None:
    assert "Eve" in summarize_with_pipeline("my name is Eve")
    (step,) = session_tracker.session_chain
    assert step.last_prompt == "my name is Eve"


def test_an_unknown_session_raises(session_tracker: SessionTracker, claude_api_stub: MessagesStub) -> None:
    with pytest.raises(AgentError, match="No conversation found"):
        ask("hello?", resume="99999999-2222-4333-8444-555555555555")
    assert session_tracker.session_chain == []  # a failed call is a "call that raised", not a step
