"""Chain steps as text: the JSON-safe step record and the fixed-width chain table.

Shared by the assertion messages (library) and the plugin's report sections, so a failing assertion and the
report show a chain the same way. Plain data in, text out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from pytest_claude_sessions.models import SessionInfo

__all__ = ["PROMPT_EXCERPT", "excerpt", "format_chain", "format_table", "money", "step_record"]

PROMPT_EXCERPT: Final = 40


def excerpt(text: str | None, width: int = PROMPT_EXCERPT) -> str:
    """One line of at most ``width`` characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def money(value: float | None) -> str:
    """A cost in dollars with four decimals, ``-`` when unknown."""
    return "-" if value is None else f"${value:.4f}"


def step_record(info: SessionInfo) -> dict[str, Any]:
    """One chain step as a JSON-safe dict (the fields a report needs; the prompt is already redacted)."""
    meta = info.metadata or {}
    return {
        "step": info.interaction_count,
        "kind": info.kind,
        "session_id": info.session_id,
        "parent_session_id": info.parent_session_id,
        "prompt": excerpt(info.last_prompt, 120),
        "cost_usd": info.cost_usd,
        "num_turns": info.num_turns,
        "duration_ms": info.duration_ms,
        "is_error": bool(info.is_error),
        "error": info.error,
        "transcript_path": info.transcript_path,
        "leaf_uuid": meta.get("leaf_uuid"),
        "replayed": bool(meta.get("replayed", False)),
        "model": info.model,
        "cli_version": info.cli_version,
    }


def format_table(rows: Sequence[Mapping[str, Any]], *, with_transcripts: bool = True) -> str:
    """A compact fixed-width table of chain steps: #, kind, session, parent, prompt, cost, turns, error."""
    header = ["#", "kind", "session id", "parent", "prompt", "cost", "turns", "error"]
    if with_transcripts:
        header.append("transcript")
    table = [header]
    for row in rows:
        line = [
            str(row.get("step", "")),
            str(row.get("kind", "")),
            str(row.get("session_id") or "-"),
            str(row.get("parent_session_id") or "-"),
            repr(excerpt(row.get("prompt"), 30)),
            money(row.get("cost_usd")),
            "-" if row.get("num_turns") is None else str(row["num_turns"]),
            excerpt(row.get("error"), 40) if row.get("is_error") or row.get("error") else "-",
        ]
        if with_transcripts:
            line.append(str(row.get("transcript_path") or "-"))
        table.append(line)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table)


def format_chain(steps: Iterable[SessionInfo]) -> str:
    """The chain as a compact table: #, kind, session id, parent, prompt excerpt, cost, turns, error."""
    return format_table([step_record(s) for s in steps], with_transcripts=False)
