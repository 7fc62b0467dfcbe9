"""The parts of one recorded interaction: stdout as stored, its session, version and model, its own records.

stdout is kept as one JSON object (``--output-format json``), one event per line (``stream-json``) or plain
text, and rendered back byte-compatible for the executor's parser.

PYTEST_DONT_REWRITE: no assert here relies on pytest's assert rewriting (skipping it keeps imports cheap).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pytest_claude_sessions.cassettes.transcript_records import TranscriptChunk, encode_record, render_lines
from pytest_claude_sessions.errors import CassetteError
from pytest_claude_sessions.models import CliCall

__all__ = [
    "cli_version_of",
    "interaction_id",
    "model_of",
    "own_chunks",
    "render_stdout",
    "session_of",
    "split_stdout",
]


def interaction_id(interaction: dict[str, Any]) -> str:
    """A recorded interaction's id (a content hash for hand-written ones without one)."""
    value = interaction.get("id")
    if isinstance(value, str) and value:
        return value
    text = json.dumps(interaction, sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def split_stdout(stdout: str) -> dict[str, Any]:
    """stdout as the cassette keeps it: one JSON object, JSON lines (stream-json) or plain text."""
    stripped = stdout.strip()
    if stripped:
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            lines = stripped.splitlines()
            try:
                return {"lines": [json.loads(line) for line in lines]}
            except json.JSONDecodeError:
                pass
        else:
            if isinstance(value, dict) and "\n" not in stripped:
                return {"json": value}
            if isinstance(value, dict):
                return {"lines": [value]}
    return {"text": stdout}


def render_stdout(stored: Any, where: str) -> str:
    if not isinstance(stored, dict):
        raise CassetteError(f"{where}: 'stdout' must be an object with 'json', 'lines' or 'text'")
    if "json" in stored:
        return encode_record(stored["json"]) + "\n"
    if "lines" in stored and isinstance(stored["lines"], list):
        return render_lines(stored["lines"])
    if isinstance(stored.get("text"), str):
        return str(stored["text"])
    raise CassetteError(f"{where}: 'stdout' must be an object with 'json', 'lines' or 'text'")


def session_of(stdout: dict[str, Any]) -> str | None:
    """The session id the call ended in (the result's, else any event's)."""
    candidates = [stdout.get("json"), *reversed(stdout.get("lines") or [])]
    for payload in candidates:
        if isinstance(payload, dict) and isinstance(payload.get("session_id"), str):
            return str(payload["session_id"])
    return None


def own_chunks(chunks: list[TranscriptChunk], session_id: str | None) -> list[TranscriptChunk]:
    """Only the files of the call's own session (``<id>.jsonl`` and ``<id>/…`` for subagents).

    A call writes only to its session's files, so this keeps concurrent calls of one test (``asyncio.gather``)
    from recording each other's records. Without a session id (an error before the session) keep all.
    """
    if session_id is None:
        return chunks
    own = []
    for chunk in chunks:
        parts = chunk.path.split("/")
        if len(parts) >= 2 and (parts[1] == f"{session_id}.jsonl" or parts[1] == session_id):
            own.append(chunk)
    return own


def cli_version_of(stdout: dict[str, Any], chunks: list[TranscriptChunk]) -> str | None:
    for line in stdout.get("lines") or []:
        if isinstance(line, dict) and isinstance(line.get("claude_code_version"), str):
            return str(line["claude_code_version"])
    for chunk in chunks:
        for line in chunk.lines:
            if isinstance(line, dict) and isinstance(line.get("version"), str):
                return str(line["version"])
    return None


def model_of(stdout: dict[str, Any], call: CliCall) -> str | None:
    payloads = [stdout.get("json"), *(stdout.get("lines") or [])]
    for payload in payloads:
        if (
            isinstance(payload, dict)
            and isinstance(payload.get("modelUsage"), dict)
            and payload["modelUsage"]
        ):
            return str(next(iter(payload["modelUsage"])))
    model = call.options.get("model")
    return model if isinstance(model, str) else None
