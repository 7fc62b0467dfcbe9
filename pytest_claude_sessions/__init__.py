"""pytest-claude-sessions: session chains, continuity checks and record/replay for Claude Code projects.

Everything public is importable from here; the pytest side lives in :mod:`pytest_claude_sessions.plugin`.
Names are imported on first use (PEP 562): the pytest entry point imports this package on every pytest run,
and a suite that never touches Claude should not pay for loading the executor, the stub and the cassettes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .arguments import (
        CallOptions,
    )
    from .assertions import (
        assert_chain_continuous,
        assert_forked,
        assert_no_shared_sessions,
        assert_resumed,
        assert_within_budget,
        chain_continuity,
        format_chain,
        shared_sessions,
    )
    from .budget import (
        BudgetLimits,
        Spend,
        SuiteBudgetGuard,
        check_budget,
    )
    from .cassette_files import (
        find_unused_cassettes,
        prune_cassettes,
    )
    from .cassettes import (
        CassetteInterceptor,
        CassetteReport,
        use_cassette,
    )
    from .errors import (
        BudgetExceededError,
        CassetteCorruptError,
        CassetteError,
        CassetteLockError,
        CassetteMismatchError,
        CassetteMissError,
        CassetteUnusedError,
        CassetteVersionWarning,
        ClaudeEmptyOutputError,
        ClaudeNotFoundError,
        ClaudeProcessError,
        ClaudeResultError,
        ClaudeSessionsError,
        ClaudeTimeoutError,
        ExecutorError,
        ExecutorUsageError,
        ExportFormatError,
        InvalidSessionIdError,
        LockTimeoutError,
        SessionNotFoundError,
        SettingsError,
        StoreCorruptionError,
        StoreError,
        StoreWarning,
        StubError,
        StubTimeoutError,
        TranscriptError,
    )
    from .executor import (
        CallInterceptor,
        CallRecord,
        ClaudeExecutor,
        FollowUpOptions,
        Guard,
        StreamEvent,
    )
    from .locate import (
        find_claude_bin,
    )
    from .manager import (
        SessionManager,
    )
    from .models import (
        ClaudeResult,
        CliCall,
        CliOutcome,
        SessionInfo,
        StepKind,
    )
    from .monitor import (
        HealthCheck,
        HealthReport,
        SessionMonitor,
    )
    from .redact import (
        RedactionRule,
        Redactor,
    )
    from .runs import (
        SessionHistory,
        session_history,
    )
    from .store import (
        SessionStore,
    )
    from .stub import (
        ChatMessage,
        Conversation,
        Delay,
        DropStream,
        HttpError,
        MessagesStub,
        RecordedRequest,
        Reply,
        SseError,
        Stall,
        Text,
        ToolUse,
        default_reply,
    )
    from .tracker import (
        SessionTracker,
        default_persistence_dir,
    )
    from .transcripts import (
        ContinuityVerdict,
        SessionValidator,
        default_config_dir,
        is_session_id,
        project_dir_name,
    )

__version__ = "0.1.0"

# public name -> the submodule that defines it
_EXPORTS: dict[str, str] = {
    "BudgetExceededError": "errors",
    "BudgetLimits": "budget",
    "CallInterceptor": "executor",
    "CallOptions": "arguments",
    "CallRecord": "executor",
    "CassetteCorruptError": "errors",
    "CassetteError": "errors",
    "CassetteInterceptor": "cassettes",
    "CassetteLockError": "errors",
    "CassetteMismatchError": "errors",
    "CassetteMissError": "errors",
    "CassetteReport": "cassettes",
    "CassetteUnusedError": "errors",
    "CassetteVersionWarning": "errors",
    "ChatMessage": "stub",
    "ClaudeEmptyOutputError": "errors",
    "ClaudeExecutor": "executor",
    "ClaudeNotFoundError": "errors",
    "ClaudeProcessError": "errors",
    "ClaudeResult": "models",
    "ClaudeResultError": "errors",
    "ClaudeSessionsError": "errors",
    "ClaudeTimeoutError": "errors",
    "CliCall": "models",
    "CliOutcome": "models",
    "ContinuityVerdict": "transcripts",
    "Conversation": "stub",
    "Delay": "stub",
    "DropStream": "stub",
    "ExecutorError": "errors",
    "ExecutorUsageError": "errors",
    "ExportFormatError": "errors",
    "FollowUpOptions": "executor",
    "Guard": "executor",
    "HealthCheck": "monitor",
    "HealthReport": "monitor",
    "HttpError": "stub",
    "InvalidSessionIdError": "errors",
    "LockTimeoutError": "errors",
    "MessagesStub": "stub",
    "RecordedRequest": "stub",
    "RedactionRule": "redact",
    "Redactor": "redact",
    "Reply": "stub",
    "SessionHistory": "runs",
    "SessionInfo": "models",
    "SessionManager": "manager",
    "SessionMonitor": "monitor",
    "SessionNotFoundError": "errors",
    "SessionStore": "store",
    "SessionTracker": "tracker",
    "SessionValidator": "transcripts",
    "SettingsError": "errors",
    "Spend": "budget",
    "SseError": "stub",
    "Stall": "stub",
    "StepKind": "models",
    "StoreCorruptionError": "errors",
    "StoreError": "errors",
    "StoreWarning": "errors",
    "StreamEvent": "executor",
    "StubError": "errors",
    "StubTimeoutError": "errors",
    "SuiteBudgetGuard": "budget",
    "Text": "stub",
    "ToolUse": "stub",
    "TranscriptError": "errors",
    "assert_chain_continuous": "assertions",
    "assert_forked": "assertions",
    "assert_no_shared_sessions": "assertions",
    "assert_resumed": "assertions",
    "assert_within_budget": "assertions",
    "chain_continuity": "assertions",
    "check_budget": "budget",
    "default_config_dir": "transcripts",
    "default_persistence_dir": "tracker",
    "default_reply": "stub",
    "find_claude_bin": "locate",
    "find_unused_cassettes": "cassette_files",
    "format_chain": "assertions",
    "is_session_id": "transcripts",
    "project_dir_name": "transcripts",
    "prune_cassettes": "cassette_files",
    "session_history": "runs",
    "shared_sessions": "assertions",
    "use_cassette": "cassettes",
}

__all__ = [
    "BudgetExceededError",
    "BudgetLimits",
    "CallInterceptor",
    "CallOptions",
    "CallRecord",
    "CassetteCorruptError",
    "CassetteError",
    "CassetteInterceptor",
    "CassetteLockError",
    "CassetteMismatchError",
    "CassetteMissError",
    "CassetteReport",
    "CassetteUnusedError",
    "CassetteVersionWarning",
    "ChatMessage",
    "ClaudeEmptyOutputError",
    "ClaudeExecutor",
    "ClaudeNotFoundError",
    "ClaudeProcessError",
    "ClaudeResult",
    "ClaudeResultError",
    "ClaudeSessionsError",
    "ClaudeTimeoutError",
    "CliCall",
    "CliOutcome",
    "ContinuityVerdict",
    "Conversation",
    "Delay",
    "DropStream",
    "ExecutorError",
    "ExecutorUsageError",
    "ExportFormatError",
    "FollowUpOptions",
    "Guard",
    "HealthCheck",
    "HealthReport",
    "HttpError",
    "InvalidSessionIdError",
    "LockTimeoutError",
    "MessagesStub",
    "RecordedRequest",
    "RedactionRule",
    "Redactor",
    "Reply",
    "SessionHistory",
    "SessionInfo",
    "SessionManager",
    "SessionMonitor",
    "SessionNotFoundError",
    "SessionStore",
    "SessionTracker",
    "SessionValidator",
    "SettingsError",
    "Spend",
    "SseError",
    "Stall",
    "StepKind",
    "StoreCorruptionError",
    "StoreError",
    "StoreWarning",
    "StreamEvent",
    "StubError",
    "StubTimeoutError",
    "SuiteBudgetGuard",
    "Text",
    "ToolUse",
    "TranscriptError",
    "__version__",
    "assert_chain_continuous",
    "assert_forked",
    "assert_no_shared_sessions",
    "assert_resumed",
    "assert_within_budget",
    "chain_continuity",
    "check_budget",
    "default_config_dir",
    "default_persistence_dir",
    "default_reply",
    "find_claude_bin",
    "find_unused_cassettes",
    "format_chain",
    "is_session_id",
    "project_dir_name",
    "prune_cassettes",
    "session_history",
    "shared_sessions",
    "use_cassette",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
