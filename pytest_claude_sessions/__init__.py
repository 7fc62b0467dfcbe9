"""pytest-claude-sessions: session chains, continuity checks and record/replay for Claude Code projects."""

from __future__ import annotations

from .errors import (
    BudgetExceededError,
    CassetteError,
    CassetteMismatchError,
    CassetteMissError,
    ClaudeEmptyOutputError,
    ClaudeNotFoundError,
    ClaudeProcessError,
    ClaudeResultError,
    ClaudeSessionsError,
    ClaudeTimeoutError,
    ExecutorError,
    InvalidSessionIdError,
    LockTimeoutError,
    SessionNotFoundError,
    StoreCorruptionError,
    StoreError,
    TranscriptError,
)
from .models import ClaudeResult, SessionInfo, StepKind

__version__ = "0.1.0"

__all__ = [
    "BudgetExceededError",
    "CassetteError",
    "CassetteMismatchError",
    "CassetteMissError",
    "ClaudeEmptyOutputError",
    "ClaudeNotFoundError",
    "ClaudeProcessError",
    "ClaudeResult",
    "ClaudeResultError",
    "ClaudeSessionsError",
    "ClaudeTimeoutError",
    "ExecutorError",
    "InvalidSessionIdError",
    "LockTimeoutError",
    "SessionInfo",
    "SessionNotFoundError",
    "StepKind",
    "StoreCorruptionError",
    "StoreError",
    "TranscriptError",
    "__version__",
]
