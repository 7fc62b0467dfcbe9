"""Turning one CLI outcome into a :class:`~pytest_claude_sessions.models.ClaudeResult`, or into the error
it really is.

Live and replayed outcomes go through the same code, so a cassette replays the same results and errors.
What needs the file system (the transcript, its cost-state, ``claude --version``) is looked up by the
executor and passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_claude_sessions.errors import (
    ClaudeEmptyOutputError,
    ClaudeOutputError,
    ClaudeProcessError,
    ClaudeTimeoutError,
)
from pytest_claude_sessions.executor.parsing import (
    OutputParseError,
    as_dict,
    as_float,
    as_int,
    as_str,
    as_str_list,
    decode_json_result,
    decode_stream,
    init_event,
    last_result_event,
    model_from,
)
from pytest_claude_sessions.ids import is_session_id
from pytest_claude_sessions.models import ClaudeResult, CliCall, CliOutcome, StepKind
from pytest_claude_sessions.redact import Redactor

__all__ = ["ParsedOutcome", "build_result", "call_cost", "parse_outcome"]


@dataclass(frozen=True)
class ParsedOutcome:
    """The result object of a call that produced one, with its stream events and ``init`` event."""

    payload: dict[str, Any]
    events: list[dict[str, Any]]
    init: dict[str, Any] | None

    @property
    def session_id(self) -> str | None:
        from_init = as_str(self.init.get("session_id")) if self.init else None
        return as_str(self.payload.get("session_id")) or from_init

    @property
    def cli_version(self) -> str | None:
        return as_str(self.init.get("claude_code_version")) if self.init else None


def parse_outcome(call: CliCall, outcome: CliOutcome, *, redactor: Redactor | None = None) -> ParsedOutcome:
    """The result object of ``outcome``; raises what the outcome really is when there is none.

    Raises ClaudeTimeoutError (partial output kept), ClaudeEmptyOutputError (exit 0 with nothing printed:
    the CLI does that on SIGINT, so it is never a success), ClaudeOutputError (hostile nesting, or output
    beyond the capture's limits) and ClaudeProcessError (no JSON result, e.g. an unknown session: rc 1
    and the reason on stderr). ``redactor`` cleans the argv and output tails in the error's text.
    """
    __tracebackhide__ = True  # user-facing errors: pytest shows the caller's line, not this helper
    where = f"(cwd {call.cwd}, config {call.config_dir})"

    def error(kind: type[ClaudeProcessError], message: str) -> ClaudeProcessError:
        return kind(
            message,
            argv=call.argv,
            returncode=outcome.returncode,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            redactor=redactor,
        )

    if outcome.timed_out:
        raise ClaudeTimeoutError(
            call.timeout, argv=call.argv, stdout=outcome.stdout, stderr=outcome.stderr, redactor=redactor
        )
    try:
        events = decode_stream(outcome.stdout, strict=True) if call.output_format == "stream-json" else []
        payload = last_result_event(events) if events else decode_json_result(outcome.stdout)
    except OutputParseError as exc:
        raise error(
            ClaudeOutputError, f"the claude CLI printed output that cannot be parsed safely ({exc}) {where}"
        ) from None
    if payload is not None:
        return ParsedOutcome(payload, events, init_event(events))
    if outcome.stdout_dropped:
        raise error(
            ClaudeOutputError,
            f"the claude CLI printed more than the capture keeps ({outcome.stdout_dropped} bytes of stdout "
            f"dropped) and what was kept holds no JSON result {where}",
        )
    if not outcome.stdout.strip() and outcome.returncode == 0:
        raise error(
            ClaudeEmptyOutputError,
            f"the claude CLI exited 0 but printed nothing {where}; it does this when interrupted "
            "(SIGINT), so this is not a success",
        )
    raise error(
        ClaudeProcessError,
        f"the claude CLI exited with code {outcome.returncode} without a JSON result {where}",
    )


def call_cost(
    kind: StepKind, parent: str | None, total: float | None, previous_total: float | None
) -> float | None:
    """This call's own cost from the CLI's ``total_cost_usd``, which is cumulative across resume and fork.

    A new session (or ``--continue`` with nothing to continue) costs its total; any other call costs its
    total minus the parent's total before it, unknown (``None``) when that is unknown.
    """
    if total is None:
        return None
    if kind == "new" or (kind == "continue" and parent is None):
        return total
    if previous_total is None:
        return None
    return max(0.0, round(total - previous_total, 12))


def build_result(
    call: CliCall,
    outcome: CliOutcome,
    parsed: ParsedOutcome,
    *,
    parent_session_id: str | None,
    previous_total: float | None,
    cli_version: str | None,
    transcript_path: Path | None,
) -> ClaudeResult:
    """The :class:`ClaudeResult` of a parsed outcome (``parent_session_id``: the session continued or
    forked; ``previous_total``: its cumulative cost before this call)."""
    payload, session_id = parsed.payload, parsed.session_id
    parent = parent_session_id
    if call.kind == "resume" and parent is not None and not is_session_id(parent):
        parent = session_id  # resumed by title: the session keeps its id
    total = as_float(payload.get("total_cost_usd"))
    return ClaudeResult(
        session_id=session_id,
        result=as_str(payload.get("result")),
        is_error=bool(payload.get("is_error")),
        subtype=as_str(payload.get("subtype")),
        terminal_reason=as_str(payload.get("terminal_reason")),
        num_turns=as_int(payload.get("num_turns")),
        duration_ms=as_int(payload.get("duration_ms")),
        duration_api_ms=as_int(payload.get("duration_api_ms")),
        total_cost_usd=total,
        cost_usd=call_cost(call.kind, parent, total, previous_total),
        usage=as_dict(payload.get("usage")),
        model_usage=as_dict(payload.get("modelUsage")),
        errors=as_str_list(payload.get("errors")),
        api_error_status=as_int(payload.get("api_error_status")),
        api_error_type=as_str(payload.get("api_error_type")),
        stop_reason=as_str(payload.get("stop_reason")),
        kind=call.kind,
        parent_session_id=parent,
        cli_version=cli_version,
        model=model_from(payload, parsed.init, call.options.get("model")),
        transcript_path=transcript_path,
        prompt=call.prompt,
        argv=list(call.argv),
        returncode=outcome.returncode,
        stderr=outcome.stderr,
        elapsed=outcome.elapsed,
        events=parsed.events,
        replayed=outcome.replayed,
        raw=payload,
    )
