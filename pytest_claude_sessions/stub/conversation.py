"""How the Messages API stub reads a request: normalized messages, the :class:`Conversation`, and the
deterministic, conversation-aware default reply.

Normalizing drops ``role: "system"`` messages and ``<system-reminder>`` blocks (the CLI adds both to
every request), so rules, responders and the request log see only what the user and the model said.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChatMessage",
    "Conversation",
    "ToolCall",
    "ToolResult",
    "default_reply",
    "normalize_messages",
]

_REMINDER_RE = re.compile(r"<system-reminder>.*?(?:</system-reminder>|\Z)", re.DOTALL)
_NAME_IS_RE = re.compile(r"\bmy name is\s+([^\W\d_][\w'-]*(?:\s+[A-Z][\w'-]*)*)", re.IGNORECASE)
_ASK_NAME_RE = re.compile(r"\bwhat(?:['’]s|\s+is)\s+my\s+name\b", re.IGNORECASE)
_LIST_RE = re.compile(r"\blist\s+my\s+messages\b", re.IGNORECASE)
_SNIPPET = 160  # characters of a tool result quoted by the default reply


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
