"""What one CLI call added to the transcripts under ``<config_dir>/projects``, and writing it back on replay.

Before a recorded call we note the size of every ``*.jsonl`` under ``projects/``; afterwards the new files and
the appended tails are the call's records (the CLI only ever appends, and a fork writes a new file).

PYTEST_DONT_REWRITE: no assert here relies on pytest's assert rewriting (skipping it keeps imports cheap).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pytest_claude_sessions import fs
from pytest_claude_sessions.errors import CassetteError
from pytest_claude_sessions.models import TranscriptFacts
from pytest_claude_sessions.transcripts.scan import CHAIN_NODE_TYPES

__all__ = [
    "WIRE_RECORD_TYPES",
    "TranscriptChunk",
    "apply_chunks",
    "collect_chunks",
    "facts_of",
    "slim_lines",
    "snapshot_sizes",
]

ChunkMode = Literal["create", "append", "replace"]
_MODES: tuple[str, ...] = ("create", "append", "replace")


@dataclass
class TranscriptChunk:
    """Records one call added to one transcript file. ``path`` is relative to ``<config_dir>/projects``.

    ``lines`` holds each record parsed (a dict), or the raw text for a line that is not a JSON object.
    """

    path: str
    mode: ChunkMode
    lines: list[Any] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any, *, where: str) -> TranscriptChunk:
        """Parse a cassette entry; raises :class:`CassetteError` naming ``where`` on bad data."""
        if not isinstance(data, dict):
            raise CassetteError(f"{where}: a transcript entry must be an object")
        path, mode, lines = data.get("path"), data.get("mode"), data.get("lines")
        if not isinstance(path, str) or mode not in _MODES or not isinstance(lines, list):
            raise CassetteError(
                f"{where}: a transcript entry needs 'path', 'mode' ({'/'.join(_MODES)}), 'lines'"
            )
        return cls(path=path, mode=mode, lines=lines)


def snapshot_sizes(config_dir: Path) -> dict[str, int]:
    """Size of every transcript file under ``<config_dir>/projects``, keyed by its relative POSIX path."""
    root = config_dir / "projects"
    if not root.is_dir():
        return {}
    sizes: dict[str, int] = {}
    for path in root.rglob("*.jsonl"):
        try:
            sizes[path.relative_to(root).as_posix()] = path.stat().st_size
        except OSError:  # vanished between listing and stat
            continue
    return sizes


def collect_chunks(config_dir: Path, before: dict[str, int]) -> list[TranscriptChunk]:
    """The records added since ``before`` (from :func:`snapshot_sizes`): new files whole, appended tails."""
    root = config_dir / "projects"
    chunks: list[TranscriptChunk] = []
    for rel, size in sorted(snapshot_sizes(config_dir).items()):
        old = before.get(rel)
        if old == size:
            continue
        mode: ChunkMode = "create" if old is None else ("append" if size > old else "replace")
        with open(root / rel, "rb") as handle:
            if mode == "append" and old is not None:
                handle.seek(old)
            data = handle.read()
        text = data.decode("utf-8", errors="replace")
        chunks.append(TranscriptChunk(rel, mode, [_parse_line(line) for line in text.splitlines() if line]))
    return chunks


def apply_chunks(
    config_dir: Path, texts: list[tuple[str, ChunkMode, str]], made: set[Path] | None = None
) -> list[Path]:
    """Write replayed records back: ``(relative path, mode, text)`` each; returns the files touched.

    The relative path comes from a cassette (untrusted): it must stay inside ``<config_dir>/projects``.
    ``made``: directories known to exist (updated), so a test's later replays skip the ``mkdir``.
    """
    root = config_dir / "projects"
    touched: list[Path] = []
    for rel, mode, text in texts:
        target = root / safe_relative(rel)
        if made is None or target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            if made is not None:
                made.add(target.parent)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if mode == "replace" else os.O_APPEND)
        # never written through a planted link; 0600 like the CLI's own transcripts
        fd = fs.open_nofollow(target, flags, 0o600, error=CassetteError, what="replayed transcript")
        try:
            fs.write_all(fd, text.encode("utf-8", "surrogatepass"))
        finally:
            os.close(fd)
        touched.append(target)
    return touched


def facts_of(path: Path, lines: list[Any]) -> TranscriptFacts:
    """What records a call wrote to ``path`` tell about the session (its leaf: the last main-chain node),
    so that nobody re-reads the file that was just written or collected."""
    leaf: str | None = None
    version: str | None = None
    total: float | None = None
    for line in lines:
        if not isinstance(line, dict):
            continue
        rtype = line.get("type")
        if rtype in CHAIN_NODE_TYPES and line.get("isSidechain") is not True:
            uuid = line.get("uuid")
            if isinstance(uuid, str) and uuid:
                leaf = uuid
        elif rtype == "cost-state":
            cost = line.get("totalCostUSD")
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                total = float(cost)
        if isinstance(line.get("version"), str):
            version = line["version"]
    return TranscriptFacts(path, leaf_uuid=leaf, cli_version=version, total_cost_usd=total)


def session_file_of(paths: list[str], session_id: str | None) -> int | None:
    """The index of the session's own transcript among chunk paths (``<project>/<session id>.jsonl``)."""
    if session_id is None:
        return None
    name = f"{session_id}.jsonl"
    for index, rel in enumerate(paths):
        parts = rel.split("/")
        if len(parts) == 2 and parts[1] == name:
            return index
    return None


# One encoder for every record (json.dumps with arguments builds a new one per call).
encode_record = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def render_lines(lines: list[Any]) -> str:
    """The JSONL text of recorded lines, compact like the CLI writes it."""
    encode = encode_record
    return "".join((line if isinstance(line, str) else encode(line)) + "\n" for line in lines)


def safe_relative(rel: str) -> Path:
    """``rel`` as a relative path that cannot leave its base directory; raises :class:`CassetteError`."""
    pure = PurePosixPath(rel)
    if (
        not rel
        or "\x00" in rel
        or "\\" in rel
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in rel.split("/"))
    ):
        raise CassetteError(f"unsafe transcript path {rel!r} in cassette: it must stay inside projects/")
    return Path(*pure.parts)


def _parse_line(line: str) -> Any:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return line
    return value if isinstance(value, dict) else line


# Records the CLI writes for its own debugging of the wire: no chain node, nothing this library reads.
WIRE_RECORD_TYPES: frozenset[str] = frozenset({"api-request-shape", "api-request-blob", "api-request"})
SLIM_MAX_TEXT = 1000


def slim_lines(lines: list[Any]) -> list[Any]:
    """``lines`` without the wire-debugging records, and with long fields of attachments elided.

    The chain stays intact (every ``uuid``/``parentUuid``, every prompt and answer, cost-state): the bulk
    of a new session is the CLI's own system prompt and tool list, repeated in every cassette.
    """
    out: list[Any] = []
    for line in lines:
        if isinstance(line, dict) and line.get("type") in WIRE_RECORD_TYPES:
            continue
        if (
            isinstance(line, dict)
            and line.get("type") == "attachment"
            and isinstance(line.get("attachment"), dict)
        ):
            line = {**line, "attachment": _elide(line["attachment"])}
        out.append(line)
    return out


def _elide(attachment: dict[str, Any]) -> dict[str, Any]:
    """Each top-level field whose JSON exceeds :data:`SLIM_MAX_TEXT` chars becomes a short marker."""
    out: dict[str, Any] = {}
    for key, value in attachment.items():
        size = len(json.dumps(value, ensure_ascii=False))
        out[key] = f"[elided by pytest-claude-sessions: {size} chars]" if size > SLIM_MAX_TEXT else value
    return out
