"""The loopback Messages API stub: server, replies, conversation, wire format. Names load on first use
(PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.stub.conversation import (
        ChatMessage,
        Conversation,
        ToolCall,
        ToolResult,
        default_reply,
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
    )
    from pytest_claude_sessions.stub.server import (
        DUMMY_API_KEY,
        MessagesStub,
        RecordedRequest,
        Rule,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "conversation": (
        "ChatMessage",
        "Conversation",
        "ToolCall",
        "ToolResult",
        "default_reply",
    ),
    "replies": (
        "Delay",
        "DropStream",
        "HttpError",
        "Reply",
        "ReplyKind",
        "ReplySource",
        "SseError",
        "Stall",
        "Text",
        "ToolUse",
    ),
    "server": (
        "DUMMY_API_KEY",
        "MessagesStub",
        "RecordedRequest",
        "Rule",
    ),
}

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
    "ReplyKind",
    "ReplySource",
    "Rule",
    "SseError",
    "Stall",
    "Text",
    "ToolCall",
    "ToolResult",
    "ToolUse",
    "default_reply",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
