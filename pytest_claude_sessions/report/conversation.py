"""What was said in each step, read from the CLI's transcripts: the user prompt, the replies and the tool
calls and results of the step's own turns (the path from its leaf back to the previous step's leaf).

Transcripts may be gone (a temporary directory): a step without one has no conversation, never an error.
Every text passes through a :class:`Redactor` (the default one unless the caller gives its own) before it is
shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_claude_sessions.redact import Redactor
from pytest_claude_sessions.report.graph import chain_graph

TEXT_MAX = 2000
_CHAIN_TYPES = ("user", "assistant", "system", "attachment")


@dataclass(frozen=True)
class Message:
    role: str  # user | assistant | tool_use | tool_result
    text: str


def _index(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    try:
        with path.open("rb") as fh:
            for raw in fh:
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue  # a torn or damaged line: `claude-sessions validate` reports it
                if (
                    isinstance(rec, dict)
                    and rec.get("type") in _CHAIN_TYPES
                    and isinstance(rec.get("uuid"), str)
                ):
                    out[rec["uuid"]] = rec
    except OSError:
        return {}
    return out


def _ancestors(index: Mapping[str, dict[str, Any]], leaf: str | None) -> list[str]:
    path: list[str] = []
    seen: set[str] = set()
    current = leaf
    while current and current in index and current not in seen:
        seen.add(current)
        path.append(current)
        parent = index[current].get("parentUuid")
        current = parent if isinstance(parent, str) else None
    path.reverse()
    return path


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_MAX else text[:TEXT_MAX] + "…"


def _messages(rec: Mapping[str, Any], redactor: Redactor) -> Iterator[Message]:
    if rec.get("type") not in ("user", "assistant") or rec.get("isMeta"):
        return
    content = (rec.get("message") or {}).get("content")
    role = str(rec["type"])
    if isinstance(content, str):
        yield Message(role, _clip(redactor.redact(content)))
        return
    if not isinstance(content, list):
        return
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            yield Message(role, _clip(redactor.redact(block["text"])))
        elif kind == "tool_use":
            args = json.dumps(block.get("input"), sort_keys=True, ensure_ascii=False)
            yield Message("tool_use", _clip(redactor.redact(f"{block.get('name')}({args})")))
        elif kind == "tool_result":
            inner = block.get("content")
            if isinstance(inner, list):
                inner = " ".join(str(b.get("text", "")) for b in inner if isinstance(b, dict))
            yield Message("tool_result", _clip(redactor.redact(str(inner or ""))))


def step_conversations(
    steps: Sequence[Mapping[str, Any]], redactor: Redactor | None = None
) -> list[list[Message] | None]:
    """Per step, its own messages; ``None`` when its transcript (or leaf) is not there. Every text passes
    through ``redactor`` (default: the built-in rules and the key variables' values)."""
    redactor = redactor if redactor is not None else Redactor()
    nodes = chain_graph(steps)
    cache: dict[str, dict[str, dict[str, Any]]] = {}
    out: list[list[Message] | None] = []
    for node in nodes:
        path, leaf = node.step.get("transcript_path"), node.step.get("leaf_uuid")
        if not path or not leaf:
            out.append(None)
            continue
        index = cache.setdefault(str(path), _index(Path(str(path))))
        own = _ancestors(index, str(leaf))
        if not own:
            out.append(None)
            continue
        if node.parent is not None:
            before = set(_ancestors(index, steps[node.parent].get("leaf_uuid")))
            own = [u for u in own if u not in before]
        out.append([m for u in own for m in _messages(index[u], redactor)])
    return out
