"""One streaming pass over a transcript: validate every line, follow the conversation chain, find the leaf.

Only ``user``, ``assistant`` and ``attachment`` records (and ``system`` records in other CLI versions) are
*chain nodes*: they carry ``uuid`` and ``parentUuid`` and form the conversation tree; every other record type
is bookkeeping. Files are read line by line: memory grows with the number of chain uuids, never with records.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pytest_claude_sessions.errors import TranscriptError

__all__ = [
    "CHAIN_NODE_TYPES",
    "DEFAULT_MAX_LINE_BYTES",
    "ChainIndex",
    "Scan",
    "iter_transcript_records",
    "leaf_uuid",
    "scan_transcript",
]

logger = logging.getLogger(__name__)

#: Record types that carry ``uuid``/``parentUuid`` and form the conversation chain. ``system`` is not
#: written by 2.1.330, but older and newer CLIs write ``system`` records (compaction boundaries, API errors)
#: inside the chain, and children point at them.
CHAIN_NODE_TYPES: Final = frozenset({"user", "assistant", "attachment", "system"})
DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024 * 1024

#: chain uuid -> (the parent a walk up the chain follows, line number)
ChainIndex = dict[str, tuple[str | None, int]]
RecordHook = Callable[[int, dict[str, Any]], None]


class _Fault(Exception):
    """Internal: the first problem found in a transcript; the message is the user-facing reason."""


class _TornTail(Exception):
    """Internal: the last line is cut mid-record and torn tails are allowed: stop reading there."""


@dataclass
class Scan:
    """What one pass over a transcript found; ``error`` names the file and line of the first fault."""

    path: Path
    line_count: int = 0
    record_count: int = 0
    node_count: int = 0
    leaf: str | None = None
    leaf_line: int = 0
    index: ChainIndex | None = None
    error: str | None = None
    torn_tail_skipped: bool = False

    def line_of(self, uuid: str) -> int:
        """The line of chain node ``uuid`` (the scan must have been made with an index)."""
        assert self.index is not None
        return self.index[uuid][1]


def _parse_line(raw: bytes, lineno: int, max_line_bytes: int, allow_torn_tail: bool) -> dict[str, Any] | None:
    """The record on one line, None for a blank line; raises _Fault, or _TornTail for an allowed torn end."""
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
            return None  # the CLI never writes blank lines, but they carry nothing
        if not raw.endswith(b"\n"):  # readline stops short of a newline only at EOF
            if allow_torn_tail:
                raise _TornTail from None
            raise _Fault(
                f"line {lineno} is torn: the file ends mid-record without a newline "
                f"(the CLI was killed while writing, or is still writing): {exc.msg} at column {exc.colno}"
            ) from None
        raise _Fault(f"line {lineno} is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if type(rec) is not dict:
        raise _Fault(f"line {lineno} is a JSON {type(rec).__name__}, not a record object")
    return rec


def _node_parent(
    rec: dict[str, Any], rtype: object, uuid: object, lineno: int, known: Container[str]
) -> str | None:
    """The declared parent of a chain node, checked: a string uuid, an earlier node of the file."""
    if type(uuid) is not str or not uuid:
        raise _Fault(f"line {lineno}: {rtype} record has no string 'uuid'")
    parent = rec.get("parentUuid")
    if parent is None:
        return None
    if type(parent) is not str:
        raise _Fault(f"line {lineno}: {rtype} record {uuid!r} has a non-string parentUuid")
    if parent not in known:
        raise _Fault(
            f"line {lineno}: broken chain: {rtype} record {uuid!r} has parentUuid {parent!r}, "
            f"which is not an earlier uuid in the file"
        )
    return parent


class _Walker:
    """Follows the chain record by record; keeps either a set of uuids or the full :data:`ChainIndex`."""

    def __init__(self, scan: Scan, session_id: str, want_index: bool) -> None:
        self.scan = scan
        self.session_id = session_id
        self.index: ChainIndex | None = {} if want_index else None
        self.seen: set[str] = set()

    def feed(self, lineno: int, rec: dict[str, Any]) -> bool:
        """Check one record; True when it is part of the chain (a node or a chain-like ancestor)."""
        scan = self.scan
        scan.record_count += 1
        sid = rec.get("sessionId")
        if sid is not None and sid != self.session_id:
            raise _Fault(
                f"line {lineno} belongs to another session: sessionId {sid!r}, expected {self.session_id!r}"
            )
        rtype = rec.get("type")
        uuid = rec.get("uuid")
        known: Container[str] = self.index if self.index is not None else self.seen
        if rtype in CHAIN_NODE_TYPES:
            parent = _node_parent(rec, rtype, uuid, lineno, known)
            if rec.get("isSidechain") is not True:
                scan.leaf = uuid
                scan.leaf_line = lineno
            scan.node_count += 1
        elif type(uuid) is str and "parentUuid" in rec:
            # An unknown chain-like record: children may point at it, so it counts as an ancestor.
            declared = rec.get("parentUuid")
            parent = declared if type(declared) is str else None
        else:
            return False
        if parent is None:
            # A compaction boundary restarts the chain but names its logical parent.
            logical = rec.get("logicalParentUuid")
            if type(logical) is str:
                parent = logical
        assert isinstance(uuid, str)
        if self.index is not None:
            self.index[uuid] = (parent, lineno)
        else:
            self.seen.add(uuid)
        return True


def scan_transcript(
    path: Path,
    session_id: str,
    *,
    want_index: bool = False,
    on_record: RecordHook | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    allow_torn_tail: bool = False,
) -> Scan:
    """One streaming pass: validate each line, track the chain, feed ``on_record``; stop at a fault.

    Never raises for a bad file: the fault (file and line) is in :attr:`Scan.error`.
    """
    scan = Scan(path=path)
    walker = _Walker(scan, session_id, want_index)
    lineno = 0
    try:
        with path.open("rb") as fh:
            readline = fh.readline
            while raw := readline(max_line_bytes + 1):
                lineno += 1
                try:
                    rec = _parse_line(raw, lineno, max_line_bytes, allow_torn_tail)
                except _TornTail:
                    logger.warning("%s: skipping torn last line %d", path, lineno)
                    scan.torn_tail_skipped = True
                    break
                if rec is None:
                    continue
                walker.feed(lineno, rec)
                if on_record is not None:
                    on_record(lineno, rec)
    except _Fault as fault:
        scan.error = f"{path}: {fault}"
    except OSError as exc:
        scan.error = f"{path}: cannot read the transcript: {exc}"
    scan.line_count = lineno
    scan.index = walker.index
    if scan.error is None and scan.record_count == 0:
        scan.error = f"{path}: the transcript is empty" + (" (blank lines only)" if lineno else "")
    return scan


def iter_transcript_records(
    path: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, allow_torn_tail: bool = False
) -> Iterator[dict[str, Any]]:
    """Stream the records of a transcript in file order, unvalidated beyond JSON syntax.

    Raises :class:`TranscriptError` (naming the file and line) for a line that is not a JSON object.
    """
    with path.open("rb") as fh:
        for lineno, raw in enumerate(iter(lambda: fh.readline(max_line_bytes + 1), b""), 1):
            if not raw.endswith(b"\n") and len(raw) > max_line_bytes:
                raise TranscriptError(f"{path}: line {lineno} is longer than {max_line_bytes} bytes")
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError) as exc:
                if not raw.endswith(b"\n") and allow_torn_tail:
                    logger.warning("%s: skipping torn last line %d", path, lineno)
                    return
                raise TranscriptError(f"{path}: line {lineno} is not valid JSON: {exc}") from None
            if not isinstance(rec, dict):
                raise TranscriptError(f"{path}: line {lineno} is a JSON {type(rec).__name__}, not a record")
            yield rec


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
