"""The Claude Code CLI's own transcripts: locate, validate and read them, and judge session continuity.

The CLI writes one JSON Lines file per session at
``<config>/projects/<encoded realpath(cwd)>/<session_id>.jsonl``. Only ``user``, ``assistant`` and
``attachment`` records (and ``system`` records in other CLI versions) are *chain nodes*: they carry
``uuid`` and ``parentUuid`` and form the conversation tree; every other record type is bookkeeping.
Files are streamed line by line: memory grows with the number of chain uuids only, never with records.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pytest_claude_sessions.errors import InvalidSessionIdError, SessionNotFoundError, TranscriptError
from pytest_claude_sessions.models import parse_timestamp

__all__ = [
    "CHAIN_NODE_TYPES",
    "ContinuityVerdict",
    "SessionValidator",
    "default_config_dir",
    "encode_project_path",
    "is_session_id",
    "leaf_uuid",
    "project_dir_name",
]

logger = logging.getLogger(__name__)

#: Record types that carry ``uuid``/``parentUuid`` and form the conversation chain. ``system`` is not
#: written by 2.1.330, but older and newer CLIs write ``system`` records (compaction boundaries, API errors)
#: inside the chain, and children point at them.
CHAIN_NODE_TYPES: Final = frozenset({"user", "assistant", "attachment", "system"})
MAX_PROJECT_DIR_CHARS: Final = 200
DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024 * 1024
DEFAULT_MAX_PROMPTS: Final = 200
MAX_PROMPT_CHARS: Final = 10_000
CONTINUITY_KINDS: Final = ("new", "resume", "continue", "fork")

_UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


# --------------------------------------------------------------------------- names and places


def is_session_id(value: object) -> bool:
    """True when ``value`` is a string in UUID form (8-4-4-4-12 hex digits), as the CLI requires."""
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None


def default_config_dir() -> Path:
    """The CLI's config root: ``$CLAUDE_CONFIG_DIR`` when set and non-empty, else ``~/.claude``."""
    env = os.environ.get("CLAUDE_CONFIG_DIR")
    if env:
        return Path(env)
    return Path.home() / ".claude"


def _utf16_units(text: str) -> Iterator[int]:
    for ch in text:
        code = ord(ch)
        if code > 0xFFFF:  # JS strings hold astral characters as surrogate pairs
            code -= 0x10000
            yield 0xD800 + (code >> 10)
            yield 0xDC00 + (code & 0x3FF)
        else:
            yield code


def _js_hash32(text: str) -> int:
    """Java's ``String.hashCode`` over UTF-16 units, as a signed 32-bit int (the CLI's path hash)."""
    h = 0
    for unit in _utf16_units(text):
        h = (h * 31 + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _BASE36[r] + out
        if n == 0:
            return out


def encode_project_path(real_path: str) -> str:
    """Encode an already-resolved path the way the CLI names project directories (no realpath here).

    Every UTF-16 code unit outside ``[A-Za-z0-9]`` becomes ``-`` (an astral character gives two); no
    Unicode normalisation. Longer than 200 units: the first 200, ``-``, then base-36 of ``abs(hash)``.
    """
    parts = []
    for ch in real_path:
        if ch.isascii() and ch.isalnum():
            parts.append(ch)
        else:
            parts.append("--" if ord(ch) > 0xFFFF else "-")
    enc = "".join(parts)
    if len(enc) > MAX_PROJECT_DIR_CHARS:
        enc = enc[:MAX_PROJECT_DIR_CHARS] + "-" + _base36(abs(_js_hash32(real_path)))
    return enc


def project_dir_name(cwd: str | os.PathLike[str]) -> str:
    """The CLI's project directory name for ``cwd``: :func:`encode_project_path` of its realpath.

    (A cwd whose name is not valid UTF-8 needs no special case: the CLI refuses to start in one.)
    """
    return encode_project_path(os.path.realpath(os.fspath(cwd)))


def _within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


# --------------------------------------------------------------------------- streaming scan


class _Fault(Exception):
    """Internal: the first problem found in a transcript; the message is the user-facing reason."""


@dataclass
class _Scan:
    """What one pass over a transcript found. ``index`` maps chain uuid -> (walk parent, line)."""

    path: Path
    line_count: int = 0
    record_count: int = 0
    node_count: int = 0
    leaf: str | None = None
    leaf_line: int = 0
    index: dict[str, tuple[str | None, int]] | None = None
    error: str | None = None
    torn_tail_skipped: bool = False

    def line_of(self, uuid: str) -> int:
        assert self.index is not None
        return self.index[uuid][1]


def _scan(
    path: Path,
    session_id: str,
    *,
    want_index: bool = False,
    on_record: Callable[[int, dict[str, Any]], None] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    allow_torn_tail: bool = False,
) -> _Scan:
    """One streaming pass: validate each line, track the chain, feed ``on_record``; stop at a fault."""
    scan = _Scan(path=path)
    index: dict[str, tuple[str | None, int]] | None = {} if want_index else None
    known: set[str] | dict[str, tuple[str | None, int]] = index if index is not None else set()
    add_known = known.add if isinstance(known, set) else None
    chain_types = CHAIN_NODE_TYPES
    lineno = 0
    try:
        with path.open("rb") as fh:
            readline = fh.readline
            while True:
                raw = readline(max_line_bytes + 1)
                if not raw:
                    break
                lineno += 1
                if not raw.endswith(b"\n") and len(raw) > max_line_bytes:
                    raise _Fault(f"line {lineno} is longer than {max_line_bytes} bytes")
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise _Fault(f"line {lineno} is not valid UTF-8 (byte {exc.start + 1})") from None
                except RecursionError:
                    raise _Fault(f"line {lineno} is nested too deeply to be a transcript record") from None
                except json.JSONDecodeError as exc:
                    if not raw.strip():
                        continue  # the CLI never writes blank lines, but they carry nothing
                    if not raw.endswith(b"\n"):  # readline stops short of a newline only at EOF
                        if allow_torn_tail:
                            logger.warning("%s: skipping torn last line %d", path, lineno)
                            scan.torn_tail_skipped = True
                            break
                        raise _Fault(
                            f"line {lineno} is torn: the file ends mid-record without a newline "
                            f"(the CLI was killed while writing, or is still writing): {exc.msg} "
                            f"at column {exc.colno}"
                        ) from None
                    raise _Fault(
                        f"line {lineno} is not valid JSON: {exc.msg} at column {exc.colno}"
                    ) from None
                if type(rec) is not dict:
                    raise _Fault(f"line {lineno} is a JSON {type(rec).__name__}, not a record object")
                scan.record_count += 1
                sid = rec.get("sessionId")
                if sid is not None and sid != session_id:
                    raise _Fault(
                        f"line {lineno} belongs to another session: sessionId {sid!r}, "
                        f"expected {session_id!r}"
                    )
                rtype = rec.get("type")
                uuid = rec.get("uuid")
                if rtype in chain_types:
                    if type(uuid) is not str or not uuid:
                        raise _Fault(f"line {lineno}: {rtype} record has no string 'uuid'")
                    parent = rec.get("parentUuid")
                    if parent is not None:
                        if type(parent) is not str:
                            raise _Fault(
                                f"line {lineno}: {rtype} record {uuid!r} has a non-string parentUuid"
                            )
                        if parent not in known:
                            raise _Fault(
                                f"line {lineno}: broken chain: {rtype} record {uuid!r} has parentUuid "
                                f"{parent!r}, which is not an earlier uuid in the file"
                            )
                    if rec.get("isSidechain") is not True:
                        scan.leaf = uuid
                        scan.leaf_line = lineno
                    scan.node_count += 1
                elif type(uuid) is str and "parentUuid" in rec:
                    # An unknown chain-like record: children may point at it, so it counts as an ancestor.
                    parent = rec.get("parentUuid")
                    if type(parent) is not str:
                        parent = None
                else:
                    if on_record is not None:
                        on_record(lineno, rec)
                    continue
                if parent is None:
                    # A compaction boundary restarts the chain but names its logical parent.
                    logical = rec.get("logicalParentUuid")
                    if type(logical) is str:
                        parent = logical
                if add_known is not None:
                    add_known(uuid)
                else:
                    assert index is not None
                    index[uuid] = (parent, lineno)
                if on_record is not None:
                    on_record(lineno, rec)
    except _Fault as fault:
        scan.error = f"{path}: {fault}"
    except OSError as exc:
        scan.error = f"{path}: cannot read the transcript: {exc}"
    scan.line_count = lineno
    scan.index = index
    if scan.error is None and scan.record_count == 0:
        scan.error = f"{path}: the transcript is empty" + (" (blank lines only)" if lineno else "")
    return scan


# --------------------------------------------------------------------------- session info


def _prompt_text(content: object) -> str | None:
    """The prompt text of a user record's content, or None when it holds tool results."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    texts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_result":
            return None
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
    return "\n".join(texts)


@dataclass
class _InfoCollector:
    """Accumulates :meth:`SessionValidator.get_session_info` figures from a streaming pass."""

    max_prompts: int
    record_counts: dict[str, int] = field(default_factory=dict)
    user_messages: int = 0
    assistant_message_ids: set[str] = field(default_factory=set)
    assistant_records_without_id: int = 0
    api_error_count: int = 0
    prompts: list[str] = field(default_factory=list)
    prompt_count: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    cwd: str | None = None
    cli_version: str | None = None
    git_branch: str | None = None
    models: set[str] = field(default_factory=set)
    total_cost_usd: float | None = None
    last_prompt: str | None = None

    def __call__(self, lineno: int, rec: dict[str, Any]) -> None:
        rtype = rec.get("type")
        key = rtype if isinstance(rtype, str) else "<none>"
        self.record_counts[key] = self.record_counts.get(key, 0) + 1
        ts = rec.get("timestamp")
        if isinstance(ts, str):
            try:
                when = parse_timestamp(ts)
            except ValueError:
                when = None
            if when is not None:
                if self.first_ts is None or when < self.first_ts:
                    self.first_ts = when
                if self.last_ts is None or when > self.last_ts:
                    self.last_ts = when
        if rtype == "cost-state":
            cost = rec.get("totalCostUSD")
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                self.total_cost_usd = float(cost)
            return
        if rtype not in ("user", "assistant", "attachment", "system"):
            return
        if isinstance(rec.get("cwd"), str):
            self.cwd = rec["cwd"]
        if isinstance(rec.get("version"), str):
            self.cli_version = rec["version"]
        if isinstance(rec.get("gitBranch"), str):
            self.git_branch = rec["gitBranch"]
        message = rec.get("message")
        if not isinstance(message, dict):
            return
        # Counted by record type, never by message.role (api-request-blob records carry wire messages).
        if rtype == "user":
            if rec.get("isMeta") is True or rec.get("isCompactSummary") is True:
                return
            self.user_messages += 1
            text = _prompt_text(message.get("content"))
            if text is not None:
                self.prompt_count += 1
                self.last_prompt = text
                if len(self.prompts) < self.max_prompts:
                    self.prompts.append(text[:MAX_PROMPT_CHARS])
        elif rtype == "assistant":
            mid = message.get("id")
            if isinstance(mid, str):
                self.assistant_message_ids.add(mid)
            else:
                self.assistant_records_without_id += 1
            model = message.get("model")
            if rec.get("isApiErrorMessage") is True or model == "<synthetic>":
                self.api_error_count += 1
            elif isinstance(model, str):
                self.models.add(model)


# --------------------------------------------------------------------------- continuity


@dataclass(frozen=True)
class ContinuityVerdict:
    """Whether ``next_session_id`` really continued ``previous_session_id``; truthy when it did.

    ``basis`` names the evidence: ``"leaf"`` (the recorded previous leaf is an ancestor of the new turn),
    ``"branch_point"`` (no leaf recorded; the fork shares the previous chain up to a common node),
    ``"prompt_count"`` (no leaf recorded for a same-id step; weak), ``"disjoint"`` (a new conversation
    shares nothing with the previous one), or ``""`` when the check stopped early.
    """

    ok: bool
    kind: str
    reason: str
    previous_session_id: str
    next_session_id: str
    previous_path: Path | None = None
    next_path: Path | None = None
    previous_leaf_uuid: str | None = None
    next_leaf_uuid: str | None = None
    basis: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (paths as strings)."""
        return {
            "ok": self.ok,
            "kind": self.kind,
            "reason": self.reason,
            "previous_session_id": self.previous_session_id,
            "next_session_id": self.next_session_id,
            "previous_path": None if self.previous_path is None else str(self.previous_path),
            "next_path": None if self.next_path is None else str(self.next_path),
            "previous_leaf_uuid": self.previous_leaf_uuid,
            "next_leaf_uuid": self.next_leaf_uuid,
            "basis": self.basis,
        }


def _walk_reaches(index: Mapping[str, tuple[str | None, int]], start: str, target: str) -> int | None:
    """Steps from ``start`` up the parent chain to ``target``, or None when the chain never reaches it."""
    cur: str | None = start
    steps = 0
    limit = len(index) + 1  # parents are earlier lines, so no cycle; the bound guards unknown record types
    while cur is not None and steps <= limit:
        if cur == target:
            return steps
        entry = index.get(cur)
        if entry is None:
            return None
        cur = entry[0]
        steps += 1
    return None


def _first_shared_ancestor(
    index: Mapping[str, tuple[str | None, int]], start: str, other: Mapping[str, Any]
) -> str | None:
    cur: str | None = start
    steps = 0
    limit = len(index) + 1
    while cur is not None and steps <= limit:
        if cur in other:
            return cur
        entry = index.get(cur)
        if entry is None:
            return None
        cur = entry[0]
        steps += 1
    return None


@dataclass(frozen=True)
class _Step:
    session_id: str
    leaf_uuid: str | None
    kind: str | None
    working_dir: str | None
    parent_session_id: str | None = None


def _as_step(item: object, position: int) -> _Step:
    """Normalise a chain step: a (session_id, leaf_uuid) pair, a mapping, or a SessionInfo-like object."""
    if isinstance(item, Mapping):
        data: Mapping[str, Any] = item
    elif isinstance(item, tuple | list) and len(item) == 2:
        data = {"session_id": item[0], "leaf_uuid": item[1]}
    elif hasattr(item, "session_id"):
        metadata = getattr(item, "metadata", None) or {}
        data = {
            "session_id": getattr(item, "session_id", None),
            "leaf_uuid": metadata.get("leaf_uuid") if isinstance(metadata, Mapping) else None,
            "kind": getattr(item, "kind", None),
            "cwd": getattr(item, "cwd", None),
            "parent_session_id": getattr(item, "parent_session_id", None),
        }
    else:
        raise TypeError(
            f"step {position}: expected (session_id, leaf_uuid), a mapping or a SessionInfo, "
            f"got {type(item).__name__}"
        )
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


# --------------------------------------------------------------------------- the validator


class SessionValidator:
    """Locates, validates and reads CLI transcripts under ``config_dir``, and judges continuity.

    ``claude_config_dir`` defaults to :func:`default_config_dir`. ``allow_torn_tail`` accepts a file whose
    last line was cut mid-record (skipped with a warning) instead of calling it invalid.
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
        return self.projects_dir / project_dir_name(working_dir)

    def _locate(self, session_id: str, working_dir: str | os.PathLike[str] | None) -> tuple[Path | None, str]:
        """(path or None, where it looked). ``session_id`` must already be a UUID."""
        name = f"{session_id}.jsonl"
        looked: list[str] = []
        if working_dir is not None:
            try:
                exact: Path | None = self.project_dir(working_dir) / name
            except ValueError:  # e.g. a NUL in the path: no CLI could have run there
                exact = None
                looked.append(f"(no project directory for working dir {os.fspath(working_dir)!r})")
            if exact is not None:
                looked.append(str(exact))
                if exact.is_file() and _within(exact, self.config_dir):
                    return exact, ""
        matches: list[Path] = []
        count = 0
        try:
            entries = sorted(os.scandir(self.projects_dir), key=lambda e: e.name)
        except OSError:
            entries = []
        for entry in entries:
            try:
                if not entry.is_dir():
                    continue
            except OSError:
                continue
            count += 1
            candidate = Path(entry.path) / name
            if candidate.is_file():
                if _within(candidate, self.config_dir):
                    matches.append(candidate)
                else:
                    logger.warning("ignoring %s: it resolves outside %s", candidate, self.config_dir)
        looked.append(f"every project directory under {self.projects_dir} ({count} searched)")
        where = "; ".join(looked)
        if not matches:
            return None, where
        if len(matches) > 1:
            matches.sort(key=lambda p: p.stat().st_mtime)
            logger.warning(
                "session %s has %d transcripts (%s); using the most recently written",
                session_id,
                len(matches),
                ", ".join(map(str, matches)),
            )
        return matches[-1], where

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
        dirs: list[Path]
        if working_dir is not None:
            dirs = [self.project_dir(working_dir)]
        else:
            try:
                dirs = [Path(e.path) for e in os.scandir(self.projects_dir) if e.is_dir()]
            except OSError:
                dirs = []
        out: list[dict[str, Any]] = []
        for directory in dirs:
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                stem, dot, ext = entry.name.rpartition(".")
                if not (dot and ext == "jsonl" and is_session_id(stem)) or not entry.is_file():
                    continue
                st = entry.stat()
                out.append(
                    {
                        "session_id": stem,
                        "file_path": entry.path,
                        "project": directory.name,
                        "size_bytes": st.st_size,
                        "modified": datetime.fromtimestamp(st.st_mtime, UTC),
                    }
                )
        out.sort(key=lambda d: (d["modified"], d["session_id"]))
        return out

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

    def _scan_path(self, path: Path, session_id: str, **kwargs: Any) -> _Scan:
        return _scan(
            path,
            session_id,
            max_line_bytes=self.max_line_bytes,
            allow_torn_tail=self.allow_torn_tail,
            **kwargs,
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
        collector = _InfoCollector(max_prompts=self.max_prompts)
        scan = self._scan_path(path, session_id, on_record=collector)
        if scan.error is not None:
            logger.warning("get_session_info: invalid transcript: %s", scan.error)
            return None
        try:
            size = path.stat().st_size
        except OSError:
            size = None
        return {
            "session_id": session_id,
            "file_path": str(path),
            "project": path.parent.name,
            "size_bytes": size,
            "line_count": scan.line_count,
            "message_count": collector.user_messages
            + len(collector.assistant_message_ids)
            + collector.assistant_records_without_id,
            "user_message_count": collector.user_messages,
            "assistant_message_count": len(collector.assistant_message_ids)
            + collector.assistant_records_without_id,
            "api_error_count": collector.api_error_count,
            "first_timestamp": collector.first_ts,
            "last_timestamp": collector.last_ts,
            "cwd": collector.cwd,
            "cli_version": collector.cli_version,
            "git_branch": collector.git_branch,
            "models": sorted(collector.models),
            "record_counts": dict(sorted(collector.record_counts.items())),
            "chain_node_count": scan.node_count,
            "total_cost_usd": collector.total_cost_usd,
            "leaf_uuid": scan.leaf,
            "prompts": collector.prompts,
            "prompt_count": collector.prompt_count,
            "prompts_truncated": collector.prompt_count > len(collector.prompts),
            "last_prompt": collector.last_prompt,
            "torn_tail_skipped": scan.torn_tail_skipped,
            "is_valid": True,
            "error": None,
        }

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
        return self._iter_path(path)

    def _iter_path(self, path: Path) -> Iterator[dict[str, Any]]:
        with path.open("rb") as fh:
            for lineno, raw in enumerate(iter(lambda: fh.readline(self.max_line_bytes + 1), b""), 1):
                if not raw.endswith(b"\n") and len(raw) > self.max_line_bytes:
                    raise TranscriptError(f"{path}: line {lineno} is longer than {self.max_line_bytes} bytes")
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except (ValueError, RecursionError) as exc:
                    if not raw.endswith(b"\n") and self.allow_torn_tail:
                        logger.warning("%s: skipping torn last line %d", path, lineno)
                        return
                    raise TranscriptError(f"{path}: line {lineno} is not valid JSON: {exc}") from None
                if not isinstance(rec, dict):
                    raise TranscriptError(
                        f"{path}: line {lineno} is a JSON {type(rec).__name__}, not a record"
                    )
                yield rec

    # ----------------------------------------------------------------- continuity

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
        return self._check(
            previous_session_id,
            next_session_id,
            working_dir=working_dir,
            previous_leaf_uuid=previous_leaf_uuid,
            kind=kind,
            next_leaf_uuid=next_leaf_uuid,
            cache={},
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
        cache: dict[tuple[Path, int, int], _Scan] = {}
        verdicts: list[ContinuityVerdict] = []
        for i in range(1, len(normal)):
            nxt = normal[i]
            prev_id, prev_leaf = normal[i - 1].session_id, normal[i - 1].leaf_uuid
            parent = nxt.parent_session_id
            if parent is not None and parent != prev_id and nxt.kind != "new":
                earlier = [s for s in normal[:i] if s.session_id == parent]
                prev_id, prev_leaf = parent, (earlier[-1].leaf_uuid if earlier else None)
            verdicts.append(
                self._check(
                    prev_id,
                    nxt.session_id,
                    working_dir=nxt.working_dir if nxt.working_dir is not None else working_dir,
                    previous_leaf_uuid=prev_leaf,
                    kind=nxt.kind,
                    next_leaf_uuid=nxt.leaf_uuid,
                    cache=cache,
                )
            )
        return verdicts

    def _indexed(
        self,
        path: Path,
        session_id: str,
        cache: dict[tuple[Path, int, int], _Scan],
        want_prompts: bool = False,
    ) -> tuple[_Scan, _InfoCollector | None]:
        if want_prompts:
            collector = _InfoCollector(max_prompts=0)
            return self._scan_path(path, session_id, want_index=True, on_record=collector), collector
        try:
            st = path.stat()
            key: tuple[Path, int, int] | None = (path, st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        if key is not None and key in cache:
            return cache[key], None
        scan = self._scan_path(path, session_id, want_index=True)
        if key is not None:
            cache[key] = scan
        return scan, None

    def _check(  # one decision table, kept in one place on purpose
        self,
        prev_id: str,
        next_id: str,
        *,
        working_dir: str | os.PathLike[str] | None,
        previous_leaf_uuid: str | None,
        kind: str | None,
        next_leaf_uuid: str | None,
        cache: dict[tuple[Path, int, int], _Scan],
    ) -> ContinuityVerdict:
        if kind is not None and kind not in CONTINUITY_KINDS:
            raise ValueError(f"unknown step kind {kind!r}; expected one of {', '.join(CONTINUITY_KINDS)}")
        same = prev_id == next_id
        judged = kind if kind is not None else ("resume" if same else "fork")
        base: dict[str, Any] = {
            "kind": judged,
            "previous_session_id": prev_id,
            "next_session_id": next_id,
            "previous_leaf_uuid": previous_leaf_uuid,
        }

        def fail(reason: str, **extra: Any) -> ContinuityVerdict:
            return ContinuityVerdict(ok=False, reason=reason, **{**base, **extra})

        def success(reason: str, basis: str, **extra: Any) -> ContinuityVerdict:
            return ContinuityVerdict(ok=True, reason=reason, basis=basis, **{**base, **extra})

        for label, sid in (("previous", prev_id), ("next", next_id)):
            if not is_session_id(sid):
                return fail(f"{label} session id {sid[:80]!r} is not a UUID")
        if judged in ("resume", "continue") and not same:
            return fail(
                f"a {judged} keeps the session id, but the next step has {next_id!r} after {prev_id!r} "
                f"(--continue silently starts a new session when the cwd has none)"
            )
        if judged in ("fork", "new") and same:
            return fail(f"a {judged} step gets a new session id, but both steps have {prev_id!r}")

        next_path, where = self._locate(next_id, working_dir)
        if next_path is None:
            return fail(f"next session {next_id!r} has no transcript: looked in {where}")
        base["next_path"] = next_path
        weak = same and previous_leaf_uuid is None
        nxt, prompts = self._indexed(next_path, next_id, cache, want_prompts=weak)
        if nxt.error is not None:
            return fail(f"next session {next_id!r} has an invalid transcript: {nxt.error}")
        assert nxt.index is not None
        if next_leaf_uuid is not None:
            if next_leaf_uuid not in nxt.index:
                return fail(f"next session {next_id!r} does not contain its recorded leaf {next_leaf_uuid!r}")
            leaf, leaf_line = next_leaf_uuid, nxt.line_of(next_leaf_uuid)
        elif nxt.leaf is not None:
            leaf, leaf_line = nxt.leaf, nxt.leaf_line
        else:
            return fail(f"next session {next_id!r} has no conversation records in {next_path}")
        base["next_leaf_uuid"] = leaf

        if same:
            base["previous_path"] = next_path
            if previous_leaf_uuid is None:
                assert prompts is not None
                if prompts.prompt_count > 1:
                    return success(
                        f"no previous leaf was recorded, so only a weak check was made: session {next_id!r} "
                        f"has a valid chain holding {prompts.prompt_count} prompts (a {judged} adds one). "
                        f"Record the leaf uuid after each call for a real check.",
                        "prompt_count",
                    )
                return fail(
                    f"no previous leaf was recorded and session {next_id!r} holds {prompts.prompt_count} "
                    f"prompt(s): nothing shows that a {judged} added a turn"
                )
            if previous_leaf_uuid not in nxt.index:
                return fail(
                    f"session {next_id!r} does not contain previous leaf {previous_leaf_uuid!r} "
                    f"({next_path}): the recorded leaf belongs to another transcript"
                )
            prev_line = nxt.line_of(previous_leaf_uuid)
            if leaf == previous_leaf_uuid:
                return fail(
                    f"session {next_id!r} did not grow past previous leaf {previous_leaf_uuid!r} "
                    f"(line {prev_line}): the {judged} wrote no new turn"
                )
            steps = _walk_reaches(nxt.index, leaf, previous_leaf_uuid)
            if steps is None or leaf_line <= prev_line:
                return fail(
                    f"the newest turn of session {next_id!r} (leaf {leaf!r}, line {leaf_line}) does not "
                    f"descend from previous leaf {previous_leaf_uuid!r} (line {prev_line}): the history "
                    f"branched (another resume of the same session in parallel?) or was rewound"
                )
            return success(
                f"session {next_id!r} grew from leaf {previous_leaf_uuid!r} (line {prev_line}) to "
                f"{leaf!r} (line {leaf_line}); the new turn's parent chain reaches the previous leaf in "
                f"{steps} step(s)",
                "leaf",
            )

        prev_path, prev_where = self._locate(prev_id, working_dir)
        if prev_path is None and judged == "fork":
            return fail(f"previous session {prev_id!r} has no transcript: looked in {prev_where}")
        base["previous_path"] = prev_path
        prev: _Scan | None = None
        if prev_path is not None:
            prev, _ = self._indexed(prev_path, prev_id, cache)
            if prev.error is not None:
                return fail(f"previous session {prev_id!r} has an invalid transcript: {prev.error}")
            assert prev.index is not None
            if previous_leaf_uuid is not None and previous_leaf_uuid not in prev.index:
                return fail(
                    f"previous leaf {previous_leaf_uuid!r} is not in the transcript of previous session "
                    f"{prev_id!r} ({prev_path})"
                )

        if judged == "new":
            if prev is not None:
                assert prev.index is not None
                shared = _first_shared_ancestor(nxt.index, leaf, prev.index)
                if shared is not None:
                    return fail(
                        f"next session {next_id!r} is not a new conversation: its chain carries "
                        f"{shared!r} of previous session {prev_id!r} "
                        f"(line {nxt.line_of(shared)} of {next_path})"
                    )
                return success(
                    f"next session {next_id!r} shares no record with previous session {prev_id!r}: "
                    f"a new conversation",
                    "disjoint",
                )
            if (
                previous_leaf_uuid is not None
                and _walk_reaches(nxt.index, leaf, previous_leaf_uuid) is not None
            ):
                return fail(f"next session {next_id!r} descends from previous leaf {previous_leaf_uuid!r}")
            return success(
                f"previous session {prev_id!r} has no transcript ({prev_where}); next session {next_id!r} "
                f"does not descend from the previous leaf"
                if previous_leaf_uuid is not None
                else f"previous session {prev_id!r} has no transcript ({prev_where}); nothing to share",
                "disjoint",
            )

        # A fork: a new id whose file copies the previous chain (same uuids, sessionId rewritten; the
        # validation above already proved every record says next_id).
        assert prev is not None
        assert prev.index is not None
        target = previous_leaf_uuid if previous_leaf_uuid is not None else prev.leaf
        if target is None:
            return fail(f"previous session {prev_id!r} has no conversation records in {prev_path}")
        base["previous_leaf_uuid"] = target
        if target in nxt.index:
            target_line = nxt.line_of(target)
            if leaf == target:
                return fail(
                    f"fork {next_id!r} copied the previous chain up to {target!r} but added no new turn"
                )
            steps = _walk_reaches(nxt.index, leaf, target)
            if steps is None:
                return fail(
                    f"fork {next_id!r} contains previous leaf {target!r} (line {target_line}) but its newest "
                    f"turn (leaf {leaf!r}, line {leaf_line}) does not descend from it"
                )
            return success(
                f"fork {next_id!r} carries the previous chain up to leaf {target!r} (line {target_line} of "
                f"{next_path.name}, every record rewritten to the fork's id) and its new turn descends from "
                f"it in {steps} step(s)",
                "leaf",
            )
        shared = _first_shared_ancestor(nxt.index, leaf, prev.index)
        if previous_leaf_uuid is None and shared is not None:
            return success(
                f"no previous leaf was recorded, and the current leaf {target!r} of session {prev_id!r} "
                f"is not in the fork (the previous session grew after the fork); fork {next_id!r} carries "
                f"the previous chain up to {shared!r} (line {prev.line_of(shared)} of the previous "
                f"transcript) and its new turn descends from it",
                "branch_point",
                previous_leaf_uuid=shared,
            )
        if shared is not None:
            return fail(
                f"next session {next_id!r} does not contain previous leaf {target!r}; it branches from the "
                f"previous chain earlier, at {shared!r} (line {prev.line_of(shared)} of the previous "
                f"transcript)"
            )
        return fail(
            f"next session {next_id!r} does not contain previous leaf {target!r}; "
            f"it starts a new conversation"
        )


def leaf_uuid(path: str | os.PathLike[str]) -> str | None:
    """The uuid of the last non-sidechain chain node written to a transcript file, or None.

    Tolerant: lines that do not parse are skipped (use :meth:`SessionValidator.validate_session_file` to
    judge the file).
    """
    leaf: str | None = None
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError):
                continue
            if (
                isinstance(rec, dict)
                and rec.get("type") in CHAIN_NODE_TYPES
                and isinstance(rec.get("uuid"), str)
                and rec.get("isSidechain") is not True
            ):
                leaf = rec["uuid"]
    return leaf
