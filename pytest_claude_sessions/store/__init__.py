"""The session store: the append-only journal, SessionTracker, SessionManager, SessionMonitor, run
directories. Names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.store.journal import (
        JournalCursor,
        ReadResult,
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
        RunDir,
        SessionHistory,
        session_history,
    )
    from pytest_claude_sessions.store.tracker import (
        SessionTracker,
        default_persistence_dir,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "journal": (
        "JournalCursor",
        "ReadResult",
        "SessionStore",
    ),
    "manager": ("SessionManager",),
    "monitor": (
        "HealthCheck",
        "HealthReport",
        "SessionMonitor",
    ),
    "runs": (
        "RunDir",
        "SessionHistory",
        "session_history",
    ),
    "tracker": (
        "SessionTracker",
        "default_persistence_dir",
    ),
}

__all__ = [
    "HealthCheck",
    "HealthReport",
    "JournalCursor",
    "ReadResult",
    "RunDir",
    "SessionHistory",
    "SessionManager",
    "SessionMonitor",
    "SessionStore",
    "SessionTracker",
    "default_persistence_dir",
    "session_history",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
