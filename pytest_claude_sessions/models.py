"""Plain data: one step of a session chain (:class:`SessionInfo`) and one CLI call (:class:`ClaudeResult`).

Nothing here touches files, processes or pytest; everything round-trips through JSON.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

__all__ = [
    "FALSE_WORDS",
    "STEP_KINDS",
    "TRUE_WORDS",
    "ClaudeResult",
    "CliCall",
    "CliOutcome",
    "SessionInfo",
    "StepKind",
    "parse_switch",
    "parse_timestamp",
    "utcnow",
]

StepKind = Literal["new", "resume", "continue", "fork"]
STEP_KINDS: tuple[str, ...] = get_args(StepKind)

# The one set of switch words (env vars, ini keys, options): matched after strip() and lower().
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_switch(text: str) -> bool | None:
    """``True``/``False`` for a switch word (:data:`TRUE_WORDS`, :data:`FALSE_WORDS`), else ``None``."""
    word = text.strip().lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def parse_timestamp(value: object) -> datetime:
    """Parse an ISO timestamp (``Z`` suffix or naive allowed, naive means UTC) or a POSIX number."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


@dataclass
class SessionInfo:
    """One step of an agent's chain: a Claude session id and what happened in that call.

    ``interaction_count`` is the step's 1-based position in the agent's chain; the store assigns it under
    its lock, so it has no gap and no repeat even with many writers. ``cost_usd`` is this step's own cost;
    ``total_cost_usd`` is the CLI's cumulative figure for the session.
    """

    session_id: str
    created_at: datetime
    interaction_count: int
    last_prompt: str
    last_response: str
    metadata: dict[str, Any] | None = None
    kind: StepKind = "new"
    parent_session_id: str | None = None
    cost_usd: float | None = None
    num_turns: int | None = None
    duration_ms: int | None = None
    usage: dict[str, Any] | None = None
    is_error: bool = False
    cli_version: str | None = None
    cwd: str | None = None
    # beyond the original design
    agent_id: str | None = None
    step_id: str | None = None  # unique id of the step: makes export/merge idempotent
    total_cost_usd: float | None = None
    model: str | None = None
    transcript_path: str | None = None
    error: str | None = None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys read from disk, kept verbatim

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (``created_at`` as ISO-8601 with offset); unknown keys read earlier come back."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name == "created_at":
                value = value.isoformat()
            elif isinstance(value, dict | list):
                value = copy.deepcopy(value)
            out[f.name] = value
        for key, value in self.extra.items():
            out.setdefault(key, copy.deepcopy(value))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionInfo:
        """Build from :meth:`to_dict` output or an older record; never mutates ``data``.

        Raises ``ValueError`` (naming the key) for a record that lacks ``session_id`` or has bad types.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a session record must be a JSON object, got {type(data).__name__}")
        # Immutable leaves are shared as they are; only containers are copied (deepcopy of the whole record
        # dominated the load of a long chain).
        atomic = (str, int, float, bool, type(None))
        src = {k: v if type(v) in atomic else copy.deepcopy(v) for k, v in data.items()}
        known = cls.__dataclass_fields__  # a mapping: cheaper than dataclasses.fields() per record
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in src.items():
            if key in known and key != "extra":
                kwargs[key] = value
            else:
                extra[key] = value
        if not isinstance(kwargs.get("session_id"), str):
            raise ValueError(f"session record has no string 'session_id': {_short(data)}")
        try:
            kwargs["created_at"] = parse_timestamp(kwargs.get("created_at", 0))
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"session record has a bad 'created_at': {_short(data)}") from exc
        count = kwargs.get("interaction_count", 0)
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"session record has a bad 'interaction_count': {_short(data)}")
        kwargs["interaction_count"] = count
        for text_key in ("last_prompt", "last_response"):
            value = kwargs.get(text_key)
            kwargs[text_key] = "" if value is None else str(value)
        kind = kwargs.get("kind") or "new"
        if kind not in STEP_KINDS:
            raise ValueError(f"session record has an unknown 'kind' {kind!r}: {_short(data)}")
        kwargs["kind"] = kind
        kwargs["is_error"] = bool(kwargs.get("is_error", False))
        kwargs["extra"] = extra
        return cls(**kwargs)


def _short(data: object) -> str:
    text = repr(data)
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass
class ClaudeResult:
    """The typed outcome of one ``claude -p`` call.

    Success is ``ok``: exit code 0 and not ``is_error`` (API errors report ``subtype == "success"``).
    ``total_cost_usd`` is the CLI's cumulative figure for the session; ``cost_usd`` this call's own share.
    """

    session_id: str | None
    result: str | None
    is_error: bool
    subtype: str | None
    terminal_reason: str | None = None
    num_turns: int | None = None
    duration_ms: int | None = None
    duration_api_ms: int | None = None
    total_cost_usd: float | None = None
    cost_usd: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    model_usage: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    api_error_status: int | None = None
    api_error_type: str | None = None
    stop_reason: str | None = None
    kind: StepKind = "new"
    parent_session_id: str | None = None
    cli_version: str | None = None
    model: str | None = None
    transcript_path: Path | None = None
    prompt: str = ""
    argv: list[str] = field(default_factory=list)
    returncode: int | None = None
    stderr: str = ""
    elapsed: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)  # stream-json events, in order
    replayed: bool = False  # True when the result came from a cassette, not a live CLI
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Exit code 0 and no ``is_error``: the only honest definition of success."""
        return self.returncode == 0 and not self.is_error

    @property
    def error_message(self) -> str | None:
        """The error text for a failed call (``result`` or ``errors``), else ``None``."""
        if self.ok:
            return None
        if self.errors:
            return "; ".join(self.errors)
        return self.result or self.stderr.strip() or f"exit code {self.returncode}"


# --------------------------------------------------------------------------- the CLI boundary
# A client (the executor, the interposed claude) builds a CliCall; something runs it (the real process, or a
# cassette's replay) and hands back a CliOutcome; executor.core turns an outcome into a ClaudeResult and a
# step. Record/replay hooks in between (see pytest_claude_sessions.executor.core).


@dataclass
class CliCall:
    """One CLI invocation as it is about to run: built by the executor, or read from an argv by
    :func:`pytest_claude_sessions.executor.core.invocation` (the interposed ``claude``)."""

    argv: list[str]  # the full command line, binary first; never passed to a shell
    prompt: str
    kind: StepKind
    cwd: Path
    config_dir: Path  # where this call's transcripts go (CLAUDE_CONFIG_DIR, or ~/.claude when not isolated)
    env: dict[str, str]  # the complete environment the process gets
    timeout: float
    output_format: str = "json"
    resume: str | None = None  # --resume <id>
    session_id: str | None = None  # --session-id <id>
    fork: bool = False
    continue_: bool = False
    # behaviour-changing flags, normalized (sorted tool lists, None when unset): model, max_turns,
    # allowed_tools, disallowed_tools, permission_mode, system_prompt, append_system_prompt, extra_args
    options: dict[str, Any] = field(default_factory=dict)
    stdin: bytes | None = None  # what the process reads on stdin; None: /dev/null (the executor's calls)


@dataclass(frozen=True)
class TranscriptFacts:
    """What a call left in its session's transcript: known to whoever wrote or collected the records
    (a replay, a recording), so nobody scans the file again for them."""

    path: Path
    leaf_uuid: str | None = None
    cli_version: str | None = None
    total_cost_usd: float | None = None


@dataclass
class CliOutcome:
    """What the process did: exit code, stdout and stderr (a capped head and tail when it printed more
    than the capture keeps: ``stdout_dropped``/``stderr_dropped`` bytes were left out), wall time."""

    returncode: int | None
    stdout: str
    stderr: str
    elapsed: float
    timed_out: bool = False
    replayed: bool = False
    transcript: TranscriptFacts | None = None
    stdout_dropped: int = 0
    stderr_dropped: int = 0
    # The duplex protocol (``--input-format stream-json``): each line the caller wrote to stdin, as
    # ``{"after": <stdout lines before it>, "message": {...}}`` (or ``"text"``), and
    # ``{"after": n, "eof": true}`` where it closed stdin. ``None`` for a ``-p`` call.
    stdin_events: list[dict[str, Any]] | None = None
