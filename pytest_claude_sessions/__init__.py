"""pytest-claude-sessions: session chains, continuity checks and record/replay for Claude Code projects.

Everything public is importable from here; the pytest side lives in :mod:`pytest_claude_sessions.plugin`.
Names are imported on first use (PEP 562): the pytest entry point imports this package on every pytest run,
and a suite that never touches Claude should not pay for loading the executor, the stub and the cassettes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_claude_sessions.assertions.budget import (
        BudgetLimits,
        Spend,
        SuiteBudgetGuard,
        check_budget,
    )
    from pytest_claude_sessions.assertions.continuity import (
        assert_chain_continuous,
        assert_forked,
        assert_no_shared_sessions,
        assert_resumed,
        assert_within_budget,
        chain_continuity,
        format_chain,
        shared_sessions,
    )
    from pytest_claude_sessions.cassettes.files import (
        find_unused_cassettes,
        prune_cassettes,
    )
    from pytest_claude_sessions.cassettes.recorder import (
        CassetteInterceptor,
        CassetteReport,
        use_cassette,
    )
    from pytest_claude_sessions.errors import (
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
    from pytest_claude_sessions.executor.executor import (
        CallInterceptor,
        CallRecord,
        ClaudeExecutor,
        FollowUpOptions,
        Guard,
        StreamEvent,
    )
    from pytest_claude_sessions.executor.locate import (
        find_claude_bin,
    )
    from pytest_claude_sessions.executor.options import (
        CallOptions,
    )
    from pytest_claude_sessions.models import (
        ClaudeResult,
        CliCall,
        CliOutcome,
        SessionInfo,
        StepKind,
    )
    from pytest_claude_sessions.redact import (
        RedactionRule,
        Redactor,
    )
    from pytest_claude_sessions.store.journal import (
        SessionStore,
    )
    from pytest_claude_sessions.store.manager import (
        SessionManager,
    )
    from pytest_claude_sessions.store.monitor import (
        HealthCheck,
        HealthReport,
        SessionMonitor,
    )
    from pytest_claude_sessions.store.runs import (
        SessionHistory,
        session_history,
    )
    from pytest_claude_sessions.store.tracker import (
        SessionTracker,
        default_persistence_dir,
    )
    from pytest_claude_sessions.stub.server import (
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
    from pytest_claude_sessions.transcripts.validator import (
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
    "BudgetLimits": "assertions.budget",
    "CallInterceptor": "executor.core",
    "CallOptions": "executor.options",
    "CallRecord": "executor.executor",
    "CassetteCorruptError": "errors",
    "CassetteError": "errors",
    "CassetteInterceptor": "cassettes.recorder",
    "CassetteLockError": "errors",
    "CassetteMismatchError": "errors",
    "CassetteMissError": "errors",
    "CassetteReport": "cassettes.recorder",
    "CassetteUnusedError": "errors",
    "CassetteVersionWarning": "errors",
    "ChatMessage": "stub.server",
    "ClaudeEmptyOutputError": "errors",
    "ClaudeExecutor": "executor.executor",
    "ClaudeNotFoundError": "errors",
    "ClaudeProcessError": "errors",
    "ClaudeResult": "models",
    "ClaudeResultError": "errors",
    "ClaudeSessionsError": "errors",
    "ClaudeTimeoutError": "errors",
    "CliCall": "models",
    "CliOutcome": "models",
    "ContinuityVerdict": "transcripts.validator",
    "Conversation": "stub.server",
    "Delay": "stub.server",
    "DropStream": "stub.server",
    "ExecutorError": "errors",
    "ExecutorUsageError": "errors",
    "ExportFormatError": "errors",
    "FollowUpOptions": "executor.executor",
    "Guard": "executor.executor",
    "HealthCheck": "store.monitor",
    "HealthReport": "store.monitor",
    "HttpError": "stub.server",
    "InvalidSessionIdError": "errors",
    "LockTimeoutError": "errors",
    "MessagesStub": "stub.server",
    "RecordedRequest": "stub.server",
    "RedactionRule": "redact",
    "Redactor": "redact",
    "Reply": "stub.server",
    "SessionHistory": "store.runs",
    "SessionInfo": "models",
    "SessionManager": "store.manager",
    "SessionMonitor": "store.monitor",
    "SessionNotFoundError": "errors",
    "SessionStore": "store.journal",
    "SessionTracker": "store.tracker",
    "SessionValidator": "transcripts.validator",
    "SettingsError": "errors",
    "Spend": "assertions.budget",
    "SseError": "stub.server",
    "Stall": "stub.server",
    "StepKind": "models",
    "StoreCorruptionError": "errors",
    "StoreError": "errors",
    "StoreWarning": "errors",
    "StreamEvent": "executor.executor",
    "StubError": "errors",
    "StubTimeoutError": "errors",
    "SuiteBudgetGuard": "assertions.budget",
    "Text": "stub.server",
    "ToolUse": "stub.server",
    "TranscriptError": "errors",
    "assert_chain_continuous": "assertions.continuity",
    "assert_forked": "assertions.continuity",
    "assert_no_shared_sessions": "assertions.continuity",
    "assert_resumed": "assertions.continuity",
    "assert_within_budget": "assertions.continuity",
    "chain_continuity": "assertions.continuity",
    "check_budget": "assertions.budget",
    "default_config_dir": "transcripts.validator",
    "default_persistence_dir": "store.tracker",
    "default_reply": "stub.server",
    "find_claude_bin": "executor.locate",
    "find_unused_cassettes": "cassettes.files",
    "format_chain": "assertions.continuity",
    "is_session_id": "transcripts.validator",
    "project_dir_name": "transcripts.validator",
    "prune_cassettes": "cassettes.files",
    "session_history": "store.runs",
    "shared_sessions": "assertions.continuity",
    "use_cassette": "cassettes.recorder",
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
