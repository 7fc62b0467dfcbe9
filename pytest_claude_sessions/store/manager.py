"""``SessionManager``: every agent of one store directory — trackers, cleanup, export and idempotent merge.

Each async method has a sync twin (``tracker``, ``update``, ``all_sessions``, ``cleanup``, ``export``,
``import_``) for sync callers such as pytest hooks; the async ones run the file I/O in
``asyncio.to_thread`` so the event loop never blocks on a lock or an fsync.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from pytest_claude_sessions.errors import ExportFormatError
from pytest_claude_sessions.fs import atomic_write
from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.redact import Redactor
from pytest_claude_sessions.store.journal import parse_record
from pytest_claude_sessions.store.session_store import SessionStore
from pytest_claude_sessions.store.tracker import (
    DEFAULT_MAX_TEXT_LENGTH,
    SessionTracker,
    default_persistence_dir,
)

__all__ = ["EXPORT_FORMAT", "ExportFormatError", "SessionManager"]

EXPORT_FORMAT = "pytest-claude-sessions.export"
EXPORT_VERSION = 1


class SessionManager:
    """All agents of one store directory (default: ``$CLAUDE_SESSIONS_DIR`` or ``~/.claude-agent/sessions``).

    Trackers are created on demand and shared (one per agent id per manager). Safe from many threads and
    asyncio tasks at once, and from many processes on the same directory.
    """

    def __init__(
        self,
        persistence_dir: str | os.PathLike[str] | None = None,
        *,
        redactor: Redactor | None = None,
        max_text_length: int | None = DEFAULT_MAX_TEXT_LENGTH,
        fsync: bool | None = None,
        lock_timeout: float | None = None,
        run_id: str | None = None,
    ) -> None:
        directory = default_persistence_dir() if persistence_dir is None else Path(persistence_dir)
        self.redactor = redactor if redactor is not None else Redactor()
        self.max_text_length = max_text_length
        self.run_id = run_id
        self.store = SessionStore(directory, fsync=fsync, lock_timeout=lock_timeout, redactor=self.redactor)
        self.persistence_dir: Path = self.store.directory
        self._trackers: dict[str, SessionTracker] = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"SessionManager({str(self.persistence_dir)!r})"

    @property
    def trackers(self) -> dict[str, SessionTracker]:
        """The trackers created so far (a copy)."""
        with self._guard:
            return dict(self._trackers)

    # ----------------------------------------------------------------- sync API

    def tracker(self, agent_id: str) -> SessionTracker:
        """The tracker of ``agent_id`` (created on first use, then shared)."""
        with self._guard:
            found = self._trackers.get(agent_id)
        if found is not None:
            return found
        created = SessionTracker(
            agent_id,
            redactor=self.redactor,
            max_text_length=self.max_text_length,
            run_id=self.run_id,
            store=self.store,
        )
        with self._guard:  # two threads may race to create it: keep the first
            return self._trackers.setdefault(agent_id, created)

    def update(
        self,
        agent_id: str,
        session_id: str,
        prompt: str,
        response: str,
        metadata: dict[str, Any] | None = None,
        **fields: Any,
    ) -> SessionInfo:
        """Record a step for ``agent_id``; ``fields`` as in :meth:`SessionTracker.update_session`."""
        return self.tracker(agent_id).update_session(session_id, prompt, response, metadata, **fields)

    def current_session(self, agent_id: str) -> str | None:
        """The latest session id of ``agent_id`` (``None`` when it has no step)."""
        return self.tracker(agent_id).current_session_id

    def all_sessions(self) -> dict[str, list[SessionInfo]]:
        """``{agent_id: chain}`` for every agent in the directory that has at least one step, whoever wrote
        it (legacy files too).

        An agent whose chain is empty (after :meth:`SessionTracker.reset`) is left out, just as an agent
        whose steps :meth:`cleanup` removed: every listed chain has a first and a last step, and statistics
        and exports do not count agents with nothing in them. Its tracker still works and the agent comes
        back with its next step.
        """
        return {agent: chain for agent, chain in self.store.load_all().items() if chain}

    def cleanup(self, days: float = 7) -> int:
        """Remove steps older than ``days`` from every journal on disk; returns how many were removed.
        Remaining steps are renumbered 1..n; trackers see the result at their next read."""
        if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
            raise ValueError(f"days must be a number >= 0, got {days!r}")
        cutoff = utcnow() - timedelta(days=days)
        removed = 0
        for agent_id in self.store.agent_ids():
            removed += self.store.remove_older_than(agent_id, cutoff)
        return removed

    def export(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Every agent as ``{"export_date", "format", "version", "agents": {id: {"sessions": [...],
        "total_interactions": n}}}``; also written atomically to ``path`` as JSON when given."""
        agents: dict[str, Any] = {}
        for agent_id, chain in sorted(self.all_sessions().items()):
            agents[agent_id] = {
                "sessions": [s.to_dict() for s in chain],
                "total_interactions": chain[-1].interaction_count if chain else 0,
            }
        data: dict[str, Any] = {
            "export_date": utcnow().isoformat(),
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "source_dir": str(self.persistence_dir),
            "agents": agents,
        }
        if path is not None:
            target = Path(path).expanduser()
            target.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(data, indent=2, ensure_ascii=True, allow_nan=False) + "\n"
            atomic_write(target, text.encode("ascii"))
        return data

    def import_(self, source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, int]:
        """Merge an export (a path or the dict) into this store: union by step id, each chain keeping its
        own order, renumbered, atomic rewrite. Idempotent. Returns ``{agent_id: steps added}``."""
        where = "the export dict"
        if not isinstance(source, str | os.PathLike):
            data: Any = source
        else:
            where = str(source)
            try:
                data = json.loads(Path(source).read_text(encoding="utf-8"))
            except OSError as exc:
                raise ExportFormatError(f"cannot read the export {where}: {exc}") from exc
            except ValueError as exc:
                raise ExportFormatError(f"the export {where} is not valid JSON: {exc}") from exc
        parsed = _parse_export(data, where)  # validate everything before touching any journal
        return {agent_id: self.store.merge(agent_id, records) for agent_id, records in parsed.items()}

    # ----------------------------------------------------------------- async API (original design)

    async def get_tracker(self, agent_id: str) -> SessionTracker:
        """The tracker of ``agent_id``."""
        return await asyncio.to_thread(self.tracker, agent_id)

    async def update_session(
        self,
        agent_id: str,
        session_id: str,
        prompt: str,
        response: str,
        metadata: dict[str, Any] | None = None,
        **fields: Any,
    ) -> SessionInfo:
        """Record a step for ``agent_id`` (file I/O off the event loop)."""
        return await asyncio.to_thread(
            self.update, agent_id, session_id, prompt, response, metadata, **fields
        )

    async def get_current_session(self, agent_id: str) -> str | None:
        """The latest session id of ``agent_id``."""
        return await asyncio.to_thread(self.current_session, agent_id)

    async def get_all_sessions(self) -> dict[str, list[SessionInfo]]:
        """``{agent_id: chain}`` for every agent in the directory with at least one step (a reset agent,
        whose chain is empty, is left out; see :meth:`all_sessions`)."""
        return await asyncio.to_thread(self.all_sessions)

    async def cleanup_old_sessions(self, days: float = 7) -> int:
        """Remove steps older than ``days``; returns how many were removed."""
        return await asyncio.to_thread(self.cleanup, days)

    async def export_sessions(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Export every agent (and write it to ``path`` when given)."""
        return await asyncio.to_thread(self.export, path)

    async def import_sessions(self, source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, int]:
        """Merge an export; idempotent. Returns ``{agent_id: steps added}``."""
        return await asyncio.to_thread(self.import_, source)


def _parse_export(data: Any, where: str) -> dict[str, list[SessionInfo]]:
    if not isinstance(data, dict) or not isinstance(data.get("agents"), dict):
        raise ExportFormatError(f"{where} is not an export: expected an object with an 'agents' object")
    fmt = data.get("format")
    if fmt is not None and fmt != EXPORT_FORMAT:
        raise ExportFormatError(f"{where} has format {fmt!r}, expected {EXPORT_FORMAT!r}")
    out: dict[str, list[SessionInfo]] = {}
    for agent_id, entry in data["agents"].items():
        sessions = entry.get("sessions") if isinstance(entry, dict) else None
        if not isinstance(sessions, list):
            raise ExportFormatError(f"{where}: agents[{agent_id!r}] has no 'sessions' list")
        records: list[SessionInfo] = []
        for i, item in enumerate(sessions):
            try:
                rec = parse_record(item)
            except ValueError as exc:
                raise ExportFormatError(f"{where}: agents[{agent_id!r}].sessions[{i}]: {exc}") from exc
            if rec.agent_id is not None and rec.agent_id != agent_id:
                # importing it would poison the target journal: every later append would refuse it
                raise ExportFormatError(
                    f"{where}: agents[{agent_id!r}].sessions[{i}] names another agent, {rec.agent_id!r}"
                )
            records.append(rec)
        out[agent_id] = records
    return out
