"""``SessionValidator``: the CLI's transcripts under one config dir: locate, validate, read, judge continuity.

The CLI writes one JSON Lines file per session at
``<config>/projects/<encoded realpath(cwd)>/<session_id>.jsonl`` (see :mod:`pytest_claude_sessions.ids`).
The work is done by :mod:`.locate`, :mod:`.scan`, :mod:`.info` and :mod:`.continuity`; this class binds
them to one config dir and one set of limits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_claude_sessions.errors import InvalidSessionIdError, SessionNotFoundError
from pytest_claude_sessions.ids import is_session_id
from pytest_claude_sessions.transcripts.continuity import ContinuityJudge, ContinuityVerdict
from pytest_claude_sessions.transcripts.info import DEFAULT_MAX_PROMPTS, InfoCollector, session_info
from pytest_claude_sessions.transcripts.locate import (
    default_config_dir,
    list_transcripts,
    locate_transcript,
    project_dir,
)
from pytest_claude_sessions.transcripts.scan import (
    DEFAULT_MAX_LINE_BYTES,
    RecordHook,
    Scan,
    iter_transcript_records,
    scan_transcript,
)

__all__ = ["SessionValidator"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Step:
    session_id: str
    leaf_uuid: str | None
    kind: str | None
    working_dir: str | None
    parent_session_id: str | None = None


def _step_fields(item: object, position: int) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        return item
    if isinstance(item, tuple | list) and len(item) == 2:
        return {"session_id": item[0], "leaf_uuid": item[1]}
    if hasattr(item, "session_id"):
        metadata = getattr(item, "metadata", None) or {}
        return {
            "session_id": getattr(item, "session_id", None),
            "leaf_uuid": metadata.get("leaf_uuid") if isinstance(metadata, Mapping) else None,
            "kind": getattr(item, "kind", None),
            "cwd": getattr(item, "cwd", None),
            "parent_session_id": getattr(item, "parent_session_id", None),
        }
    raise TypeError(
        f"step {position}: expected (session_id, leaf_uuid), a mapping or a SessionInfo, "
        f"got {type(item).__name__}"
    )


def _as_step(item: object, position: int) -> _Step:
    """Normalise a chain step: a (session_id, leaf_uuid) pair, a mapping, or a SessionInfo-like object."""
    data = _step_fields(item, position)
    sid = data.get("session_id")
    if not isinstance(sid, str):
        raise TypeError(f"step {position}: 'session_id' must be a string, got {type(sid).__name__}")
    leaf = data.get("leaf_uuid")
    if leaf is None and isinstance(data.get("metadata"), Mapping):
        leaf = data["metadata"].get("leaf_uuid")
    kind = data.get("kind")
    cwd = data.get("working_dir", data.get("cwd"))
    parent = data.get("parent_session_id")
    return _Step(
        session_id=sid,
        leaf_uuid=leaf if isinstance(leaf, str) else None,
        kind=kind if isinstance(kind, str) else None,
        working_dir=os.fspath(cwd) if isinstance(cwd, str | os.PathLike) else None,
        parent_session_id=parent if isinstance(parent, str) else None,
    )


class SessionValidator:
    """Locates, validates and reads CLI transcripts under ``config_dir``, and judges continuity.

    ``claude_config_dir`` defaults to :func:`~pytest_claude_sessions.transcripts.default_config_dir`.
    ``allow_torn_tail`` accepts a file whose last line was cut mid-record (skipped with a warning) instead
    of calling it invalid.
    """

    def __init__(
        self,
        claude_config_dir: str | os.PathLike[str] | None = None,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_prompts: int = DEFAULT_MAX_PROMPTS,
        allow_torn_tail: bool = False,
    ) -> None:
        if claude_config_dir is None:
            base = default_config_dir()
        else:
            base = Path(os.fspath(claude_config_dir)).expanduser()
        self.config_dir: Path = Path(os.path.abspath(base))
        self.max_line_bytes = max_line_bytes
        self.max_prompts = max_prompts
        self.allow_torn_tail = allow_torn_tail

    def __repr__(self) -> str:
        return f"SessionValidator({str(self.config_dir)!r})"

    @property
    def projects_dir(self) -> Path:
        """``<config>/projects``, where the CLI keeps one directory per working directory."""
        return self.config_dir / "projects"

    # ----------------------------------------------------------------- locating

    def project_dir(self, working_dir: str | os.PathLike[str]) -> Path:
        """The project directory the CLI uses for ``working_dir`` (it may not exist yet)."""
        return project_dir(self.config_dir, working_dir)

    def _locate(self, session_id: str, working_dir: str | os.PathLike[str] | None) -> tuple[Path | None, str]:
        return locate_transcript(self.config_dir, session_id, working_dir)

    def find_transcript(
        self, session_id: str, working_dir: str | os.PathLike[str] | None = None
    ) -> Path | None:
        """The transcript of ``session_id``: the exact place for ``working_dir`` first, then every project.

        Raises :class:`InvalidSessionIdError` for a non-UUID id, before touching the filesystem.
        """
        if not is_session_id(session_id):
            raise InvalidSessionIdError(session_id, where=f"transcript lookup under {self.config_dir}")
        return self._locate(session_id, working_dir)[0]

    def list_sessions(self, working_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
        """Transcripts for ``working_dir``'s project (all projects when None), oldest first by mtime."""
        return list_transcripts(self.config_dir, working_dir)

    # ----------------------------------------------------------------- validating and reading

    def _open_checked(
        self, session_id: str, working_dir: str | os.PathLike[str] | None
    ) -> tuple[Path | None, str | None]:
        if not is_session_id(session_id):
            shown = repr(session_id)
            return None, f"invalid session id {shown[:80]}: Claude session ids are UUIDs"
        path, where = self._locate(session_id, working_dir)
        if path is None:
            return None, f"no transcript for session {session_id}: looked in {where}"
        return path, None

    def _scan_path(
        self, path: Path, session_id: str, *, want_index: bool = False, on_record: RecordHook | None = None
    ) -> Scan:
        return scan_transcript(
            path,
            session_id,
            want_index=want_index,
            on_record=on_record,
            max_line_bytes=self.max_line_bytes,
            allow_torn_tail=self.allow_torn_tail,
        )

    def validate_session_file(
        self, session_id: str, working_dir: str | os.PathLike[str] | None = None
    ) -> tuple[bool, str | None]:
        """``(True, None)`` for a sound transcript, else ``(False, reason)`` naming the file and line.

        Checks: UUID id, file found, not empty, every line a JSON object, every ``sessionId`` equal to
        ``session_id``, and every chain node's ``parentUuid`` an earlier uuid of the file.
        """
        path, error = self._open_checked(session_id, working_dir)
        if path is None:
            return False, error
        scan = self._scan_path(path, session_id)
        return (scan.error is None), scan.error

    def validate_path(self, path: str | os.PathLike[str]) -> tuple[bool, str | None]:
        """:meth:`validate_session_file` for one transcript file, named ``<session id>.jsonl``."""
        file = Path(path)
        if not is_session_id(file.stem) or file.suffix != ".jsonl":
            return False, f"{file}: not a transcript name (<session id>.jsonl)"
        scan = self._scan_path(file, file.stem)
        return (scan.error is None), scan.error

    def get_session_info(
        self, session_id: str, working_dir: str | os.PathLike[str] | None = None
    ) -> dict[str, Any] | None:
        """Figures about a valid transcript (see the README), or None with the reason logged."""
        path, error = self._open_checked(session_id, working_dir)
        if path is None:
            logger.warning("get_session_info: %s", error)
            return None
        collector = InfoCollector(max_prompts=self.max_prompts)
        scan = self._scan_path(path, session_id, on_record=collector)
        if scan.error is not None:
            logger.warning("get_session_info: invalid transcript: %s", scan.error)
            return None
        return session_info(session_id, path, scan, collector)

    def iter_records(
        self, session_id: str, working_dir: str | os.PathLike[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream the records of a transcript in file order, unvalidated beyond JSON syntax.

        Raises :class:`InvalidSessionIdError`, :class:`SessionNotFoundError` (naming where it looked) or
        :class:`TranscriptError` (naming the file and line) for a line that is not a JSON object.
        """
        if not is_session_id(session_id):
            raise InvalidSessionIdError(session_id, where=f"transcript lookup under {self.config_dir}")
        path, where = self._locate(session_id, working_dir)
        if path is None:
            raise SessionNotFoundError(
                f"no transcript for session {session_id}: looked in {where}", session_id=session_id
            )
        return iter_transcript_records(
            path, max_line_bytes=self.max_line_bytes, allow_torn_tail=self.allow_torn_tail
        )

    # ----------------------------------------------------------------- continuity

    def judge(self) -> ContinuityJudge:
        """A :class:`ContinuityJudge` over this validator's transcripts (it caches scans: one per chain)."""
        return ContinuityJudge(self._locate, self._scan_path)

    def check_continuity(
        self,
        previous_session_id: str,
        next_session_id: str,
        *,
        working_dir: str | os.PathLike[str] | None = None,
        previous_leaf_uuid: str | None = None,
        kind: str | None = None,
        next_leaf_uuid: str | None = None,
    ) -> ContinuityVerdict:
        """Judge whether the next step continued the previous conversation (see :class:`ContinuityVerdict`).

        ``kind`` is what the step claims ("resume", "continue", "fork" or "new"); None infers it from the
        ids. ``previous_leaf_uuid`` is the previous step's leaf recorded right after its call;
        ``next_leaf_uuid`` pins the next step's own leaf when later steps appended to the same file.
        """
        return self.judge().judge(
            previous_session_id,
            next_session_id,
            working_dir=working_dir,
            previous_leaf_uuid=previous_leaf_uuid,
            kind=kind,
            next_leaf_uuid=next_leaf_uuid,
        )

    def check_chain(
        self, steps: Sequence[object], *, working_dir: str | os.PathLike[str] | None = None
    ) -> list[ContinuityVerdict]:
        """One verdict for every step after the first (so ``len(steps) - 1`` verdicts), in order.

        A step is ``(session_id, leaf_uuid)``, a mapping with ``session_id``/``leaf_uuid`` (optional
        ``kind``, ``parent_session_id``, ``working_dir`` or ``cwd``, or ``metadata.leaf_uuid``), or a
        SessionInfo whose metadata holds ``leaf_uuid``. Each step is judged against the step before it;
        a step naming a ``parent_session_id`` other than the previous step's id (a fork of an earlier
        session) is judged against the latest earlier step of that session, or against that session's
        transcript alone when no step of it is in the chain.
        """
        normal = [_as_step(item, i) for i, item in enumerate(steps)]
        judge = self.judge()
        verdicts: list[ContinuityVerdict] = []
        for i in range(1, len(normal)):
            nxt = normal[i]
            prev_id, prev_leaf = normal[i - 1].session_id, normal[i - 1].leaf_uuid
            parent = nxt.parent_session_id
            if parent is not None and parent != prev_id and nxt.kind != "new":
                earlier = [s for s in normal[:i] if s.session_id == parent]
                prev_id, prev_leaf = parent, (earlier[-1].leaf_uuid if earlier else None)
            verdicts.append(
                judge.judge(
                    prev_id,
                    nxt.session_id,
                    working_dir=nxt.working_dir if nxt.working_dir is not None else working_dir,
                    previous_leaf_uuid=prev_leaf,
                    kind=nxt.kind,
                    next_leaf_uuid=nxt.leaf_uuid,
                )
            )
        return verdicts
