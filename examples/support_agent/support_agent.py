"""A small customer-support agent built on ``claude -p``: the kind of code pytest-claude-sessions tests.

One Claude session per ticket: ``open_ticket`` starts it, ``follow_up`` resumes it (same session id, the
model sees the earlier turns), ``escalate`` forks it (a new session that carries the history, leaving the
customer's thread untouched) and ``recap`` continues it. In production the agent builds its own
``ClaudeExecutor`` (the user's real ``claude`` login); tests hand it the ``claude_executor`` fixture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_claude_sessions import ClaudeExecutor, ClaudeResult


@dataclass
class Ticket:
    """A support conversation: its Claude session and what was said."""

    customer: str
    session_id: str
    parent_session_id: str | None = None
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (prompt, answer)
    cost_usd: float = 0.0

    def add(self, prompt: str, result: ClaudeResult) -> str:
        answer = result.result or ""
        self.transcript.append((prompt, answer))
        self.cost_usd += result.cost_usd or 0.0
        return answer


class SupportAgent:
    """Opens, follows up, escalates and recaps support tickets, one Claude session per ticket."""

    def __init__(self, executor: ClaudeExecutor | None = None, *, max_turns: int = 4) -> None:
        self.executor = executor if executor is not None else ClaudeExecutor(isolate=False)
        self.max_turns = max_turns

    def open_ticket(self, customer: str, problem: str) -> Ticket:
        prompt = f"my name is {customer}. {problem}"
        result = self.executor.run(prompt, max_turns=self.max_turns, check=True)
        assert result.session_id is not None  # check=True guarantees a successful result
        ticket = Ticket(customer=customer, session_id=result.session_id)
        ticket.add(prompt, result)
        return ticket

    def follow_up(self, ticket: Ticket, message: str) -> str:
        result = self.executor.run(message, resume=ticket.session_id, max_turns=self.max_turns, check=True)
        return ticket.add(message, result)

    def escalate(self, ticket: Ticket, note: str) -> Ticket:
        """Hand the conversation to a specialist: a fork, so the customer's own thread stays as it was."""
        result = self.executor.run(
            note, resume=ticket.session_id, fork=True, max_turns=self.max_turns, check=True
        )
        assert result.session_id is not None
        branch = Ticket(
            customer=ticket.customer,
            session_id=result.session_id,
            parent_session_id=ticket.session_id,
            transcript=list(ticket.transcript),
        )
        branch.add(note, result)
        return branch

    def recap(self, ticket: Ticket) -> str:
        """Ask for a recap of the most recent conversation in this working directory (``--continue``)."""
        result = self.executor.run("list my messages", continue_=True, max_turns=self.max_turns, check=True)
        return ticket.add("list my messages", result)
