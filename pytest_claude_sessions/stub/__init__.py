"""The loopback Messages API stub: server, replies, conversation, wire format. Names load on first use
(PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.stub.conversation import (
        ChatMessage as ChatMessage,
        Conversation as Conversation,
        ToolCall as ToolCall,
        ToolResult as ToolResult,
        default_reply as default_reply,
    )
    from pytest_claude_sessions.stub.replies import (
        Delay as Delay,
        DropStream as DropStream,
        HttpError as HttpError,
        Reply as Reply,
        ReplyKind as ReplyKind,
        ReplySource as ReplySource,
        SseError as SseError,
        Stall as Stall,
        Text as Text,
        ToolUse as ToolUse,
    )
    from pytest_claude_sessions.stub.server import (
        DUMMY_API_KEY as DUMMY_API_KEY,
        MessagesStub as MessagesStub,
        RecordedRequest as RecordedRequest,
        Rule as Rule,
    )

# submodule -> the public names it defines (what mypy sees is the block above; a test checks they agree)
_EXPORTS = {
    "conversation": "ChatMessage Conversation ToolCall ToolResult default_reply",
    "replies": "Delay DropStream HttpError Reply ReplyKind ReplySource SseError Stall Text ToolUse",
    "server": "DUMMY_API_KEY MessagesStub RecordedRequest Rule",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS)
