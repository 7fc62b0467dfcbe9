"""Figures about one transcript (message counts, prompts, models, cost, time span), gathered during a scan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pytest_claude_sessions.models import parse_timestamp
from pytest_claude_sessions.transcripts.scan import CHAIN_NODE_TYPES, Scan

__all__ = ["DEFAULT_MAX_PROMPTS", "MAX_PROMPT_CHARS", "InfoCollector", "session_info"]

DEFAULT_MAX_PROMPTS: Final = 200
MAX_PROMPT_CHARS: Final = 10_000


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
class InfoCollector:
    """Accumulates :meth:`SessionValidator.get_session_info` figures; pass it as a scan's ``on_record``."""

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
        self._timestamp(rec.get("timestamp"))
        if rtype == "cost-state":
            cost = rec.get("totalCostUSD")
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                self.total_cost_usd = float(cost)
            return
        if rtype not in CHAIN_NODE_TYPES:
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
            self._user(rec, message)
        elif rtype == "assistant":
            self._assistant(rec, message)

    def _timestamp(self, ts: object) -> None:
        if not isinstance(ts, str):
            return
        try:
            when = parse_timestamp(ts)
        except ValueError:
            return
        if self.first_ts is None or when < self.first_ts:
            self.first_ts = when
        if self.last_ts is None or when > self.last_ts:
            self.last_ts = when

    def _user(self, rec: dict[str, Any], message: dict[str, Any]) -> None:
        if rec.get("isMeta") is True or rec.get("isCompactSummary") is True:
            return
        self.user_messages += 1
        text = _prompt_text(message.get("content"))
        if text is not None:
            self.prompt_count += 1
            self.last_prompt = text
            if len(self.prompts) < self.max_prompts:
                self.prompts.append(text[:MAX_PROMPT_CHARS])

    def _assistant(self, rec: dict[str, Any], message: dict[str, Any]) -> None:
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


def session_info(session_id: str, path: Path, scan: Scan, collector: InfoCollector) -> dict[str, Any]:
    """The :meth:`SessionValidator.get_session_info` dict of a valid transcript (see the README)."""
    try:
        size: int | None = path.stat().st_size
    except OSError:
        size = None
    assistant = len(collector.assistant_message_ids) + collector.assistant_records_without_id
    return {
        "session_id": session_id,
        "file_path": str(path),
        "project": path.parent.name,
        "size_bytes": size,
        "line_count": scan.line_count,
        "message_count": collector.user_messages + assistant,
        "user_message_count": collector.user_messages,
        "assistant_message_count": assistant,
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
