"""The one core every client of a CLI run shares: tracking, recording and replaying a ``claude`` process.

Two clients use it: :class:`~pytest_claude_sessions.executor.executor.ClaudeExecutor` (it lays out the
argv itself) and the interposed ``claude`` of :mod:`pytest_claude_sessions.intercept` (it gets an argv the
code under test built). Both go down the same floors, once per call::

    CliCall ──► dispatch / adispatch ──► CliOutcome ──► CallCore.complete ──► ClaudeResult + one step
             (cassette replay, or the live
              process recorded on the way)

The seam, in four names:

- :func:`invocation` turns an argv (plus stdin bytes, environment, cwd, config dir, timeout) into a
  :class:`~pytest_claude_sessions.models.CliCall`, reading the options back through the same table that
  lays them out (:func:`~pytest_claude_sessions.executor.options.parse_argv`): one request format, so one
  cassette format and one matching for both clients.
- :class:`CallInterceptor` is what a cassette implements
  (:class:`~pytest_claude_sessions.cassettes.recorder.CassetteInterceptor`): it gets each call and answers it
  from the recording, or runs it through ``proceed`` (the live process) and records it. :func:`dispatch`
  and :func:`adispatch` route a call through it (or straight to ``proceed`` without one).
- :class:`CallCore` is the one place that turns a finished CLI run into tracker steps. Before the call,
  :meth:`CallCore.before` finds the parent session and its cumulative cost (``total_cost_usd`` is cumulative
  across resume and fork) from the chain that is already known: the tracker's steps and the results this
  core completed; only a session the chain does not know costs a transcript read. After the call,
  :meth:`CallCore.complete` parses the outcome, takes the transcript facts the replay or recording already
  had (:class:`~pytest_claude_sessions.models.TranscriptFacts`), or reads the transcript once, builds the
  :class:`~pytest_claude_sessions.models.ClaudeResult` and records the step.
- :func:`~pytest_claude_sessions.executor.capture.Capture` (in :mod:`.capture`) keeps a capped head and tail
  of a process's output, for any client that pipes one.

A run that holds several results (the Agent SDK's duplex mode: one process, several ``query()`` turns) is
completed once per result: :func:`~pytest_claude_sessions.executor.results.parse_outcome` on each turn's
slice of the output, then :meth:`CallCore.complete` with that ``parsed``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pytest_claude_sessions.errors import ClaudeSessionsError
from pytest_claude_sessions.executor.options import parse_argv
from pytest_claude_sessions.executor.parsing import as_float, as_str
from pytest_claude_sessions.executor.results import ParsedOutcome, build_result, parse_outcome
from pytest_claude_sessions.ids import is_session_id
from pytest_claude_sessions.models import (
    ClaudeResult,
    CliCall,
    CliOutcome,
    SessionInfo,
    StepKind,
    TranscriptFacts,
)
from pytest_claude_sessions.redact import Redactor, env_secrets
from pytest_claude_sessions.transcripts.validator import SessionValidator

if TYPE_CHECKING:
    from pytest_claude_sessions.store.tracker import SessionTracker

__all__ = [
    "Before",
    "CallCore",
    "CallInterceptor",
    "Proceed",
    "adispatch",
    "dispatch",
    "invocation",
]

Proceed = Callable[[CliCall], CliOutcome]
AsyncProceed = Callable[[CliCall], Awaitable[CliOutcome]]


class CallInterceptor(Protocol):
    """The record/replay seam: get each call and either run it (``proceed``) or answer it from elsewhere.

    ``proceed`` runs the real process (and only it needs the binary or passes the guards).
    """

    def intercept(self, call: CliCall, proceed: Proceed) -> CliOutcome: ...

    async def aintercept(self, call: CliCall, proceed: AsyncProceed) -> CliOutcome: ...


def dispatch(call: CliCall, proceed: Proceed, interceptor: CallInterceptor | None) -> CliOutcome:
    """The call's outcome: from the interceptor (replayed, or run through ``proceed`` and recorded), or
    from ``proceed`` directly when there is no interceptor."""
    __tracebackhide__ = True
    return interceptor.intercept(call, proceed) if interceptor is not None else proceed(call)


async def adispatch(call: CliCall, proceed: AsyncProceed, interceptor: CallInterceptor | None) -> CliOutcome:
    """:func:`dispatch` for asyncio."""
    __tracebackhide__ = True
    if interceptor is not None:
        return await interceptor.aintercept(call, proceed)
    return await proceed(call)


def invocation(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    config_dir: str | os.PathLike[str],
    env: Mapping[str, str],
    timeout: float,
    stdin: bytes | None = None,
) -> CliCall:
    """The :class:`CliCall` of an argv someone else laid out (binary first), e.g. what the code under test
    passed to the interposed ``claude``. The prompt is the positional argument, else ``stdin`` decoded
    (the ``-p`` form reading the prompt from stdin); flags the option table does not know stay, in order,
    in ``options["extra_args"]`` so they take part in matching."""
    parsed = parse_argv(list(argv[1:]))
    options = dict(parsed.options)
    prompt = parsed.prompt
    if prompt is None and stdin is not None and parsed.input_format != "stream-json":
        prompt = stdin.decode("utf-8", errors="replace").strip()
    return CliCall(
        argv=list(argv),
        prompt=prompt or "",
        kind=parsed.kind,
        cwd=Path(cwd).absolute(),
        config_dir=Path(config_dir).absolute(),
        env=dict(env),
        timeout=timeout,
        output_format=str(options.pop("output_format")),
        resume=options.pop("resume"),
        session_id=options.pop("session_id"),
        fork=bool(options.pop("fork")),
        continue_=bool(options.pop("continue_")),
        options=options,
        stdin=stdin,
    )


@dataclass(frozen=True)
class Before:
    """What was known before the call: the parent session and its cumulative cost at that point."""

    parent_session_id: str | None
    previous_total: float | None


def facts_from_info(info: Mapping[str, Any] | None, path: Path) -> TranscriptFacts:
    """The facts of a :meth:`SessionValidator.get_session_info` answer (``None``: an unreadable file)."""
    if info is None:
        return TranscriptFacts(path)
    return TranscriptFacts(
        path,
        leaf_uuid=as_str(info.get("leaf_uuid")),
        cli_version=as_str(info.get("cli_version")),
        total_cost_usd=as_float(info.get("total_cost_usd")),
    )


class CallCore:
    """Turns finished CLI runs into results and tracker steps, knowing the sessions the chain knows.

    ``validator`` reads the config dir's transcripts; ``tracker`` (optional) gets one step per result;
    ``redactor`` (default: the built-in rules) cleans every error text (:meth:`redact_for`).
    Sessions completed here are remembered (their last cumulative cost), so a resume or fork of one costs
    no transcript read. Thread-safe enough for the executor: the memo is a dict updated by assignment.
    """

    def __init__(
        self,
        validator: SessionValidator,
        tracker: SessionTracker | None = None,
        *,
        redactor: Redactor | None = None,
    ) -> None:
        self.validator = validator
        self.tracker = tracker
        self.redactor = redactor if redactor is not None else Redactor()
        self._totals: dict[str, float] = {}  # session id -> the last cumulative cost a result reported
        self._redacts: dict[tuple[str, ...], Redactor] = {}

    def redact_for(self, call: CliCall) -> Redactor:
        """The redaction of every text about ``call`` that leaves the process (error messages): the
        redactor's rules plus the literal values of the key variables in the call's environment."""
        key = env_secrets(call.env)
        redactor = self._redacts.get(key)
        if redactor is None:
            redactor = self._redacts[key] = self.redactor.with_env(call.env)
        return redactor

    # ----------------------------------------------------------------- before the call

    def before(self, call: CliCall) -> Before:
        """The parent session of ``call`` and its cumulative cost before it (``None``: unknown)."""
        if call.resume is not None:
            return Before(call.resume, self.session_total(call.resume, call.cwd))
        if call.continue_:
            parent = self._latest_session(call.cwd)
            return Before(parent, self.session_total(parent, call.cwd) if parent else 0.0)
        return Before(None, 0.0)

    def session_total(self, session_id: str, cwd: Path) -> float | None:
        """A session's cumulative cost so far: the chain's last known total, else its transcript's."""
        known = self._totals.get(session_id)
        if known is not None:
            return known
        for step in self._chain():
            if step.session_id == session_id and step.total_cost_usd is not None:
                return step.total_cost_usd
        if not is_session_id(session_id):  # resumed by title: only the CLI knows which file
            return None
        info = self._session_info(session_id, cwd)
        return as_float(info.get("total_cost_usd")) if info else None

    def _chain(self) -> list[SessionInfo]:
        if self.tracker is None:
            return []
        with contextlib.suppress(ClaudeSessionsError, OSError):
            return list(reversed(self.tracker.session_chain))
        return []

    def _latest_session(self, cwd: Path) -> str | None:
        """The session ``--continue`` will pick: the most recently written transcript of the cwd's project."""
        try:
            project = self.validator.project_dir(cwd)
            candidates = [(p.stat().st_mtime_ns, p.stem) for p in project.glob("*.jsonl") if p.is_file()]
        except OSError:
            return None
        return max(candidates)[1] if candidates else None

    def _session_info(self, session_id: str, cwd: Path) -> dict[str, Any] | None:
        try:
            return self.validator.get_session_info(session_id, working_dir=cwd)
        except (ClaudeSessionsError, OSError, ValueError):
            return None

    # ----------------------------------------------------------------- after the call

    def transcript_facts(self, call: CliCall, outcome: CliOutcome, session_id: str) -> TranscriptFacts | None:
        """The facts the outcome brought (a replay or recording had the records), else one transcript read."""
        facts = outcome.transcript
        if facts is not None and facts.path.name == f"{session_id}.jsonl" and facts.leaf_uuid is not None:
            return facts
        path = self.validator.find_transcript(session_id, working_dir=call.cwd)
        if path is None:
            return None
        return facts_from_info(self._session_info(session_id, call.cwd), path)

    def complete(
        self,
        call: CliCall,
        outcome: CliOutcome,
        before: Before,
        *,
        cli_version: Callable[[], str | None] = lambda: None,
        parsed: ParsedOutcome | None = None,
    ) -> ClaudeResult:
        """Parse the outcome (raising what it really is), take the transcript facts, record the step.

        ``cli_version`` is asked only when neither the output nor the transcript names the version (a live
        ``json`` call: the executor runs ``claude --version`` once). ``parsed``: one turn of a run with
        several results (see the module docstring); default: the outcome's single result.
        """
        __tracebackhide__ = True
        if parsed is None:
            parsed = parse_outcome(call, outcome, redactor=self.redact_for(call))
        session_id = parsed.session_id
        facts: TranscriptFacts | None = None
        if session_id is not None and is_session_id(session_id):  # never a path built from an odd id
            facts = self.transcript_facts(call, outcome, session_id)
        version = parsed.cli_version or (facts.cli_version if facts else None)
        if version is None and not outcome.replayed:
            version = cli_version()
        result = build_result(
            call,
            outcome,
            parsed,
            parent_session_id=before.parent_session_id,
            previous_total=before.previous_total,
            cli_version=version,
            transcript_path=facts.path if facts else None,
        )
        if session_id is not None and result.total_cost_usd is not None:
            self._totals[session_id] = result.total_cost_usd
        if self.tracker is not None and session_id is not None:
            record_step(self.tracker, call, result, facts)
        return result


def step_kind(result: ClaudeResult) -> StepKind:
    """The kind the chain records: ``--continue`` where the cwd had no session silently started a new one,
    so it is a "new" step (a tracker would otherwise take its latest step as the parent)."""
    return "new" if result.kind == "continue" and result.parent_session_id is None else result.kind


def record_step(
    tracker: SessionTracker, call: CliCall, result: ClaudeResult, facts: TranscriptFacts | None
) -> SessionInfo:
    """Append the step of one result to ``tracker`` (the one place a CLI run becomes a step)."""
    session_id = result.session_id
    assert session_id is not None
    kind = step_kind(result)
    transcript = str(result.transcript_path) if result.transcript_path is not None else None
    error = result.error_message
    metadata: dict[str, Any] = {
        "leaf_uuid": facts.leaf_uuid if facts else None,
        "output_format": call.output_format,
        "replayed": result.replayed,
        "requested_kind": result.kind,
        "kind": kind,
        "parent_session_id": result.parent_session_id,
        "cost_usd": result.cost_usd,
        "total_cost_usd": result.total_cost_usd,
        "num_turns": result.num_turns,
        "duration_ms": result.duration_ms,
        "cli_version": result.cli_version,
        "transcript_path": transcript,
        "is_error": not result.ok,
        "error": error,
        "api_error_status": result.api_error_status,
        "model": result.model,
        "cwd": str(call.cwd),
    }
    response = result.result if result.result is not None else (error or "")
    return tracker.update_session(
        session_id,
        call.prompt,
        response,
        metadata,
        kind=kind,
        parent_session_id=result.parent_session_id,
        cost_usd=result.cost_usd,
        num_turns=result.num_turns,
        duration_ms=result.duration_ms,
        usage=result.usage or None,
        is_error=not result.ok,
        cli_version=result.cli_version,
        cwd=str(call.cwd),
        total_cost_usd=result.total_cost_usd,
        model=result.model,
        transcript_path=transcript,
        error=error,
    )
