"""``SessionTracker``: the chain of Claude session steps of one agent, persisted in the shared store.

Every attribute read refreshes from disk incrementally (only bytes appended since the last read), so a
tracker always shows what other trackers, threads and processes wrote to the same agent.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_claude_sessions.models import STEP_KINDS, SessionInfo, StepKind, utcnow
from pytest_claude_sessions.redact import Redactor
from pytest_claude_sessions.store.session_store import JournalCursor, SessionStore

if TYPE_CHECKING:
    from pytest_claude_sessions.transcripts.validator import SessionValidator

__all__ = ["DEFAULT_MAX_TEXT_LENGTH", "ENV_SESSIONS_DIR", "SessionTracker", "default_persistence_dir"]

ENV_SESSIONS_DIR = "CLAUDE_SESSIONS_DIR"
DEFAULT_MAX_TEXT_LENGTH = 200


def default_persistence_dir() -> Path:
    """``$CLAUDE_SESSIONS_DIR`` when set, else ``~/.claude-agent/sessions``."""
    env = os.environ.get(ENV_SESSIONS_DIR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".claude-agent" / "sessions"


class SessionTracker:
    """Tracks the session steps of ``agent_id`` in ``persistence_dir`` (see :func:`default_persistence_dir`).

    Prompts and responses are redacted (``redactor``, default rules) and then cut to ``max_text_length``
    characters (``None`` keeps them whole). ``fsync``/``lock_timeout`` go to the :class:`SessionStore`;
    pass ``store`` to share one (the :class:`~pytest_claude_sessions.store.manager.SessionManager` does).
    ``run_id`` is written on every step unless ``update_session`` gets another. Thread-safe.
    """

    def __init__(
        self,
        agent_id: str,
        persistence_dir: str | os.PathLike[str] | None = None,
        *,
        redactor: Redactor | None = None,
        max_text_length: int | None = DEFAULT_MAX_TEXT_LENGTH,
        fsync: bool | None = None,
        lock_timeout: float | None = None,
        run_id: str | None = None,
        store: SessionStore | None = None,
    ) -> None:
        if not isinstance(agent_id, str):
            raise TypeError(f"agent_id must be a str, got {type(agent_id).__name__}: {agent_id!r}")
        if max_text_length is not None and (isinstance(max_text_length, bool) or max_text_length < 0):
            raise ValueError(f"max_text_length must be None or an int >= 0, got {max_text_length!r}")
        self.redactor = redactor if redactor is not None else Redactor()
        # the id names the journal and appears in every report: a secret in it (a parametrize id) is masked
        self.agent_id = self.redactor.redact_id(agent_id)
        self.max_text_length = max_text_length
        self.run_id = run_id
        if store is None:
            directory = default_persistence_dir() if persistence_dir is None else Path(persistence_dir)
            store = SessionStore(directory, fsync=fsync, lock_timeout=lock_timeout, redactor=self.redactor)
        self.store = store
        self.persistence_dir: Path = store.directory
        self.persistence_file: Path = store.journal_path(self.agent_id)
        self._lock = threading.RLock()
        self._chain: list[SessionInfo] = []
        self._cursor: JournalCursor | None = None
        self.refresh()

    def __repr__(self) -> str:
        return f"SessionTracker({self.agent_id!r}, {str(self.persistence_dir)!r})"

    # ----------------------------------------------------------------- state, always fresh

    def refresh(self) -> None:
        """Pick up what others appended (reads only the new bytes; a full read after a rewrite)."""
        with self._lock:
            result = self.store.read(self.agent_id, self._cursor)
            if result.full:
                self._chain = result.records
            else:
                self._chain.extend(result.records)
            self._cursor = result.cursor

    @property
    def session_chain(self) -> list[SessionInfo]:
        """Every step of the agent, oldest first (a fresh list)."""
        with self._lock:
            self.refresh()
            return list(self._chain)

    @property
    def current_session_id(self) -> str | None:
        """The session id of the latest step, ``None`` before the first."""
        with self._lock:
            self.refresh()
            return self._chain[-1].session_id if self._chain else None

    @property
    def interaction_count(self) -> int:
        """The number of the latest step (= the chain's length), 0 before the first."""
        with self._lock:
            self.refresh()
            return self._chain[-1].interaction_count if self._chain else 0

    def get_current_session(self) -> str | None:
        """The session id to resume next, or ``None``."""
        return self.current_session_id

    def get_session_chain(self) -> list[SessionInfo]:
        """A copy of the chain: changing it changes nothing stored."""
        return [SessionInfo.from_dict(s.to_dict()) for s in self.session_chain]

    def get_chain_summary(self) -> dict[str, Any]:
        """``agent_id``, ``total_sessions`` (steps), ``total_interactions``; when not empty also
        ``first_session``, ``current_session``, ``session_ids`` (every step, duplicates kept),
        ``distinct_sessions`` and ``total_cost_usd`` (sum of known step costs)."""
        chain = self.session_chain
        summary: dict[str, Any] = {
            "agent_id": self.agent_id,
            "total_sessions": len(chain),
            "total_interactions": chain[-1].interaction_count if chain else 0,
        }
        if chain:
            ids = [s.session_id for s in chain]
            summary.update(
                first_session=ids[0],
                current_session=ids[-1],
                session_ids=ids,
                distinct_sessions=len(dict.fromkeys(ids)),
                total_cost_usd=round(sum(s.cost_usd for s in chain if s.cost_usd is not None), 10),
            )
        return summary

    def validate_session(self, session_id: object) -> bool:
        """True iff ``session_id`` is a non-empty string that some step of this agent used."""
        if not isinstance(session_id, str) or not session_id:
            return False
        return any(s.session_id == session_id for s in self.session_chain)

    # ----------------------------------------------------------------- continuity (from the transcripts)

    def continuity(
        self, validator: SessionValidator | None = None, *, allow_new_sessions: bool = False
    ) -> list[str]:
        """Why this agent's chain is not one continuous conversation, judged from the CLI's transcripts.

        ``validator`` defaults to the config dir the steps recorded their transcripts in (then
        ``$CLAUDE_CONFIG_DIR`` or ``~/.claude``). Empty when every step after the first continues the chain
        (a resume appended to the previous leaf, a fork copied it). A ``new`` step after the first is a
        break (a forgotten ``--resume``) unless ``allow_new_sessions``. An agent without steps is not
        continuous: the reason says so. Each step needs ``metadata["leaf_uuid"]`` (the executor records it)
        for a strict check.
        """
        from pytest_claude_sessions.transcripts.chain import chain_continuity  # lazy: a light import

        return chain_continuity(self.session_chain, validator, allow_new_sessions=allow_new_sessions)

    def assert_continuous(
        self, validator: SessionValidator | None = None, *, allow_new_sessions: bool = False
    ) -> None:
        """Raise ``AssertionError`` with the reasons and the chain as a table unless :meth:`continuity` is
        empty."""
        __tracebackhide__ = True
        from pytest_claude_sessions.transcripts.chain import require_continuity

        require_continuity(
            self.session_chain, validator, allow_new_sessions=allow_new_sessions, agent_id=self.agent_id
        )

    # ----------------------------------------------------------------- writing

    def _clip(self, text: str) -> str:
        text = self.redactor.redact(text)
        if self.max_text_length is not None and len(text) > self.max_text_length:
            return text[: self.max_text_length]
        return text

    def update_session(
        self,
        new_session_id: str,
        prompt: str,
        response: str,
        metadata: dict[str, Any] | None = None,
        *,
        kind: StepKind | None = None,
        parent_session_id: str | None = None,
        cost_usd: float | None = None,
        num_turns: int | None = None,
        duration_ms: int | None = None,
        usage: dict[str, Any] | None = None,
        is_error: bool = False,
        cli_version: str | None = None,
        cwd: str | None = None,
        total_cost_usd: float | None = None,
        model: str | None = None,
        transcript_path: str | os.PathLike[str] | None = None,
        error: str | None = None,
        run_id: str | None = None,
    ) -> SessionInfo:
        """Record one step and return it (with its ``interaction_count``, assigned under the store lock).

        ``kind`` defaults to ``"resume"`` when ``new_session_id`` equals the latest step's id, else ``"new"``;
        for a resume/continue/fork ``parent_session_id`` defaults to the latest step's id.
        """
        if not isinstance(new_session_id, str):
            raise TypeError(f"session id must be a str, got {type(new_session_id).__name__}")
        if kind is not None and kind not in STEP_KINDS:
            raise ValueError(f"kind must be one of {', '.join(STEP_KINDS)}; got {kind!r}")
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
        last_prompt = self._clip(str(prompt))
        last_response = self._clip(str(response))
        clean_metadata = self.redactor.redact_obj(metadata) if metadata is not None else None
        clean_error = self.redactor.redact(error) if error is not None else None
        step_id = uuid.uuid4().hex

        def build(count: int, last: SessionInfo | None) -> SessionInfo:
            # Runs under the store lock: "resume" is decided against the true latest step of the agent.
            step_kind: StepKind
            if kind is not None:
                step_kind = kind
            elif last is not None and last.session_id == new_session_id:
                step_kind = "resume"
            else:
                step_kind = "new"
            parent = parent_session_id
            if parent is None and step_kind != "new" and last is not None:
                parent = last.session_id
            return SessionInfo(
                session_id=new_session_id,
                created_at=utcnow(),
                interaction_count=count,
                last_prompt=last_prompt,
                last_response=last_response,
                metadata=clean_metadata,
                kind=step_kind,
                parent_session_id=parent,
                cost_usd=cost_usd,
                num_turns=num_turns,
                duration_ms=duration_ms,
                usage=dict(usage) if usage is not None else None,
                is_error=bool(is_error),
                cli_version=cli_version,
                cwd=cwd,
                agent_id=self.agent_id,
                step_id=step_id,
                total_cost_usd=total_cost_usd,
                model=model,
                transcript_path=os.fspath(transcript_path) if transcript_path is not None else None,
                error=clean_error,
                run_id=run_id if run_id is not None else self.run_id,
            )

        with self._lock:
            info = self.store.append(self.agent_id, build)
            self.refresh()
        return SessionInfo.from_dict(info.to_dict())

    def reset(self) -> None:
        """Forget the agent's chain, on disk too (atomic rewrite)."""
        with self._lock:
            self.store.reset(self.agent_id)
            self.refresh()
