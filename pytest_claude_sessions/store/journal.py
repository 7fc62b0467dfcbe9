"""The on-disk session store: one append-only JSONL journal per agent, guarded by a sidecar file lock.

Layout of ``<dir>/<slug>-<sha256 prefix>.jsonl`` (any agent id maps to a name inside the directory)::

    {"__journal__": "pytest-claude-sessions.journal", "version": 1, "agent_id": ..., "generation": ...}
    {"session_id": ..., "interaction_count": 1, ...}      <- SessionInfo.to_dict(), one line per step
    ...

Guarantees (see the README): appends are O(1) in the chain length (only the tail is read, under the lock);
an append that returned is on disk (fsync, unless switched off); a torn last line from a killed writer is
skipped by readers and cut off by the next locked write; a file damaged anywhere else is never overwritten:
it is moved aside to ``<file>.corrupt-<UTC timestamp>`` and every recoverable record goes into a fresh
journal. Rewrites (reset, cleanup, merge, compaction, repair) go temp file -> fsync -> os.replace -> fsync
of the directory.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import heapq
import json
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_claude_sessions import fs
from pytest_claude_sessions.errors import (
    StoreCorruptionError,
    StoreError,
    StoreWarning,
)
from pytest_claude_sessions.models import STEP_KINDS, SessionInfo, parse_switch, parse_timestamp, utcnow
from pytest_claude_sessions.redact import Redactor

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "ENV_FSYNC",
    "ENV_LOCK_TIMEOUT",
    "FileCheck",
    "JournalCursor",
    "ParsedJournal",
    "ReadResult",
    "SessionStore",
    "StoreWarning",
    "journal_name",
    "parse_journal",
    "record_key",
]

FORMAT_NAME = "pytest-claude-sessions.journal"
FORMAT_VERSION = 1
HEADER_KEY = "__journal__"
JOURNAL_SUFFIX = ".jsonl"
LOCK_SUFFIX = ".lock"
LEGACY_SUFFIX = "_sessions.json"
MIGRATED_SUFFIX = ".migrated"
CORRUPT_INFIX = ".corrupt-"
TORN_INFIX = ".torn-"  # the cut tail of an unfinished write: kept, but not damage
DEFAULT_LOCK_TIMEOUT = 30.0
ENV_FSYNC = "CLAUDE_SESSIONS_FSYNC"
ENV_LOCK_TIMEOUT = "CLAUDE_SESSIONS_LOCK_TIMEOUT"
_TAIL_CHUNK = 16 * 1024
_READ_BLOCK = 1024 * 1024
_SLUG_MAX = 48
_HASH_LEN = 20  # hex digits of sha256: 80 bits, no realistic collision between agent ids
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

_OPTIONAL_STR = (
    "parent_session_id",
    "cli_version",
    "cwd",
    "agent_id",
    "step_id",
    "model",
    "transcript_path",
    "error",
    "run_id",
)
_OPTIONAL_NUM = ("cost_usd", "total_cost_usd", "num_turns", "duration_ms")
_OPTIONAL_DICT = ("metadata", "usage")
_INIT_FIELDS = frozenset(SessionInfo.__dataclass_fields__) - {"extra"}
_REPEATED_STR = (
    "session_id",
    "parent_session_id",
    "kind",
    "agent_id",
    "cwd",
    "cli_version",
    "model",
    "run_id",
)


# --------------------------------------------------------------------------- names and settings


@functools.cache
def _slug_redactor() -> Redactor:
    # the built-in rules only (no environment, no user patterns): every store names a journal alike
    return Redactor(env={})


def journal_name(agent_id: str) -> str:
    """The journal file name for ``agent_id``: a readable slug plus a sha256 prefix; never a path. The slug
    is taken from the id with the built-in redaction rules applied: a file name never holds a key."""
    if not isinstance(agent_id, str):
        raise TypeError(f"agent_id must be a str, got {type(agent_id).__name__}: {agent_id!r}")
    digest = hashlib.sha256(agent_id.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    shown = _slug_redactor().redact(agent_id)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", shown[: _SLUG_MAX * 2])[:_SLUG_MAX].strip("._-") or "agent"
    return f"{slug}-{digest}{JOURNAL_SUFFIX}"


def resolve_fsync(value: bool | None) -> bool:
    """``value`` when given, else ``$CLAUDE_SESSIONS_FSYNC`` (``0``/``false``/``no``/``off``), else on."""
    if value is not None:
        return bool(value)
    env = os.environ.get(ENV_FSYNC)
    return env is None or parse_switch(env) is not False


def resolve_lock_timeout(value: float | None) -> float:
    """``value`` when given, else ``$CLAUDE_SESSIONS_LOCK_TIMEOUT``, else 30 s. Always finite and >= 0."""
    source = "lock_timeout"
    if value is None:
        env = os.environ.get(ENV_LOCK_TIMEOUT)
        if env is None or not env.strip():
            return DEFAULT_LOCK_TIMEOUT
        source = f"${ENV_LOCK_TIMEOUT}"
        try:
            value = float(env)
        except ValueError:
            raise StoreError(f"{source}={env!r} is not a number of seconds") from None
    if not (0 <= value < float("inf")):
        raise StoreError(f"{source}={value!r}: the lock timeout must be a finite number of seconds >= 0")
    return float(value)


def record_key(info: SessionInfo) -> str:
    """The identity of a step for merging: its ``step_id``, else a hash of session id, time and prompt."""
    if info.step_id:
        return info.step_id
    raw = "\0".join((info.session_id, info.created_at.isoformat(), info.last_prompt))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _encode(obj: dict[str, Any]) -> bytes:
    # ensure_ascii: any str (lone surrogates, NUL, U+2028) becomes one ASCII line without a raw newline.
    return (json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False) + "\n").encode("ascii")


def _timestamp_tag() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%S%fZ")


# --------------------------------------------------------------------------- parsing (pure)


@dataclass
class ParsedJournal:
    """What :func:`parse_journal` found in some bytes of a journal."""

    header: dict[str, Any] | None = None
    header_line: bytes = b""  # the header's bytes including its newline
    records: list[SessionInfo] = field(default_factory=list)
    # (1-based line number, reason); a misnumbered record is listed here and kept in ``records``
    damaged: list[tuple[int, str]] = field(default_factory=list)
    complete_length: int = 0  # bytes up to and including the last newline
    torn_tail: int = 0  # bytes after the last newline (an unfinished write)

    @property
    def ok(self) -> bool:
        """No damaged line (a torn tail is not damage: it is an unfinished write)."""
        return not self.damaged

    def describe_damage(self, limit: int = 3) -> str:
        """The first few damaged lines, for messages."""
        parts = [f"line {n}: {why}" for n, why in self.damaged[:limit]]
        if len(self.damaged) > limit:
            parts.append(f"and {len(self.damaged) - limit} more")
        return "; ".join(parts)


def _check_types(data: dict[str, Any]) -> str | None:
    for key in _OPTIONAL_STR:
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"{key!r} is not a string"
    for key in _OPTIONAL_NUM:
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{key!r} is not a number"
    for key in _OPTIONAL_DICT:
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"{key!r} is not an object"
    for key in ("last_prompt", "last_response"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"{key!r} is not a string"
    return None


def parse_record(data: Any) -> SessionInfo:
    """One stored record -> :class:`SessionInfo`; ``ValueError`` saying why when it is not a valid record."""
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but {type(data).__name__}")
    if HEADER_KEY in data:
        raise ValueError("a journal header where a record belongs")
    problem = _check_types(data)
    if problem:
        raise ValueError(problem)
    if "interaction_count" not in data:  # older records may lack it; the store renumbers anyway
        data = {**data, "interaction_count": 0}
    try:
        return SessionInfo.from_dict(data)
    except ValueError:
        raise
    except Exception as exc:  # from_dict on hostile input: keep the loader total
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc


def _header_problem(data: dict[str, Any]) -> str | None:
    if data.get(HEADER_KEY) != FORMAT_NAME:
        return f"unknown journal format {data.get(HEADER_KEY)!r}"
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        return f"unsupported journal version {version!r}"
    if not isinstance(data.get("agent_id"), str):
        return "header has no string 'agent_id'"
    return None


def _record_from_parsed(obj: Any, strings: dict[str, str] | None = None) -> SessionInfo:
    """:func:`parse_record` for an object that ``json.loads`` just built and nobody else holds.

    Builds the record from ``obj``'s values without copying them (``SessionInfo.from_dict`` must copy, as
    its argument belongs to the caller): loading a long chain is then dominated by JSON decoding. Anything
    unusual goes through :func:`parse_record`, which gives the same result or the precise error.
    ``strings`` (one per load) makes the values that repeat from step to step (agent, session id, cwd,
    model, ...) one object each instead of one per step.
    """
    if not isinstance(obj, dict) or HEADER_KEY in obj or _check_types(obj) is not None:
        return parse_record(obj)
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _INIT_FIELDS:
            kwargs[key] = value
        else:
            extra[key] = value
    count = kwargs.get("interaction_count", 0)
    kind = kwargs.get("kind") or "new"
    if not isinstance(kwargs.get("session_id"), str) or type(count) is not int or kind not in STEP_KINDS:
        return parse_record(obj)
    try:
        kwargs["created_at"] = parse_timestamp(kwargs.get("created_at", 0))
    except (ValueError, TypeError, OverflowError):
        return parse_record(obj)
    kwargs["interaction_count"] = count
    kwargs["kind"] = kind
    kwargs["last_prompt"] = kwargs.get("last_prompt") or ""
    kwargs["last_response"] = kwargs.get("last_response") or ""
    kwargs["is_error"] = bool(kwargs.get("is_error", False))
    if strings is not None:
        for key in _REPEATED_STR:
            value = kwargs.get(key)
            if value is not None:
                kwargs[key] = strings.setdefault(value, value)
    return SessionInfo(**kwargs, extra=extra)


class _JournalParser:
    """Parses journal lines fed in pieces (whole lines only) into one :class:`ParsedJournal`."""

    def __init__(self, *, expect_header: bool = True, first_line: int = 1) -> None:
        self.out = ParsedJournal()
        self.strings: dict[str, str] = {}
        self.expect_header = expect_header
        self.lineno = first_line - 1

    def feed(self, data: bytes | bytearray, end: int) -> None:
        """Parse ``data[:end]``, which is empty or ends with a newline."""
        out = self.out
        position = 0
        while position < end:
            nl = data.index(b"\n", position)
            line = data[position:nl]
            line_start = position
            position = nl + 1
            self.lineno += 1
            if not line.strip():
                continue
            try:
                obj = json.loads(line.decode("utf-8"))
            except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError: ValueErrors
                out.damaged.append((self.lineno, f"invalid JSON ({type(exc).__name__})"))
                continue
            is_header = isinstance(obj, dict) and HEADER_KEY in obj
            first = out.header is None and not out.records and not out.damaged
            if self.expect_header and first and is_header:
                assert isinstance(obj, dict)
                problem = _header_problem(obj)
                if problem:
                    out.damaged.append((self.lineno, problem))
                else:
                    out.header = obj
                    out.header_line = bytes(data[line_start:position])
                continue
            if self.expect_header and first:
                out.damaged.append((self.lineno, "the journal header is missing"))
            had_count = isinstance(obj, dict) and "interaction_count" in obj
            try:
                record = _record_from_parsed(obj, self.strings)
            except ValueError as exc:
                out.damaged.append((self.lineno, str(exc)[:200]))
                continue
            out.records.append(record)
            expected = len(out.records)
            if self.expect_header and (not had_count or record.interaction_count != expected):
                # Kept (a rewrite renumbers it), but reported, so the file gets repaired and counts stay
                # the step's position: a missing or altered count is damage, not a step of another number.
                found = record.interaction_count if had_count else "missing"
                out.damaged.append((self.lineno, f"interaction_count {found}, expected {expected}"))
        out.complete_length += end


def parse_journal(data: bytes, *, expect_header: bool = True, first_line: int = 1) -> ParsedJournal:
    """Parse journal bytes. Total: any input gives a result, never an exception.

    Complete lines (ending in a newline) are records, the header first when ``expect_header``; blank lines
    are ignored; anything after the last newline is a torn tail. Bad lines are listed in ``damaged`` and
    every good record, before or after them, is kept in order.
    """
    parser = _JournalParser(expect_header=expect_header, first_line=first_line)
    end = data.rfind(b"\n") + 1
    parser.feed(data, end)
    parser.out.torn_tail = len(data) - end
    return parser.out


def _parse_fd(fd: int, size: int) -> ParsedJournal:
    """:func:`parse_journal` of the first ``size`` bytes of ``fd``, read in blocks: a long journal is never
    held in memory as a whole next to its records."""
    parser = _JournalParser()
    pending = bytearray()
    position = 0
    while position < size:
        block = _read_range(fd, position, min(_READ_BLOCK, size - position))
        if not block:
            break
        position += len(block)
        pending += block
        end = pending.rfind(b"\n") + 1
        if end:
            parser.feed(pending, end)
            del pending[:end]
    parser.out.torn_tail = len(pending)
    return parser.out


# --------------------------------------------------------------------------- small file helpers


def _read_range(fd: int, start: int, length: int) -> bytes:
    # lseek + read rather than os.pread (POSIX only); every caller owns its descriptor.
    chunks: list[bytes] = []
    os.lseek(fd, start, os.SEEK_SET)
    while length > 0:
        chunk = os.read(fd, length)
        if not chunk:
            break
        chunks.append(chunk)
        length -= len(chunk)
    return b"".join(chunks)


def _unique_sibling(path: Path, suffix: str) -> Path:
    candidate = path.with_name(path.name + suffix)
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}{suffix}-{n}")
        n += 1
    return candidate


def _preserve_copy(src: Path, dst: Path) -> None:
    """Keep the bytes of ``src`` at ``dst`` (hard link when possible, else a synced copy)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
        fd = os.open(dst, os.O_RDONLY | _O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fs.fsync_dir(dst.parent)


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class JournalCursor:
    """Where a reader stopped: lets :meth:`SessionStore.read` return only what was appended since."""

    path: Path
    inode: int | None = None
    header_line: bytes = b""
    offset: int = 0


@dataclass
class ReadResult:
    """``records`` is the whole chain when ``full``, else only the steps appended after the cursor."""

    records: list[SessionInfo]
    full: bool
    cursor: JournalCursor


@dataclass(frozen=True)
class FileCheck:
    """Result of inspecting one store file without changing it."""

    path: Path
    ok: bool
    detail: str
    agent_id: str | None = None
    records: int = 0


class SessionStore:
    """One directory of per-agent journals. Thread-safe; safe across processes sharing the directory.

    ``fsync`` (default on, or ``$CLAUDE_SESSIONS_FSYNC``): sync every append before returning; off trades
    crash durability of the last appends (power loss, not process death) for speed. ``lock_timeout``
    (default 30 s, or ``$CLAUDE_SESSIONS_LOCK_TIMEOUT``): how long to wait for another writer before
    :class:`LockTimeoutError`. ``redactor``: applied to records imported by :meth:`merge` and by legacy
    migration.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        fsync: bool | None = None,
        lock_timeout: float | None = None,
        redactor: Redactor | None = None,
        create: bool = True,
    ) -> None:
        # realpath: every process must lock the very same lock file, whatever symlinks lead to the store.
        self.directory = Path(os.path.realpath(Path(directory).expanduser()))
        self.fsync = resolve_fsync(fsync)
        self.lock_timeout = resolve_lock_timeout(lock_timeout)
        self.redactor = redactor
        self._damaged: set[Path] = set()  # journals a read found damaged: the next write repairs them first
        if create:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the session store directory {self.directory}: {exc}"
                ) from exc
        if self.directory.exists() and not self.directory.is_dir():
            raise StoreError(f"the session store path {self.directory} exists and is not a directory")

    def __repr__(self) -> str:
        return (
            f"SessionStore({str(self.directory)!r}, fsync={self.fsync}, lock_timeout={self.lock_timeout:g})"
        )

    # ----------------------------------------------------------------- paths and locks

    def journal_path(self, agent_id: str) -> Path:
        """The journal of ``agent_id`` (inside the directory for any string)."""
        return self.directory / journal_name(agent_id)

    def legacy_path(self, agent_id: str) -> Path | None:
        """Where the older format kept ``agent_id`` (``<agent_id>_sessions.json``), if that name is safe."""
        name = f"{agent_id}{LEGACY_SUFFIX}"
        if (
            not agent_id
            or agent_id in (".", "..")
            or agent_id.startswith(".")
            or any(c in agent_id for c in "/\\\0")
            or len(name.encode("utf-8", "surrogatepass")) > 255
        ):
            return None
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return self.directory / name

    @staticmethod
    def lock_path(path: Path) -> Path:
        """The sidecar lock file of a journal."""
        return fs.sidecar_lock_path(path)

    @contextlib.contextmanager
    def locked(self, path: Path, timeout: float | None = None) -> Iterator[None]:
        """Hold the sidecar lock of ``path``; :class:`LockTimeoutError` naming the lock file on timeout."""
        # reentrant: the store's own nested calls (a read that repairs, inside a rewrite) take it again
        with fs.locked(path, timeout=self.lock_timeout if timeout is None else timeout, reentrant=True):
            yield

    # ----------------------------------------------------------------- append (the hot path)

    def append(self, agent_id: str, build: Callable[[int, SessionInfo | None], SessionInfo]) -> SessionInfo:
        """Append one step. ``build(count, last)`` runs under the lock with the next ``interaction_count``
        and the previous step (or ``None``) and returns the record to write. Cost: O(1) in the chain length.
        """
        self._migrate_legacy_for(agent_id)
        path = self.journal_path(agent_id)
        with self.locked(path):
            if path in self._damaged:
                self._damaged.discard(path)
                self._repair_locked(agent_id, path)
            for _attempt in range(2):
                fd = fs.open_nofollow(path, os.O_RDWR | os.O_CREAT, 0o644, what="journal")
                try:
                    state = self._prepare_tail(fd, path, agent_id)
                    if state is not None:
                        prefix, count, last, created = state
                        info = build(count + 1, last)
                        info.interaction_count = count + 1
                        line = _encode(info.to_dict())
                        self._write_step(fd, path, prefix + line)
                        if created:
                            fs.fsync_dir(self.directory)
                        return info
                finally:
                    os.close(fd)
                self._repair_locked(agent_id, path)
        raise StoreCorruptionError(f"the journal {path} could not be repaired for an append", path=path)

    def _write_step(self, fd: int, path: Path, data: bytes) -> None:
        """Under the lock: append ``data``; on any ``OSError`` (a full disk, ...) cut back what this write
        added (it was never acknowledged) and raise a :class:`StoreError` naming the journal."""
        start = os.lseek(fd, 0, os.SEEK_END)
        with fs.os_errors(path, "append to the journal"):
            try:
                fs.write_all(fd, data)
                if self.fsync:
                    os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise

    def _header_bytes(self, agent_id: str) -> bytes:
        return _encode(
            {
                HEADER_KEY: FORMAT_NAME,
                "version": FORMAT_VERSION,
                "agent_id": agent_id,
                "created_at": utcnow().isoformat(),
                "generation": uuid.uuid4().hex,  # changes on every rewrite: readers detect a replaced file
            }
        )

    def _prepare_tail(
        self, fd: int, path: Path, agent_id: str
    ) -> tuple[bytes, int, SessionInfo | None, bool] | None:
        """Under the lock: cut a torn tail, find the last count. ``None`` when the tail is damaged."""
        size = os.fstat(fd).st_size
        end, last_line = _tail(fd, size)
        if end < size:
            kept = self._keep_torn_tail(fd, path, end, size)
            os.ftruncate(fd, end)
            if self.fsync:
                os.fsync(fd)
            warnings.warn(
                f"repaired {path}: dropped a torn last line ({size - end} bytes of a write that never "
                f"finished, e.g. a killed process); its bytes are kept at {kept}",
                StoreWarning,
                stacklevel=4,
            )
        if last_line is None:  # empty (or only a torn header): start the journal
            return self._header_bytes(agent_id), 0, None, size == 0
        if not last_line.strip():  # blank lines are harmless but hide the last record: rare, parse it all
            parsed = _parse_fd(fd, end)
            if not parsed.ok:
                return None
            if parsed.records:
                last = parsed.records[-1]
                return b"", last.interaction_count, last, False
            prefix = b"" if parsed.header is not None else self._header_bytes(agent_id)
            return prefix, 0, None, False
        try:
            obj = json.loads(last_line.decode("utf-8"))
        except (ValueError, RecursionError):
            return None
        if isinstance(obj, dict) and HEADER_KEY in obj:
            if _header_problem(obj):
                return None
            if obj.get("agent_id") != agent_id:
                raise StoreError(
                    f"the journal {path} belongs to agent {obj.get('agent_id')!r}, not {agent_id!r} "
                    f"(a copied or renamed file?); move it away"
                )
            return b"", 0, None, False
        try:
            last = _record_from_parsed(obj)
        except ValueError:
            return None
        if last.agent_id is not None and last.agent_id != agent_id:
            raise StoreError(
                f"the journal {path} belongs to agent {last.agent_id!r}, not {agent_id!r} "
                f"(a copied or renamed file?); move it away"
            )
        return b"", last.interaction_count, last, False

    def _keep_torn_tail(self, fd: int, path: Path, end: int, size: int) -> Path:
        """Under the lock: copy the bytes after the last newline aside before they are cut. A file with no
        complete line has no valid header: it is quarantined whole (``.corrupt-``); otherwise the tail of an
        unfinished write goes to ``.torn-`` (a killed writer is not damage)."""

        def pieces() -> Iterator[bytes]:  # in blocks: a torn tail may be any size
            for offset in range(end, size, _READ_BLOCK):
                yield os.pread(fd, min(_READ_BLOCK, size - offset), offset)

        kept = _unique_sibling(path, (CORRUPT_INFIX if end == 0 else TORN_INFIX) + _timestamp_tag())
        fs.atomic_write(kept, pieces(), mode=0o600, fsync=self.fsync, what="copy of a torn journal tail")
        return kept

    def _keep_torn_tail_of(self, path: Path) -> None:
        """Under the lock, before a rewrite or a removal drops it: keep a torn tail aside."""
        if not os.path.lexists(path):  # under the lock: nobody creates it meanwhile
            return
        fd = fs.open_nofollow(path, os.O_RDONLY, what="journal", error=StoreError)
        try:
            size = os.fstat(fd).st_size
            end, _ = _tail(fd, size)
            if end < size:
                self._keep_torn_tail(fd, path, end, size)
        finally:
            os.close(fd)

    # ----------------------------------------------------------------- reading

    def load(self, agent_id: str) -> list[SessionInfo]:
        """The whole chain of ``agent_id`` (empty when it has none)."""
        return self.read(agent_id).records

    def read(self, agent_id: str, cursor: JournalCursor | None = None) -> ReadResult:
        """Read the chain, or with a ``cursor`` only the steps appended since (falls back to a full read
        when the file was replaced or truncated). A read never writes: a damaged journal gives its
        recoverable records (the next write quarantines and repairs it), a legacy file is read in memory
        (the next write migrates it)."""
        legacy = self.legacy_path(agent_id)
        if legacy is None or not os.path.exists(legacy):
            return self._read_journal(agent_id, cursor)
        full = self._read_journal(agent_id)  # legacy files are rare: no incremental read beside one
        try:
            owner, records, _bad = _parse_legacy(legacy)
        except (OSError, ValueError):
            return full  # unreadable: the next write quarantines it
        combined, added = _union(full.records, records, agent_id, self.redactor)
        if owner != agent_id or not added:
            return full
        # numbered as the migration will number them; a cursor without an inode: the next read is full
        numbered = [replace(r, interaction_count=i) for i, r in enumerate(combined, start=1)]
        return ReadResult(numbered, True, JournalCursor(full.cursor.path))

    def _read_journal(
        self, agent_id: str, cursor: JournalCursor | None = None, *, repair: bool = False
    ) -> ReadResult:
        path = self.journal_path(agent_id)
        for _attempt in range(3):
            try:
                fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
            except FileNotFoundError:
                return ReadResult([], True, JournalCursor(path))
            try:
                st = os.fstat(fd)
                if (
                    cursor is not None
                    and cursor.path == path
                    and cursor.inode == st.st_ino
                    and cursor.header_line
                    and st.st_size >= cursor.offset
                    and _read_range(fd, 0, len(cursor.header_line)) == cursor.header_line
                ):
                    if st.st_size == cursor.offset:
                        return ReadResult([], False, cursor)
                    chunk = _read_range(fd, cursor.offset, st.st_size - cursor.offset)
                    parsed = parse_journal(chunk, expect_header=False)
                    if parsed.ok:
                        new_cursor = replace(cursor, offset=cursor.offset + parsed.complete_length)
                        return ReadResult(parsed.records, False, new_cursor)
                    # damage in the new bytes: fall through to a full read, which repairs
                parsed = _parse_fd(fd, st.st_size)
            finally:
                os.close(fd)
            if parsed.header is not None and parsed.header.get("agent_id") != agent_id:
                owner = parsed.header.get("agent_id")
                raise StoreError(
                    f"the journal {path} belongs to agent {owner!r}, not {agent_id!r} "
                    f"(a copied or renamed file?); move it away"
                )
            if not parsed.ok and not repair:
                warnings.warn(
                    f"the journal {path} is damaged ({parsed.describe_damage()}); returning the "
                    f"{len(parsed.records)} recoverable records; the next write moves the file to "
                    f"*{CORRUPT_INFIX}<time> and rewrites them",
                    StoreWarning,
                    stacklevel=3,
                )
                self._damaged.add(path)
                # numbered by position, as the repair will number them
                numbered = [replace(r, interaction_count=i) for i, r in enumerate(parsed.records, start=1)]
                return ReadResult(numbered, True, JournalCursor(path))
            if not parsed.ok:
                try:
                    with self.locked(path):
                        self._repair_locked(agent_id, path)
                except (OSError, StoreCorruptionError) as exc:
                    # A read-only store (CI artifacts, another user's directory): serve what can be recovered
                    # without moving anything; a writer with permissions will quarantine it.
                    warnings.warn(
                        f"the journal {path} is damaged ({parsed.describe_damage()}) and could not be "
                        f"quarantined ({exc}); returning the {len(parsed.records)} recoverable records, the "
                        f"file is left as it is",
                        StoreWarning,
                        stacklevel=3,
                    )
                    return ReadResult(parsed.records, True, JournalCursor(path))
                continue
            if parsed.torn_tail:
                self._warn_if_still_torn(path, parsed.complete_length)
            return ReadResult(
                parsed.records,
                True,
                JournalCursor(path, st.st_ino, parsed.header_line, parsed.complete_length),
            )
        raise StoreCorruptionError(f"the journal {path} keeps failing to load after repair", path=path)

    def _warn_if_still_torn(self, path: Path, complete_length: int) -> None:
        # A reader without the lock may see a writer's line half-written; only a tail still torn while we hold
        # the lock is a real leftover of a killed writer.
        try:
            with self.locked(path, timeout=min(self.lock_timeout, 5.0)):
                fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
                try:
                    size = os.fstat(fd).st_size
                    end, _ = _tail(fd, size)
                finally:
                    os.close(fd)
                if end == size:
                    return
        except (OSError, StoreError):
            pass
        warnings.warn(
            f"{path}: skipped a torn last line (an unfinished write); the next write will cut it off",
            StoreWarning,
            stacklevel=4,
        )

    # ----------------------------------------------------------------- rewrites

    def _write_journal(
        self, path: Path, agent_id: str, records: Iterable[SessionInfo], *, keep_torn: bool = True
    ) -> int:
        """Under the lock: atomically replace the journal with ``records`` renumbered 1..n (a torn tail it
        replaces is kept aside first, unless the caller kept the whole file)."""
        if keep_torn:
            self._keep_torn_tail_of(path)
        # Rewrites only happen under this lock, so a temp file of this journal is a dead writer's leftover.
        for stale in path.parent.glob(f".{glob.escape(path.name[:100])}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
        count = 0

        def lines() -> Iterator[bytes]:
            nonlocal count
            yield self._header_bytes(agent_id)
            for count, info in enumerate(records, start=1):
                info.interaction_count = count
                yield _encode(info.to_dict())

        fs.atomic_write(path, lines(), what="journal")
        return count

    def _repair_locked(self, agent_id: str, path: Path) -> None:
        """Under the lock: move a damaged journal aside and rewrite its recoverable records."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        parsed = parse_journal(data)
        if parsed.ok:
            return  # somebody repaired it first
        quarantine = _unique_sibling(path, CORRUPT_INFIX + _timestamp_tag())
        try:
            _preserve_copy(path, quarantine)
            self._write_journal(path, agent_id, parsed.records, keep_torn=False)  # the copy holds it all
        except OSError as exc:
            raise StoreCorruptionError(
                f"the journal {path} is damaged ({parsed.describe_damage()}) and could not be "
                f"repaired: {exc}",
                path=path,
                quarantined_to=quarantine if quarantine.exists() else None,
            ) from exc
        warnings.warn(
            f"the journal {path} was damaged ({parsed.describe_damage()}): the original is kept at "
            f"{quarantine}; {len(parsed.records)} recoverable records were kept in a fresh journal",
            StoreWarning,
            stacklevel=4,
        )

    def reset(self, agent_id: str) -> None:
        """Empty the chain of ``agent_id`` (atomic rewrite to a header-only journal)."""
        self._migrate_legacy_for(agent_id)
        path = self.journal_path(agent_id)
        with self.locked(path):
            self._write_journal(path, agent_id, [])

    def compact(self, agent_id: str) -> int:
        """Rewrite the journal from its records (drops a torn tail, renumbers); returns the step count."""
        self._migrate_legacy_for(agent_id)
        path = self.journal_path(agent_id)
        with self.locked(path):
            records = self._read_journal(agent_id, repair=True).records
            if not path.exists():
                return 0
            return self._write_journal(path, agent_id, records)

    def remove_older_than(self, agent_id: str, cutoff: datetime) -> int:
        """Drop the steps created before ``cutoff``; renumber the rest 1..n. Deletes a journal left empty.
        Returns how many steps were removed."""
        self._migrate_legacy_for(agent_id)
        path = self.journal_path(agent_id)
        with self.locked(path):
            records = self._read_journal(agent_id, repair=True).records
            kept = [r for r in records if r.created_at >= cutoff]
            removed = len(records) - len(kept)
            if removed:
                if kept:
                    self._write_journal(path, agent_id, kept)
                else:
                    self._keep_torn_tail_of(path)
                    path.unlink()
                    fs.fsync_dir(self.directory)
            return removed

    def merge(self, agent_id: str, records: Iterable[SessionInfo]) -> int:
        """Union ``records`` into the chain, keyed by :func:`record_key`, renumbered 1..n, atomic rewrite.
        The two chains are interleaved by ``created_at`` at their heads, each keeping its own order (a clock
        that stepped back never reorders a chain). A record naming another agent is refused
        (:class:`StoreError`, nothing written). Idempotent: returns how many steps were new (0: untouched)."""
        incoming = list(records)
        strangers = [r for r in incoming if r.agent_id is not None and r.agent_id != agent_id]
        if strangers:
            raise StoreError(
                f"cannot merge into agent {agent_id!r}: {len(strangers)} record(s) name another agent "
                f"(first: {strangers[0].agent_id!r}, session {strangers[0].session_id}); "
                "merge them into their own"
            )
        self._migrate_legacy_for(agent_id)
        with self.locked(self.journal_path(agent_id)):
            return self._merge_locked(agent_id, incoming)

    def _merge_locked(self, agent_id: str, incoming: list[SessionInfo]) -> int:
        path = self.journal_path(agent_id)
        current = self._read_journal(agent_id, repair=True).records
        combined, added = _union(current, incoming, agent_id, self.redactor)
        if added:
            self._write_journal(path, agent_id, combined)
        return added

    # ----------------------------------------------------------------- the whole directory

    def journal_files(self) -> list[Path]:
        """Every journal file in the directory (not locks, temp files or quarantined copies)."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p
            for p in self.directory.iterdir()
            if p.name.endswith(JOURNAL_SUFFIX) and not p.name.startswith(".") and p.is_file()
        )

    def legacy_files(self) -> list[Path]:
        """Files in the older single-document format still waiting for migration."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p
            for p in self.directory.iterdir()
            if p.name.endswith(LEGACY_SUFFIX) and not p.name.startswith(".") and p.is_file()
        )

    def quarantined_files(self) -> list[Path]:
        """Damaged files moved aside (``*.corrupt-<timestamp>``)."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if CORRUPT_INFIX in p.name and p.is_file())

    def torn_tails(self) -> list[Path]:
        """Tails of unfinished writes cut off a journal, kept aside (``*.torn-<timestamp>``)."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if TORN_INFIX in p.name and p.is_file())

    def agent_ids(self) -> list[str]:
        """Every agent with a journal or a legacy file in the directory (a read: nothing is migrated)."""
        agents: list[str] = []
        for path in self.journal_files():
            agent = _agent_of_file(path)
            if agent is None:
                warnings.warn(
                    f"{path}: cannot tell which agent this journal belongs to (no readable header or record "
                    f"with an agent_id); left untouched",
                    StoreWarning,
                    stacklevel=2,
                )
                continue
            if self.journal_path(agent) != path:
                warnings.warn(
                    f"{path} holds agent {agent!r} whose journal is {self.journal_path(agent).name}; "
                    f"a copied or renamed file? left untouched",
                    StoreWarning,
                    stacklevel=2,
                )
                continue
            agents.append(agent)
        for legacy in self.legacy_files():
            with contextlib.suppress(OSError, ValueError):
                owner = _parse_legacy(legacy)[0]
                if self.legacy_path(owner) == legacy:
                    agents.append(owner)
        return list(dict.fromkeys(agents))

    def load_all(self) -> dict[str, list[SessionInfo]]:
        """``{agent_id: chain}`` for every agent in the directory, also those written by other processes."""
        return {agent: self.load(agent) for agent in self.agent_ids()}

    def check_files(self) -> list[FileCheck]:
        """Inspect every journal and legacy file without changing anything (for health checks)."""
        checks: list[FileCheck] = []
        for path in self.journal_files():
            try:
                parsed = _parse_path(path)
            except OSError as exc:
                checks.append(FileCheck(path, False, f"unreadable: {exc}"))
                continue
            agent = parsed.header.get("agent_id") if parsed.header else None
            if not parsed.ok:
                checks.append(
                    FileCheck(path, False, f"damaged: {parsed.describe_damage()}", agent, len(parsed.records))
                )
            else:
                note = f"{len(parsed.records)} steps"
                if parsed.torn_tail:
                    note += f", torn last line ({parsed.torn_tail} bytes, repaired at the next write)"
                checks.append(FileCheck(path, True, note, agent, len(parsed.records)))
        for path in self.legacy_files():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                ok = isinstance(doc, dict) and isinstance(doc.get("sessions"), list)
                detail = (
                    "legacy file, migrated on first read" if ok else "legacy file without a sessions list"
                )
            except (OSError, ValueError, RecursionError) as exc:
                ok, detail = False, f"legacy file unreadable: {exc}"
            checks.append(FileCheck(path, ok, detail))
        return checks

    # ----------------------------------------------------------------- legacy format

    def _migrate_legacy_for(self, agent_id: str) -> None:
        legacy = self.legacy_path(agent_id)
        if legacy is not None and os.path.exists(legacy):
            self.migrate_legacy(legacy)

    def migrate_legacy(self, legacy: Path) -> str | None:
        """Import ``<agent_id>_sessions.json`` (the older single-document format) into the agent's journal
        without loss, then rename it to ``*.migrated`` as a backup. Returns the agent id, ``None`` when the
        file is unreadable (then it is moved to ``*.corrupt-<timestamp>`` with a warning)."""
        try:
            parsed = _parse_legacy(legacy)
        except FileNotFoundError:
            return None  # migrated meanwhile by another process
        except ValueError as exc:
            self._quarantine_legacy(legacy, str(exc))
            return None
        agent_id, records, bad = parsed
        path = self.journal_path(agent_id)
        with self.locked(path):
            if not legacy.exists():
                return agent_id
            self._merge_locked(agent_id, records)
            backup = _unique_sibling(legacy, MIGRATED_SUFFIX)
            os.replace(legacy, backup)
            fs.fsync_dir(self.directory)
        message = f"migrated {len(records)} steps of agent {agent_id!r} from {legacy} into {path}; "
        message += f"the original is kept at {backup}"
        if bad:
            message += f"; {len(bad)} entries could not be read and stay only in the backup: " + "; ".join(
                bad[:3]
            )
        warnings.warn(message, StoreWarning, stacklevel=3)
        return agent_id

    def _quarantine_legacy(self, legacy: Path, why: str) -> None:
        target = _unique_sibling(legacy, CORRUPT_INFIX + _timestamp_tag())
        try:
            os.replace(legacy, target)
        except FileNotFoundError:
            return
        fs.fsync_dir(self.directory)
        warnings.warn(
            f"the legacy store file {legacy} is unreadable ({why}); moved it to {target}; "
            f"nothing was migrated",
            StoreWarning,
            stacklevel=3,
        )


def _parse_legacy(legacy: Path) -> tuple[str, list[SessionInfo], list[str]]:
    """(agent id, records, entries that could not be taken) of a legacy file, writing nothing.
    ``ValueError`` (why) when the file is unreadable; ``FileNotFoundError`` when it is gone."""
    try:
        doc = json.loads(legacy.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError) as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sessions"), list):
        raise ValueError("no 'sessions' list")
    agent_id = doc.get("agent_id")
    if not isinstance(agent_id, str):
        agent_id = legacy.name[: -len(LEGACY_SUFFIX)]
    records: list[SessionInfo] = []
    bad: list[str] = []
    seen_keys: dict[str, int] = {}
    for i, item in enumerate(doc["sessions"]):
        try:
            rec = _record_from_parsed(item)
        except ValueError as exc:
            bad.append(f"sessions[{i}]: {exc}")
            continue
        if rec.agent_id is not None and rec.agent_id != agent_id:
            bad.append(f"sessions[{i}]: names another agent, {rec.agent_id!r}")  # it would poison the journal
            continue
        rec.agent_id = agent_id
        if rec.step_id is None:
            # Two identical old entries (same id, time and prompt) are still two steps: number the
            # repeats so the merge, which unites by key, keeps both. Deterministic: a re-run adds nothing.
            key = record_key(rec)
            repeat = seen_keys.get(key, 0)
            seen_keys[key] = repeat + 1
            rec.step_id = key if not repeat else f"{key}#{repeat}"
        records.append(rec)
    return agent_id, records, bad


def _union(
    current: list[SessionInfo], incoming: Iterable[SessionInfo], agent_id: str, redactor: Redactor | None
) -> tuple[list[SessionInfo], int]:
    """(the chain with the new records of ``incoming`` interleaved, how many were new). Keyed by
    :func:`record_key`; a merge of two sequences by ``created_at`` at their heads, not a sort: each keeps
    its own order (a clock that stepped back never reorders a chain); on a tie the existing step first."""
    seen = {record_key(r) for r in current}
    added: list[SessionInfo] = []
    for rec in incoming:
        key = record_key(rec)
        if key in seen:
            continue
        seen.add(key)
        rec = SessionInfo.from_dict(rec.to_dict())  # never change the caller's objects
        rec.step_id = key
        if rec.agent_id is None:
            rec.agent_id = agent_id
        if redactor is not None:
            rec = _redact_record(redactor, rec)
        added.append(rec)
    if not added:
        return current, 0
    return list(heapq.merge(current, added, key=lambda r: r.created_at)), len(added)


def _tail(fd: int, size: int) -> tuple[int, bytes | None]:
    """(offset after the last newline, the last complete line without its newline or ``None``)."""
    chunk = _TAIL_CHUNK
    while True:
        start = max(0, size - chunk)
        data = _read_range(fd, start, size - start)
        last_nl = data.rfind(b"\n")
        if last_nl < 0 and start > 0:
            chunk *= 4
            continue
        if last_nl < 0:
            return 0, None
        prev_nl = data.rfind(b"\n", 0, last_nl)
        if prev_nl < 0 and start > 0:
            chunk *= 4
            continue
        return start + last_nl + 1, data[prev_nl + 1 : last_nl]


def _parse_path(path: Path) -> ParsedJournal:
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    try:
        return _parse_fd(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def _agent_of_file(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            first = fh.readline()
    except OSError:
        return None
    try:
        obj = json.loads(first.decode("utf-8"))
        if isinstance(obj, dict) and _header_problem(obj) is None:
            return str(obj["agent_id"])
    except (ValueError, RecursionError):
        pass
    try:
        parsed = _parse_path(path)
    except OSError:
        return None
    for rec in parsed.records:
        if rec.agent_id is not None:
            return rec.agent_id
    return None


def _redact_record(redactor: Redactor, rec: SessionInfo) -> SessionInfo:
    rec.last_prompt = redactor.redact(rec.last_prompt)
    rec.last_response = redactor.redact(rec.last_response)
    if rec.metadata is not None:
        rec.metadata = redactor.redact_obj(rec.metadata)
    if rec.error is not None:
        rec.error = redactor.redact(rec.error)
    if rec.extra:
        rec.extra = redactor.redact_obj(rec.extra)
    return rec
