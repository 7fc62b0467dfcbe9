"""The CLI process: option table and argv, the core shared with the interposed ``claude``, running it with
bounded output, outcomes, isolation, ClaudeExecutor. Names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.executor.core import Before, CallCore, CallInterceptor
    from pytest_claude_sessions.executor.executor import (
        CallRecord,
        ClaudeExecutor,
        FollowUpOptions,
        Guard,
        RunOptions,
    )
    from pytest_claude_sessions.executor.options import CallOptions, CommonOptions
    from pytest_claude_sessions.executor.parsing import StreamEvent

_EXPORTS: dict[str, tuple[str, ...]] = {
    "core": ("Before", "CallCore", "CallInterceptor"),
    "executor": ("CallRecord", "ClaudeExecutor", "FollowUpOptions", "Guard", "RunOptions"),
    "options": ("CallOptions", "CommonOptions"),
    "parsing": ("StreamEvent",),
}

__all__ = [
    "Before",
    "CallCore",
    "CallInterceptor",
    "CallOptions",
    "CallRecord",
    "ClaudeExecutor",
    "CommonOptions",
    "FollowUpOptions",
    "Guard",
    "RunOptions",
    "StreamEvent",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
