"""Record and replay Claude CLI calls per test: :class:`CassetteInterceptor` plugs into the executor's seam.

Recording keeps, per call, the normalized request, the CLI's output (json or stream-json), exit code, stderr
and the transcript records the call added. Replaying answers the call from the cassette and writes those
records back into the call's config dir, so the executor, the tracker and the continuity checks see exactly
what a live call would have produced - with no binary, no node and no network.

Modes: ``none`` (replay only; the default), ``once`` (record when the test has no cassette yet),
``new_episodes`` (replay matches, record the rest and append), ``all`` (always call the CLI; a passing run
that recorded something replaces the cassette) and ``rewrite`` (record from scratch: a passing run replaces
the cassette with what it recorded, or removes it when the test made no call). The old cassette stays on disk
until a passing run saves the new one: a failing or skipped test never loses it.

``new_episodes`` heals a cassette after a change: a recorded interaction that this run did not replay, at
the position where the run recorded a new call (the prompt or a flag changed), is *superseded*: it is
dropped on save and never counts as unused. Recorded interactions the test no longer reaches still do.
With ``allow_unused`` (a cassette shared by tests) new_episodes only adds and drops nothing.

Cassettes are slim by default (``slim=True``): the CLI's wire-debugging records are dropped and long
attachment fields (its system prompt and tool list) elided from recorded transcripts - ~5x smaller files,
the chain, every prompt and answer intact. ``slim=False`` keeps every record byte for byte.

Under replay nothing reaches the CLI or the API: a stub the test started gets no request.
:attr:`CassetteInterceptor.replaying` (and each result's ``replayed``) tells a test which case it is in.

PYTEST_DONT_REWRITE: no assert here relies on pytest's assert rewriting (skipping it keeps imports cheap).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_claude_sessions.cassettes.files import (
    CASSETTE_FORMAT,
    CASSETTE_VERSION,
    CassetteCorruptError,
    atomic_write_text,
    cassette_lock,
    dump_cassette,
    load_cassette_data,
)
from pytest_claude_sessions.cassettes.interactions import (
    cli_version_of,
    interaction_id,
    model_of,
    own_chunks,
    render_stdout,
    session_of,
    split_stdout,
)
from pytest_claude_sessions.cassettes.matching import (
    DEFAULT_MATCHERS,
    MatcherTable,
    closest,
    normalize_request,
    request_diff,
)
from pytest_claude_sessions.cassettes.modes import RECORD_MODES, RecordMode, parse_record_mode
from pytest_claude_sessions.cassettes.scrub import SECRET_ENV_VARS, CallScrubber, CassetteScrubber
from pytest_claude_sessions.cassettes.transcript_records import (
    TranscriptChunk,
    apply_chunks,
    collect_chunks,
    facts_of,
    render_lines,
    session_file_of,
    slim_lines,
    snapshot_sizes,
)
from pytest_claude_sessions.errors import (
    CassetteError,
    CassetteMismatchError,
    CassetteMissError,
    CassetteUnusedError,
    CassetteVersionWarning,
)
from pytest_claude_sessions.models import CliCall, CliOutcome, utcnow
from pytest_claude_sessions.version import __version__

__all__ = [
    "RECORD_MODES",
    "CassetteCorruptError",
    "CassetteInterceptor",
    "CassetteReport",
    "CassetteUnusedError",
    "CassetteVersionWarning",
    "RecordMode",
    "parse_record_mode",
    "use_cassette",
]


_SCRUBBER_ENV = ("TMPDIR", "XDG_RUNTIME_DIR", "HOME", *SECRET_ENV_VARS)


@dataclass
class CassetteReport:
    """What :meth:`CassetteInterceptor.finish` did: saved or not (and why), what was replayed and recorded.

    ``cli_version``/``recorded_at``: the cassette's provenance (its header after the save, else as loaded);
    ``cli_versions``: every CLI version its interactions were recorded with (more than one after appends).
    """

    path: Path
    mode: RecordMode
    replayed: int = 0
    recorded: int = 0
    saved: bool = False
    not_saved_reason: str | None = None
    unused: list[int] = field(default_factory=list)  # 1-based positions of recorded interactions never used
    superseded: list[int] = field(default_factory=list)  # new_episodes: replaced by a re-recorded call
    removed: bool = False  # rewrite: a passing test made no call, so its old cassette was deleted
    cli_version: str | None = None
    recorded_at: str | None = None
    cli_versions: list[str] = field(default_factory=list)
    # Calls that found no recorded match: position, the (scrubbed) request, match_on and the session ids
    # mapped so far. ``claude-sessions why`` explains them from the run's report.json.
    misses: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (for xdist reports)."""
        return {
            "path": str(self.path),
            "mode": self.mode,
            "replayed": self.replayed,
            "recorded": self.recorded,
            "saved": self.saved,
            "not_saved_reason": self.not_saved_reason,
            "unused": list(self.unused),
            "superseded": list(self.superseded),
            "removed": self.removed,
            "cli_version": self.cli_version,
            "recorded_at": self.recorded_at,
            "cli_versions": list(self.cli_versions),
            "misses": [dict(m) for m in self.misses],
        }


@dataclass
class _Plan:
    position: int  # 1-based number of this call within the test
    request: dict[str, Any]
    scrubber: CallScrubber
    replay_index: int | None = None  # index into the recorded interactions, or None: record


class CassetteInterceptor:
    """A per-test cassette implementing the executor's ``CallInterceptor`` protocol.

    ``record_command``: the shell command that re-runs this test (e.g. ``pytest 'tests/t.py::test_x'``);
    error messages append the ``--claude-record-mode`` that fixes them. ``redact_patterns`` add regexes
    whose matches never reach the file; ``scrubber`` replaces the whole redaction set-up. ``slim`` (the
    default) drops the CLI's wire-debugging records and elides long texts in attachments (its system prompt
    and tool list) from recorded transcripts: ~5x smaller cassettes, the chain and every prompt/answer
    intact; ``slim=False`` records every transcript record whole (a test that reads those records).
    ``matchers``: the table ``match_on`` names come from (default: the process-wide one that
    :func:`~pytest_claude_sessions.cassettes.matching.register_matcher` extends).
    Use it for one test: create, pass to ``ClaudeExecutor(interceptor=...)``, then call :meth:`finish`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        mode: RecordMode | str = "none",
        match_on: str | Iterable[str] | None = None,
        allow_unused: bool = False,
        record_on_failure: bool = False,
        node_id: str | None = None,
        record_command: str | None = None,
        redact_patterns: Iterable[str] = (),
        scrubber: CassetteScrubber | None = None,
        lock_timeout: float = 60.0,
        fsync: bool = True,
        slim: bool = True,
        matchers: MatcherTable | None = None,
    ) -> None:
        __tracebackhide__ = True  # a damaged cassette is the test's failure: show its message, not this
        self.path = Path(path)
        self.mode: RecordMode = parse_record_mode(mode)
        self.matchers = matchers if matchers is not None else DEFAULT_MATCHERS
        self.match_on = self.matchers.normalize(match_on)
        self.allow_unused = allow_unused
        self.record_on_failure = record_on_failure
        self.node_id = node_id
        self.record_command = record_command
        self.scrubber = scrubber or CassetteScrubber.create(patterns=redact_patterns)
        self.lock_timeout = lock_timeout
        self.fsync = fsync
        self.slim = slim
        self._lock = threading.Lock()
        self._calls = 0
        self._used: set[int] = set()
        self._replayed_at: dict[int, int] = {}  # call position -> index of the interaction it replayed
        self._cwds: list[str] = []  # the test's working directories in first-use order ({{PCS_CWD}}, _2, …)
        self._new: list[dict[str, Any]] = []
        self._replayed = 0
        self._errors: list[CassetteError] = []
        self._misses: list[dict[str, Any]] = []
        self._to_actual: dict[str, str] = {}  # recorded session id -> the id the test supplied this run
        self._to_recorded: dict[str, str] = {}
        self._finished: CassetteReport | None = None
        self._version_warned = False
        self._scrubbers: dict[tuple[Any, ...], CallScrubber] = {}
        self._made: set[Path] = set()  # transcript directories a replay made (no mkdir for the next)
        if self.mode == "rewrite":
            # Nothing is replayed, and the old file stays until a passing run saves the new one; a file
            # that cannot be read is what rewrite is for, so it is not an error here.
            try:
                old = load_cassette_data(self.path)
            except CassetteCorruptError:
                old = None
            self.existed = False
            self.header: dict[str, Any] = dict(old.get("header") or {}) if old else {}
            self.interactions: list[dict[str, Any]] = []
            return
        data = load_cassette_data(self.path)  # a corrupt file fails right here, naming it
        self.existed = data is not None
        self.header = dict(data.get("header") or {}) if data else {}
        self.interactions = list(data["interactions"]) if data else []

    def __repr__(self) -> str:
        return (
            f"CassetteInterceptor({str(self.path)!r}, mode={self.mode!r}, recorded={len(self.interactions)})"
        )

    # ----------------------------------------------------------------- the executor's seam

    def intercept(self, call: CliCall, proceed: Callable[[CliCall], CliOutcome]) -> CliOutcome:
        """Answer ``call`` from the cassette, or run it (``proceed``) and record it."""
        __tracebackhide__ = True  # a mismatch is the test's failure: show its message, not this module
        plan = self._plan(call)
        if plan.replay_index is not None:
            return self._replay(call, plan)
        before = snapshot_sizes(call.config_dir)
        started = time.perf_counter()
        outcome = proceed(call)
        return self._record(call, plan, outcome, before, time.perf_counter() - started)

    async def aintercept(
        self, call: CliCall, proceed: Callable[[CliCall], Awaitable[CliOutcome]]
    ) -> CliOutcome:
        """:meth:`intercept` for ``arun``."""
        __tracebackhide__ = True
        plan = self._plan(call)
        if plan.replay_index is not None:
            return self._replay(call, plan)
        before = snapshot_sizes(call.config_dir)
        started = time.perf_counter()
        outcome = await proceed(call)
        return self._record(call, plan, outcome, before, time.perf_counter() - started)

    # ----------------------------------------------------------------- deciding

    @property
    def records(self) -> bool:
        """Whether calls that find no recorded match go to the CLI (and get recorded)."""
        return self.mode in ("all", "rewrite", "new_episodes") or (self.mode == "once" and not self.existed)

    @property
    def replaying(self) -> bool:
        """Whether every call of this test is answered from the cassette (mode ``none``, or ``once`` with a
        cassette on disk): then no call reaches the CLI, and a ``claude_api_stub`` gets no request.

        Guard assertions on stub traffic with it (``if not claude_cassette.replaying: ...``); under
        ``new_episodes`` some calls may replay and others run: check each result's ``replayed`` instead.
        """
        return not self.records

    @property
    def replayed_calls(self) -> int:
        """How many calls were answered from the cassette so far."""
        return self._replayed

    def _plan(self, call: CliCall) -> _Plan:
        __tracebackhide__ = True
        with self._lock:
            cwd = str(call.cwd)
            if cwd not in self._cwds:
                self._cwds.append(cwd)
            cwds = list(self._cwds)
        scrubber = self._call_scrubber(call, cwds)
        request = scrubber.scrub(normalize_request(call))
        with self._lock:
            self._calls += 1
            plan = _Plan(self._calls, request, scrubber)
            if self.mode in ("all", "rewrite") or (self.mode == "once" and not self.existed):
                return plan
            unused = [i for i in range(len(self.interactions)) if i not in self._used]
            strict = "order" in self.match_on and self.mode != "new_episodes"
            candidates = unused[:1] if strict else unused
            diffs: list[tuple[int, list[str]]] = []
            for index in candidates:
                differ = self.matchers.differences(
                    self.interactions[index].get("request") or {},
                    request,
                    self.match_on,
                    ids=self._to_recorded,
                )
                if not differ:
                    self._used.add(index)
                    self._replayed_at[plan.position] = index
                    plan.replay_index = index
                    return plan
                diffs.append((index, differ))
            if self.mode == "new_episodes":
                return plan
            error = self._no_match(plan, diffs)
            self._errors.append(error)
            self._misses.append(
                {
                    "position": plan.position,
                    "request": plan.request,
                    "match_on": list(self.match_on),
                    "ids": dict(self._to_recorded),
                    "error": type(error).__name__,
                }
            )
        raise error

    def _call_scrubber(self, call: CliCall, cwds: list[str]) -> CallScrubber:
        """The call's scrubber, shared by the test's calls with the same paths and secrets (its realpath
        and slug forms are then computed once per cassette, not per call)."""
        # Only these variables shape a scrubber (its paths and literal secrets): not the whole env.
        key = (
            str(call.config_dir),
            tuple(cwds),
            tuple(call.env.get(name) for name in _SCRUBBER_ENV),
            tuple(os.environ.get(name) for name in ("HOME", *SECRET_ENV_VARS)),
        )
        with self._lock:
            scrubber = self._scrubbers.get(key)
            if scrubber is None:
                scrubber = self._scrubbers[key] = self.scrubber.for_call(call, cwds)
        return scrubber

    def _no_match(self, plan: _Plan, diffs: list[tuple[int, list[str]]]) -> CassetteError:
        request_text = json.dumps(plan.request, indent=2, sort_keys=True, ensure_ascii=False)
        if not self.existed:
            return CassetteMissError(
                f"Claude call #{plan.position} has no cassette to replay from: {self.path} does not exist "
                f"(record mode {self.mode!r} never calls the CLI).\nRequest:\n{request_text}\n"
                f"Record it with: {self._command('once')}"
            )
        if not diffs:
            return CassetteMissError(
                f"Claude call #{plan.position} has no recorded interaction left in cassette {self.path} "
                f"(it holds {len(self.interactions)}, all used; record mode {self.mode!r} never calls the "
                f"CLI).\nRequest:\n{request_text}\n"
                f"Record the new calls with: {self._command('new_episodes')}\n"
                f"or re-record the test with: {self._command('rewrite')}"
            )
        index, differ = closest(diffs)
        diff = request_diff(
            self.interactions[index].get("request") or {},
            plan.request,
            recorded_label=f"recorded interaction #{index + 1} ({self.path})",
        )
        where = "the next recorded interaction" if len(diffs) == 1 else "any unused recorded interaction"
        return CassetteMismatchError(
            f"Claude call #{plan.position} does not match {where} in cassette {self.path}; closest is "
            f"#{index + 1}, differing on: {', '.join(differ)} (match_on: {', '.join(self.match_on)}).\n"
            f"{diff}\nIf the change is intended, re-record with: {self._command('rewrite')}"
        )

    def _command(self, mode: str) -> str:
        if self.record_command:
            return f"{self.record_command} --claude-record-mode={mode}"
        # outside the plugin (use_cassette, a hand-built interceptor) only the mode argument counts
        return f"mode={mode!r} (CassetteInterceptor(..., mode={mode!r}) or use_cassette(..., mode={mode!r}))"

    # ----------------------------------------------------------------- replaying

    def _replay(self, call: CliCall, plan: _Plan) -> CliOutcome:
        __tracebackhide__ = True
        started = time.perf_counter()
        assert plan.replay_index is not None
        interaction = self.interactions[plan.replay_index]
        where = f"cassette {self.path}, interaction #{plan.replay_index + 1}"
        recorded_sid = (interaction.get("request") or {}).get("session_id")
        if call.session_id and isinstance(recorded_sid, str) and recorded_sid != call.session_id:
            with self._lock:  # the test generated a fresh --session-id: map it both ways
                self._to_actual[recorded_sid] = call.session_id
                self._to_recorded[call.session_id] = recorded_sid
        restore_json = plan.scrubber.restorer(json_text=True)
        restore_text = plan.scrubber.restorer(json_text=False)
        swap = self._swapper(self._to_actual)
        response = interaction.get("response")
        if not isinstance(response, dict):
            raise CassetteError(f"{where}: no 'response' object")
        stdout = swap(restore_json(render_stdout(response.get("stdout"), where)))
        stderr = swap(restore_text(str(response.get("stderr") or "")))
        texts = []
        chunks = []
        for n, raw in enumerate(interaction.get("transcripts") or []):
            chunk = TranscriptChunk.from_dict(raw, where=f"{where}, transcript entry {n + 1}")
            chunks.append(chunk)
            texts.append(
                (swap(restore_text(chunk.path)), chunk.mode, swap(restore_json(render_lines(chunk.lines))))
            )
        touched = apply_chunks(call.config_dir, texts, self._made)
        recorded_session = session_of(response.get("stdout") or {})
        own = session_file_of([chunk.path for chunk in chunks], recorded_session)
        facts = facts_of(touched[own], chunks[own].lines) if own is not None else None
        stdin_events = response.get("stdin")
        if isinstance(stdin_events, list):  # the duplex protocol: the caller's recorded lines, restored
            stdin_events = json.loads(swap(restore_json(json.dumps(stdin_events, ensure_ascii=False))))
        else:
            stdin_events = None
        returncode = response.get("returncode")
        with self._lock:
            self._replayed += 1
        return CliOutcome(
            returncode=returncode if isinstance(returncode, int) else None,
            stdout=stdout,
            stderr=stderr,
            elapsed=time.perf_counter() - started,
            timed_out=bool(response.get("timed_out")),
            replayed=True,
            transcript=facts,
            stdin_events=stdin_events,
        )

    @staticmethod
    def _swapper(mapping: dict[str, str]) -> Callable[[str], str]:
        pairs = list(mapping.items())

        def swap(text: str) -> str:
            for old, new in pairs:
                text = text.replace(old, new)
            return text

        return swap

    # ----------------------------------------------------------------- recording

    def _record(
        self, call: CliCall, plan: _Plan, outcome: CliOutcome, before: dict[str, int], elapsed: float
    ) -> CliOutcome:
        """Keep the call's interaction for the save; the outcome gets the facts of the records collected."""
        scrub = plan.scrubber
        stdout = split_stdout(outcome.stdout)
        session = session_of(stdout)
        chunks = own_chunks(collect_chunks(call.config_dir, before), session)
        own = session_file_of([chunk.path for chunk in chunks], session)
        if own is not None and chunks[own].mode == "create":  # the whole file: its facts are complete
            path = call.config_dir / "projects" / chunks[own].path
            outcome = dataclasses.replace(outcome, transcript=facts_of(path, chunks[own].lines))
        entry: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "position": plan.position,
            "recorded_at": utcnow().isoformat(),
            "request": plan.request,
            "response": {
                "returncode": outcome.returncode,
                "stdout": scrub.scrub(stdout),
                "stderr": scrub.scrub_text(outcome.stderr),
                "timed_out": outcome.timed_out,
                "elapsed": round(outcome.elapsed or elapsed, 3),
                **({"stdin": scrub.scrub(outcome.stdin_events)} if outcome.stdin_events is not None else {}),
            },
            "transcripts": [
                {
                    "path": scrub.scrub_text(c.path),
                    "mode": c.mode,
                    "lines": scrub.scrub(slim_lines(c.lines) if self.slim else c.lines),
                }
                for c in chunks
            ],
            "cli_version": cli_version_of(stdout, chunks),
            "model": model_of(stdout, call),
        }
        with self._lock:
            if self._to_recorded:  # keep the cassette in the recorded id space when earlier calls were mapped
                text = self._swapper(self._to_recorded)(json.dumps(entry, ensure_ascii=False))
                entry = json.loads(text)
            self._new.append(entry)
            warn = self._version_change(entry.get("cli_version"))
        if warn:
            warnings.warn(CassetteVersionWarning(warn), stacklevel=2)
        return outcome

    def _version_change(self, installed: object) -> str | None:
        """The warning when the recording CLI differs from the cassette header's (once per cassette)."""
        old = self.header.get("cli_version")
        if self._version_warned or not isinstance(installed, str) or not isinstance(old, str):
            return None
        if installed == old:
            return None
        self._version_warned = True
        if self.mode == "new_episodes":
            return (
                f"cassette {self.path} was recorded with Claude CLI {old}, but the installed CLI is "
                f"{installed}: record mode 'new_episodes' appends its calls, so the cassette will mix both "
                f"versions. To re-record it whole with {installed}: {self._command('rewrite')}"
            )
        return (
            f"cassette {self.path} was recorded with Claude CLI {old}; record mode {self.mode!r} re-records "
            f"it with the installed CLI {installed} (replay differences may come from the new version)"
        )

    # ----------------------------------------------------------------- the end of the test

    def unused(self) -> list[int]:
        """1-based positions of recorded interactions this test did not replay (when it replays at all);
        superseded ones (:meth:`superseded`) are not unused: the save drops them."""
        if self.mode in ("all", "rewrite") or (self.mode == "once" and not self.existed):
            return []
        gone = set(self.superseded())
        return [i + 1 for i in range(len(self.interactions)) if i not in self._used and i + 1 not in gone]

    def superseded(self) -> list[int]:
        """``new_episodes``: 1-based positions of recorded interactions replaced by this run's recordings.

        The recorded interaction at position *n* that this run did not replay is superseded when the run's
        call *n* found no match and was recorded anew (its prompt or flags changed): VCR users expect
        new_episodes to heal such a cassette, not to leave the stale interaction failing every later run.
        With ``allow_unused`` nothing is superseded: unused interactions are then allowed (a cassette
        shared by several tests or processes), so new_episodes only ever adds.
        """
        if self.mode != "new_episodes" or self.allow_unused:
            return []
        with self._lock:
            positions = {int(entry.get("position", 0)) for entry in self._new}
            used = set(self._used)
        return [i + 1 for i in range(len(self.interactions)) if i not in used and i + 1 in positions]

    def finish(self, *, failed: bool = False, check: bool = True, skipped: bool = False) -> CassetteReport:
        """Save what was recorded (unless the test ``failed`` or was ``skipped``), then check.

        ``record_on_failure`` saves the recording of a failed test too; a skipped test never saves (it did
        not run to the end). The cassette on disk is only ever replaced by a save. With ``check`` (and a
        test that neither failed nor was skipped), raises the first replay error the test may have
        swallowed, then :class:`CassetteUnusedError` for recorded interactions left unused (unless
        ``allow_unused``). Calling it again returns the same report without saving twice.
        """
        __tracebackhide__ = True
        if self._finished is None:
            report = CassetteReport(
                self.path,
                self.mode,
                replayed=self._replayed,
                recorded=len(self._new),
                unused=self.unused(),
                superseded=self.superseded(),
                misses=list(self._misses),
            )
            if skipped:
                report.not_saved_reason = "the test was skipped" + (
                    "; the old cassette is kept" if self.path.exists() else ""
                )
            elif failed and not self.record_on_failure and (self._new or self.mode == "rewrite"):
                report.not_saved_reason = "the test failed (set record_on_failure to keep its recording)" + (
                    "; the old cassette is kept" if self.path.exists() else ""
                )
            elif not self._new:
                report.not_saved_reason = "nothing was recorded"
                if self.mode == "rewrite" and not failed and not self._errors:
                    report.removed = self._remove()
                    if report.removed:
                        report.not_saved_reason += "; the old cassette was removed (rewrite)"
            elif self._errors:
                report.not_saved_reason = "a call did not match the cassette"
            else:
                report.saved = self.save()
                if not report.saved:
                    report.not_saved_reason = "another run recorded this cassette first; kept that one"
            self._provenance(report)
            self._finished = report
        report = self._finished
        if check and not failed and not skipped:
            if self._errors:  # the test caught the replay error and went on: still a failure
                raise self._errors[0]
            if report.unused and not self.allow_unused:
                raise CassetteUnusedError(
                    f"cassette {self.path}: recorded interaction(s) #{', #'.join(map(str, report.unused))} "
                    f"of "
                    f"{len(self.interactions)} were never replayed; the test now makes fewer or other calls. "
                    f"Re-record with: {self._command('rewrite')} (or allow_unused=True)"
                )
        return report

    def _remove(self) -> bool:
        with cassette_lock(self.path, self.lock_timeout):
            try:
                self.path.unlink()
            except FileNotFoundError:
                return False
        return True

    def _provenance(self, report: CassetteReport) -> None:
        """Fill the report's CLI version(s) and recorded-at from the cassette as it now stands."""
        header, interactions = self.header, self.interactions
        if report.saved:
            try:
                data = load_cassette_data(self.path)
            except CassetteError:
                data = None
            if data is not None:
                header, interactions = dict(data.get("header") or {}), list(data["interactions"])
        elif report.removed:
            header, interactions = {}, []
        elif self.mode == "rewrite":  # not saved: the old file is what stays
            interactions = []
        version, recorded_at = header.get("cli_version"), header.get("recorded_at")
        report.cli_version = version if isinstance(version, str) else None
        report.recorded_at = recorded_at if isinstance(recorded_at, str) else None
        versions = {i.get("cli_version") for i in interactions}
        report.cli_versions = sorted(v for v in versions if isinstance(v, str))

    def save(self) -> bool:
        """Write the recorded interactions (merged per mode, under the file lock); ``False``: kept theirs."""
        __tracebackhide__ = True
        superseded = {interaction_id(self.interactions[n - 1]) for n in self.superseded()}
        with self._lock:
            new = sorted(self._new, key=lambda i: int(i.get("position", 0)))  # call order, not finish order
            # this run's calls in order: replayed interactions and new recordings interleaved
            sequence = sorted(
                [(p, self.interactions[i]) for p, i in self._replayed_at.items()]
                + [(int(i.get("position", 0)), i) for i in new],
                key=lambda pair: pair[0],
            )
        with cassette_lock(self.path, self.lock_timeout):
            # all/rewrite replace the file whatever it holds: a corrupt one is what rewrite is for
            current = None if self.mode in ("all", "rewrite") else load_cassette_data(self.path)
            if self.mode == "new_episodes" and current is not None:
                # Keep the file in call order (a call inserted mid-test lands where it is made, so a strict
                # replay finds it there); interactions this run did not use, or that a concurrent run
                # appended, follow in their existing order.
                ordered = [i for _, i in sequence]
                taken = {interaction_id(i) for i in ordered} | superseded
                interactions = [
                    *ordered,
                    *(i for i in current["interactions"] if interaction_id(i) not in taken),
                ]
                header = dict(current.get("header") or {})
            elif self.mode == "once" and current is not None and current["interactions"]:
                return False  # a concurrent run (xdist --dist each, two CI jobs) recorded it first
            else:
                interactions, header = new, {}
            header.update(self._header(new, keep_recorded_at=self.mode == "new_episodes"))
            data = {
                "format": CASSETTE_FORMAT,
                "version": CASSETTE_VERSION,
                "header": header,
                "interactions": interactions,
            }
            atomic_write_text(self.path, dump_cassette(data), fsync=self.fsync)
        return True

    def _header(self, new: list[dict[str, Any]], *, keep_recorded_at: bool) -> dict[str, Any]:
        now = utcnow().isoformat()
        header: dict[str, Any] = {
            "plugin_version": __version__,
            "cli_version": next((i["cli_version"] for i in reversed(new) if i.get("cli_version")), None),
            "model": next((i["model"] for i in reversed(new) if i.get("model")), None),
            "node_id": self.scrubber.redactor.redact(self.node_id) if self.node_id else None,
            "updated_at": now,
        }
        if not keep_recorded_at or "recorded_at" not in self.header:
            header["recorded_at"] = now
        if keep_recorded_at:  # appending: a field no new call tells keeps the value already there
            for key in ("cli_version", "model"):
                if header[key] is None:
                    del header[key]
        return header


@contextlib.contextmanager
def use_cassette(path: str | Path, **kwargs: Any) -> Iterator[CassetteInterceptor]:
    """A cassette for a block of code: saved and checked at the end, not saved if the block raised.

    An exception from the block propagates unchanged, exactly once (a failure to finish the cassette
    then is added to it as a note, never raised in its place). The ``PYTEST_CLAUDE_RECORD_MODE``
    variable and the plugin's options do not apply here: pass ``mode=``.
    """
    cassette = CassetteInterceptor(path, **kwargs)
    try:
        yield cassette
    except BaseException as exc:
        try:
            cassette.finish(failed=True, check=False)
        except Exception as finish_exc:  # e.g. a lock timeout: must not mask what the block raised
            exc.add_note(f"(and finishing cassette {cassette.path} failed: {finish_exc!r})")
        raise
    cassette.finish()
