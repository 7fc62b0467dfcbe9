"""pytest-claude-sessions: session chains, continuity checks and record/replay for Claude Code projects.

Everything public is importable from here; the pytest side lives in :mod:`pytest_claude_sessions.plugin`.
"""

from __future__ import annotations

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
from .budget import BudgetLimits, Spend, SuiteBudgetGuard, check_budget
from .cassette_files import find_unused_cassettes, prune_cassettes
from .cassettes import CassetteInterceptor, CassetteReport, use_cassette
from .errors import (
    BudgetExceededError,
    CassetteCorruptError,
    CassetteError,
    CassetteLockError,
    CassetteMismatchError,
    CassetteMissError,
    CassetteUnusedError,
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
from .executor import CallInterceptor, CallRecord, ClaudeExecutor, Guard, StreamEvent
from .locate import find_claude_bin
from .manager import SessionManager
from .models import ClaudeResult, CliCall, CliOutcome, SessionInfo, StepKind
from .monitor import HealthCheck, HealthReport, SessionMonitor
from .redact import RedactionRule, Redactor
from .runs import SessionHistory, session_history
from .store import SessionStore
from .stub import (
    Delay,
    DropStream,
    HttpError,
    MessagesStub,
    RecordedRequest,
    SseError,
    Stall,
    Text,
    ToolUse,
)
from .tracker import SessionTracker, default_persistence_dir
from .transcripts import (
    ContinuityVerdict,
    SessionValidator,
    default_config_dir,
    is_session_id,
    project_dir_name,
)

__version__ = "0.1.0"

__all__ = [
    "BudgetExceededError",
    "BudgetLimits",
    "CallInterceptor",
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
    "Delay",
    "DropStream",
    "ExecutorError",
    "ExecutorUsageError",
    "ExportFormatError",
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
