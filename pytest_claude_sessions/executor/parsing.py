"""Turning the CLI's stdout into data: the ``json`` result object and ``stream-json`` events.

Pure functions over strings; the executor decides what a parse failure means (which error, which message).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

OUTPUT_FORMATS = ("json", "stream-json")
MAX_DEPTH = 64  # the CLI's objects nest ~8 deep; deeper is hostile (and would overflow copies and dumps)


class OutputParseError(ValueError):
    """stdout holds JSON that cannot be taken safely (nested beyond :data:`MAX_DEPTH`); says why."""


def depth_exceeds(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests containers deeper than ``limit`` (iterative: no recursion to overflow)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads_bounded(text: str) -> object:
    """``json.loads`` that refuses hostile nesting with :class:`OutputParseError` (never RecursionError);
    raises ``ValueError`` for text that is not JSON."""
    try:
        value: object = json.loads(text)
    except RecursionError:
        raise OutputParseError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if depth_exceeds(value):
        raise OutputParseError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


@dataclass(frozen=True)
class StreamEvent:
    """One ``stream-json`` event as handed to ``on_event``: the useful bits up front, ``raw`` for the rest.

    ``elapsed`` is seconds since the call started (for a replayed call: since the replay was dispatched).
    ``tool_names`` lists the ``tool_use`` blocks of an ``assistant`` event (empty for other events).
    """

    type: str
    subtype: str | None
    elapsed: float
    index: int
    session_id: str | None = None
    tool_names: tuple[str, ...] = ()
    text: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def make_event(raw: dict[str, Any], *, elapsed: float, index: int) -> StreamEvent:
    """Summarise one decoded stream-json line."""
    tools: list[str] = []
    texts: list[str] = []
    message = raw.get("message")
    if isinstance(message, dict) and isinstance(message.get("content"), list):
        for block in message["content"]:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use" and isinstance(block.get("name"), str):
                tools.append(block["name"])
            elif block.get("type") == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
    if raw.get("type") == "result" and isinstance(raw.get("result"), str):
        texts.append(raw["result"])
    subtype = raw.get("subtype")
    session_id = raw.get("session_id")
    return StreamEvent(
        type=str(raw.get("type", "")),
        subtype=subtype if isinstance(subtype, str) else None,
        elapsed=elapsed,
        index=index,
        session_id=session_id if isinstance(session_id, str) else None,
        tool_names=tuple(tools),
        text="".join(texts) if texts else None,
        raw=raw,
    )


def decode_line(line: str, *, strict: bool = False) -> dict[str, Any] | None:
    """A stream-json line as a dict, or ``None`` for a blank or non-JSON line (e.g. a stray warning).

    Hostile nesting is skipped like any unusable line, or raises :class:`OutputParseError` if ``strict``.
    """
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        obj = loads_bounded(text)
    except OutputParseError:
        if strict:
            raise
        return None
    except ValueError:
        return None
    return dict(obj) if isinstance(obj, dict) else None


def decode_stream(stdout: str, *, strict: bool = False) -> list[dict[str, Any]]:
    """Every JSON object line of a ``stream-json`` stdout, in order (``strict``: see :func:`decode_line`)."""
    events = []
    for line in stdout.splitlines():
        obj = decode_line(line, strict=strict)
        if obj is not None:
            events.append(obj)
    return events


def decode_json_result(stdout: str) -> dict[str, Any] | None:
    """The ``json`` format's single result object, or ``None`` when stdout holds no such object.

    Tolerates text lines before the object (a warning printed to stdout) by falling back to the last line
    that parses as a ``result`` object. Raises :class:`OutputParseError` for hostile nesting.
    """
    text = stdout.strip()
    if not text:
        return None
    try:
        obj = loads_bounded(text)
    except OutputParseError:
        raise
    except ValueError:
        obj = None
        for line in reversed(text.splitlines()):
            candidate = decode_line(line, strict=True)
            if candidate is not None and candidate.get("type") == "result":
                obj = candidate
                break
    if isinstance(obj, dict) and obj.get("type") == "result":
        return dict(obj)
    return None


def last_result_event(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The final ``result`` event of a stream, if there is one."""
    for event in reversed(events):
        if event.get("type") == "result":
            found: dict[str, Any] = event
            return found
    return None


def init_event(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``system``/``init`` event (first line of a stream), if there is one."""
    for event in events:
        if event.get("type") == "system" and event.get("subtype") == "init":
            return event
    return None


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


def as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def as_str_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, str):
        return [value]
    return []


def model_from(payload: dict[str, Any], init: dict[str, Any] | None, requested: str | None) -> str | None:
    """The model that answered: the single ``modelUsage`` key, else the init event's model, else requested."""
    usage = payload.get("modelUsage")
    if isinstance(usage, dict) and len(usage) == 1:
        (name,) = usage
        return str(name)
    if init is not None and isinstance(init.get("model"), str):
        return str(init["model"])
    return requested
