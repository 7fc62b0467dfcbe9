"""A journal lock held by another thread, for tests of lock timeouts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_claude_sessions.store.session_store import SessionStore


@contextmanager
def lock_held(directory: Path, agent: str) -> Iterator[Path]:
    """Hold the journal lock of ``agent`` in ``directory`` from a thread; yields the lock file's path."""
    holder = SessionStore(directory)
    path = holder.journal_path(agent)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.locked(path):
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(10)
        yield holder.lock_path(path)
    finally:
        release.set()
        t.join()
