"""The CLI process: option table and argv, the core shared with the interposed ``claude``, running it with
bounded output, outcomes, isolation, ClaudeExecutor. Names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.executor.core import (
        Before as Before,
        CallCore as CallCore,
        CallInterceptor as CallInterceptor,
    )
    from pytest_claude_sessions.executor.executor import (
        CallRecord as CallRecord,
        ClaudeExecutor as ClaudeExecutor,
        FollowUpOptions as FollowUpOptions,
        Guard as Guard,
        ProgressObserver as ProgressObserver,
        RunOptions as RunOptions,
    )
    from pytest_claude_sessions.executor.options import (
        CallOptions as CallOptions,
        CommonOptions as CommonOptions,
    )
    from pytest_claude_sessions.executor.parsing import (
        StreamEvent as StreamEvent,
    )

# submodule -> the public names it defines (what mypy sees is the block above; a test checks they agree)
_EXPORTS = {
    "core": "Before CallCore CallInterceptor",
    "executor": "CallRecord ClaudeExecutor FollowUpOptions Guard ProgressObserver RunOptions",
    "options": "CallOptions CommonOptions",
    "parsing": "StreamEvent",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS)
