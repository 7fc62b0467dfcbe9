"""Which recorded interaction answers a call: the normalized request, the ``match_on`` criteria, and diffs.

By default a call matches the next unused interaction of its test (order) with the same kind, prompt, output
format, session linkage and behaviour-changing flags. A mismatch is reported as a unified diff of the two
requests, so a changed prompt never replays green against a stale cassette.

PYTEST_DONT_REWRITE: no assert here relies on pytest's assert rewriting (skipping it keeps imports cheap).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

from pytest_claude_sessions.models import CliCall

__all__ = [
    "DEFAULT_MATCH_ON",
    "MATCH_CRITERIA",
    "OPTION_KEYS",
    "differences",
    "normalize_match_on",
    "normalize_request",
    "request_diff",
]

# Behaviour-changing flags the executor puts in CliCall.options.
OPTION_KEYS: tuple[str, ...] = (
    "model",
    "max_turns",
    "allowed_tools",
    "disallowed_tools",
    "permission_mode",
    "system_prompt",
    "append_system_prompt",
    "extra_args",
)
# "options" compares all flags at once (including ones a later executor adds); single names compare one.
MATCH_CRITERIA: tuple[str, ...] = (
    "order",
    "kind",
    "prompt",
    "output_format",
    "session",
    "options",
    *OPTION_KEYS,
)
DEFAULT_MATCH_ON: tuple[str, ...] = ("order", "kind", "prompt", "output_format", "session", "options")


def normalize_match_on(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``match_on`` as a tuple of known criteria (comma-separated text or a sequence); ``None`` → default.

    Raises ``ValueError`` naming an unknown criterion and the valid ones.
    """
    if value is None:
        return DEFAULT_MATCH_ON
    items = (
        [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v).strip() for v in value]
    )
    items = [v for v in items if v]
    unknown = [v for v in items if v not in MATCH_CRITERIA]
    if unknown:
        raise ValueError(f"unknown match_on criteria {unknown}; valid: {', '.join(MATCH_CRITERIA)}")
    return tuple(dict.fromkeys(items))


def normalize_request(call: CliCall) -> dict[str, Any]:
    """The JSON-safe request a cassette stores for ``call`` (before scrubbing); unset options are dropped."""
    options = {key: _jsonable(value) for key, value in sorted(call.options.items()) if not _unset(value)}
    return {
        "kind": call.kind,
        "prompt": call.prompt,
        "output_format": call.output_format,
        "resume": call.resume,
        "session_id": call.session_id,
        "fork": call.fork,
        "continue": call.continue_,
        "options": options,
    }


def differences(
    recorded: Mapping[str, Any],
    actual: Mapping[str, Any],
    match_on: Iterable[str],
    *,
    ids: Mapping[str, str] | None = None,
) -> list[str]:
    """The criteria on which ``actual`` differs from ``recorded`` (``order`` is the caller's business).

    ``ids`` maps session ids the test supplied at run time to the ones recorded, so ``--resume <actual>``
    matches ``--resume <recorded>``.
    """
    ids = ids or {}
    rec_opts = recorded.get("options") or {}
    act_opts = actual.get("options") or {}
    out: list[str] = []
    for criterion in match_on:
        if criterion == "order":
            continue
        if criterion == "kind":
            same = all(recorded.get(k) == actual.get(k) for k in ("kind", "fork", "continue"))
        elif criterion in ("prompt", "output_format"):
            same = recorded.get(criterion) == actual.get(criterion)
        elif criterion == "session":
            resume = actual.get("resume")
            same = recorded.get("resume") == ids.get(resume, resume) if resume else not recorded.get("resume")
            # a --session-id the test generates differs every run: only its presence must match
            same = same and (recorded.get("session_id") is None) == (actual.get("session_id") is None)
        elif criterion == "options":
            same = rec_opts == act_opts
        else:
            same = rec_opts.get(criterion) == act_opts.get(criterion)
        if not same:
            out.append(criterion)
    return out


def request_diff(recorded: Mapping[str, Any], actual: Mapping[str, Any], *, recorded_label: str) -> str:
    """A unified diff of two requests, one key per line, for failure messages."""
    before = json.dumps(recorded, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    after = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    lines = difflib.unified_diff(
        before, after, fromfile=recorded_label, tofile="actual call", lineterm="", n=2
    )
    return "\n".join(lines)


def _unset(value: object) -> bool:
    return value is None or value == () or value == [] or value == ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
