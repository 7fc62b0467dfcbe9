"""The session store: the append-only journal, SessionTracker, SessionManager, SessionMonitor, run
directories. Names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.store.manager import (
        SessionManager as SessionManager,
    )
    from pytest_claude_sessions.store.monitor import (
        HealthCheck as HealthCheck,
        HealthReport as HealthReport,
        SessionMonitor as SessionMonitor,
    )
    from pytest_claude_sessions.store.runs import (
        RunDir as RunDir,
        SessionHistory as SessionHistory,
        session_history as session_history,
    )
    from pytest_claude_sessions.store.session_store import (
        JournalCursor as JournalCursor,
        ReadResult as ReadResult,
        SessionStore as SessionStore,
    )
    from pytest_claude_sessions.store.tracker import (
        SessionTracker as SessionTracker,
        default_persistence_dir as default_persistence_dir,
    )

# submodule -> the public names it defines (what mypy sees is the block above; a test checks they agree)
_EXPORTS = {
    "session_store": "JournalCursor ReadResult SessionStore",
    "manager": "SessionManager",
    "monitor": "HealthCheck HealthReport SessionMonitor",
    "runs": "RunDir SessionHistory session_history",
    "tracker": "SessionTracker default_persistence_dir",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS)
