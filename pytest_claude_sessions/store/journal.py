"""The journal format: one append-only JSONL file per agent, its name, its parsing and its records.

Layout of ``<dir>/<slug>-<sha256 prefix>.jsonl`` (any agent id maps to a name inside the directory)::

    {"__journal__": "pytest-claude-sessions.journal", "version": 1, "agent_id": ..., "generation": ...}
    {"session_id": ..., "interaction_count": 1, ...}      <- SessionInfo.to_dict(), one line per step
    ...

:class:`~pytest_claude_sessions.store.session_store.SessionStore` reads and writes these files. Its
guarantees (see the README): appends are O(1) in the chain length (only the tail is read, under the lock);
an append that returned is on disk (fsync, unless switched off); a torn last line from a killed writer is
skipped by readers and cut off by the next locked write; a file damaged anywhere else is never overwritten:
it is moved aside to ``<file>.corrupt-<UTC timestamp>`` and every recoverable record goes into a fresh
journal. Rewrites (reset, cleanup, merge, compaction, repair) go temp file -> fsync -> os.replace -> fsync
of the directory.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_claude_sessions import fs
from pytest_claude_sessions.errors import (
    StoreError,
    StoreWarning,
)
from pytest_claude_sessions.models import STEP_KINDS, SessionInfo, parse_switch, parse_timestamp, utcnow
from pytest_claude_sessions.redact import Redactor

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "ENV_FSYNC",
    "ENV_LOCK_TIMEOUT",
    "ParsedJournal",
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
READ_BLOCK = 1024 * 1024
_SLUG_MAX = 48
_HASH_LEN = 20  # hex digits of sha256: 80 bits, no realistic collision between agent ids
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
TEXT_ERRORS = "surrogatepass"  # lone surrogates are str too: an agent id may hold any

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


@functools.lru_cache(maxsize=4096)  # on every append: the hash and the redaction rules once per id
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


def encode_line(obj: dict[str, Any]) -> bytes:
    """One journal line. Not ``ensure_ascii``: that writes U+1F600 and the two code units ``\\ud83d\\ude00``
    alike, so a str holding a surrogate pair would come back as another str. Raw UTF-8 with surrogates passed
    through (:data:`TEXT_ERRORS`) keeps every str distinct; control characters are still escaped, so a line
    never holds a raw newline."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
    return text.encode("utf-8", TEXT_ERRORS)


def decode_line(data: bytes | bytearray) -> str:
    """The text of a journal line (``UnicodeDecodeError`` for bytes no writer made)."""
    return data.decode("utf-8", TEXT_ERRORS)


def timestamp_tag() -> str:
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


def header_problem(data: dict[str, Any]) -> str | None:
    if data.get(HEADER_KEY) != FORMAT_NAME:
        return f"unknown journal format {data.get(HEADER_KEY)!r}"
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        return f"unsupported journal version {version!r}"
    if not isinstance(data.get("agent_id"), str):
        return "header has no string 'agent_id'"
    return None


def record_from_parsed(obj: Any, strings: dict[str, str] | None = None) -> SessionInfo:
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
                obj = json.loads(decode_line(line))
            except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError: ValueErrors
                out.damaged.append((self.lineno, f"invalid JSON ({type(exc).__name__})"))
                continue
            is_header = isinstance(obj, dict) and HEADER_KEY in obj
            first = out.header is None and not out.records and not out.damaged
            if self.expect_header and first and is_header:
                assert isinstance(obj, dict)
                problem = header_problem(obj)
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
                record = record_from_parsed(obj, self.strings)
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


def parse_fd_journal(fd: int, size: int) -> ParsedJournal:
    """:func:`parse_journal` of the first ``size`` bytes of ``fd``, read in blocks: a long journal is never
    held in memory as a whole next to its records."""
    parser = _JournalParser()
    pending = bytearray()
    position = 0
    while position < size:
        block = read_range(fd, position, min(READ_BLOCK, size - position))
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


def read_range(fd: int, start: int, length: int) -> bytes:
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


def unique_sibling(path: Path, suffix: str) -> Path:
    candidate = path.with_name(path.name + suffix)
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}{suffix}-{n}")
        n += 1
    return candidate


def preserve_copy(src: Path, dst: Path) -> None:
    """Keep the bytes of ``src`` at ``dst`` (hard link when possible, else a synced copy)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
        fd = os.open(dst, os.O_RDONLY | O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fs.fsync_dir(dst.parent)


def parse_legacy(legacy: Path) -> tuple[str, list[SessionInfo], list[str]]:
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
            rec = record_from_parsed(item)
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


def union_chains(
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


def last_line_of(fd: int, size: int) -> tuple[int, bytes | None]:
    """(offset after the last newline, the last complete line without its newline or ``None``)."""
    chunk = _TAIL_CHUNK
    while True:
        start = max(0, size - chunk)
        data = read_range(fd, start, size - start)
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


def parse_path(path: Path) -> ParsedJournal:
    fd = os.open(path, os.O_RDONLY | O_CLOEXEC)
    try:
        return parse_fd_journal(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def agent_of_file(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            first = fh.readline()
    except OSError:
        return None
    try:
        obj = json.loads(decode_line(first))
        if isinstance(obj, dict) and header_problem(obj) is None:
            return str(obj["agent_id"])
    except (ValueError, RecursionError):
        pass
    try:
        parsed = parse_path(path)
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
