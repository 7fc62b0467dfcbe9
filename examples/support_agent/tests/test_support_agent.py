"""The support agent's suite: each Claude call replays from tests/cassettes/, so it runs offline.

The cassettes were recorded with the real Claude Code CLI against the loopback Messages API stub
(``claude_api_stub``); re-record them with ``pytest --claude-record-mode=all`` (needs the CLI).
"""

from __future__ import annotations

import pytest
from support_agent import SupportAgent

from pytest_claude_sessions import (
    ClaudeExecutor,
    ClaudeResultError,
    HttpError,
    MessagesStub,
    SessionTracker,
    SessionValidator,
    assert_forked,
    assert_resumed,
)

pytestmark = pytest.mark.claude_cassette


@pytest.fixture
def agent(claude_api_stub: MessagesStub, claude_executor: ClaudeExecutor) -> SupportAgent:
    return SupportAgent(claude_executor)


@pytest.mark.claude_session(expect_continuity=True)
@pytest.mark.claude_budget(max_calls=2, max_cost_usd=0.50)
def test_follow_up_remembers_the_customer(agent: SupportAgent, session_tracker: SessionTracker) -> None:
    ticket = agent.open_ticket("Zed", "My printer prints only blank pages.")
    answer = agent.follow_up(ticket, "what is my name?")

    assert "Zed" in answer  # the model saw the first turn: the resume really continued the conversation
    first, second = session_tracker.session_chain
    assert (first.kind, second.kind) == ("new", "resume")
    assert second.session_id == first.session_id == ticket.session_id  # --resume keeps the id


@pytest.mark.claude_session(expect_continuity=True)
def test_escalation_forks_and_leaves_the_customer_thread_alone(
    agent: SupportAgent, session_tracker: SessionTracker, claude_transcripts: SessionValidator
) -> None:
    ticket = agent.open_ticket("Ada", "The invoice total is wrong.")
    agent.follow_up(ticket, "what is my name?")
    specialist = agent.escalate(ticket, "Billing specialist here: what is my name?")

    assert "Ada" in specialist.transcript[-1][1]
    opened, followed, forked = session_tracker.session_chain
    assert_resumed(followed, opened, claude_transcripts)
    assert_forked(forked, followed, claude_transcripts)
    # The fork wrote its own transcript; the customer's thread still holds only its two prompts.
    customer = claude_transcripts.get_session_info(ticket.session_id)
    assert customer is not None
    assert len(customer["prompts"]) == 2


@pytest.mark.claude_session(expect_continuity=True)
def test_recap_continues_the_latest_conversation(
    agent: SupportAgent, session_tracker: SessionTracker
) -> None:
    ticket = agent.open_ticket("Lin", "My parcel is late.")
    recap = agent.recap(ticket)

    assert "My parcel is late." in recap
    assert [step.kind for step in session_tracker.session_chain] == ["new", "continue"]


@pytest.mark.parametrize("customer", ["Émile", "O'Brien"])
def test_open_ticket_greets_every_customer(agent: SupportAgent, customer: str) -> None:
    ticket = agent.open_ticket(customer, "Hello!")
    assert customer in ticket.transcript[0][1]


def test_legacy_execute_claude_resumes_by_session_id(
    claude_api_stub: MessagesStub, claude_executor: ClaudeExecutor
) -> None:
    first = claude_executor.execute_claude("my name is Bo")
    again = claude_executor.execute_claude("what is my name?", session_id=first["session_id"])
    assert again["session_id"] == first["session_id"]
    assert "Bo" in again["result"]


def test_an_api_outage_surfaces_as_an_error(agent: SupportAgent, claude_api_stub: MessagesStub) -> None:
    claude_api_stub.enqueue(HttpError(529, should_retry=False))  # the error path replays too
    with pytest.raises(ClaudeResultError, match="529"):
        agent.open_ticket("Kim", "Is the service up?")


@pytest.mark.claude_integration
def test_against_the_real_model(claude_executor: ClaudeExecutor) -> None:
    """Runs only with --claude-integration, a claude binary and an API key: never in CI by accident."""
    agent = SupportAgent(claude_executor)
    ticket = agent.open_ticket("Zed", "Reply with one short sentence.")
    assert ticket.session_id
