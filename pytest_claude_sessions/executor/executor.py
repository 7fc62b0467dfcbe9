"""``ClaudeExecutor``: run the real ``claude -p`` CLI (sync or async) and get typed, honest results.

One call goes down once: the keywords (:class:`~pytest_claude_sessions.executor.options.CallOptions`)
validated and laid out by the option table (:mod:`.options`) into a
:class:`~pytest_claude_sessions.models.CliCall` -> :func:`~.core.dispatch`: the interceptor (record/replay)
or the real process (:mod:`.process`) -> :class:`~pytest_claude_sessions.models.CliOutcome` ->
:class:`~.core.CallCore` (the same for live and replayed outcomes, and for the interposed ``claude``) ->
:class:`~pytest_claude_sessions.models.ClaudeResult`, tracker step and ``history``. The CLI's directories
come from :mod:`.isolation`, its binary from :mod:`.locate`.

Async twins carry an ``a`` prefix (``run``/``arun``, ``resume``/``aresume``, ``fork``/``afork``), as
everywhere in the package (``intercept``/``aintercept``, ``dispatch``/``adispatch``).
"""

from __future__ import annotations

import functools
import inspect
import os
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from pytest_claude_sessions.errors import (
    ClaudeNotFoundError,
    ClaudeProcessError,
    ClaudeResultError,
    ExecutorUsageError,
    SessionNotFoundError,
)
from pytest_claude_sessions.executor.core import CallCore, CallInterceptor, adispatch, dispatch
from pytest_claude_sessions.executor.isolation import isolation_dirs, remove_dirs
from pytest_claude_sessions.executor.options import (
    CallOptions,
    CommonOptions,
    check_extra,
    check_option_names,
    check_text,
    check_timeout,
    layout,
)
from pytest_claude_sessions.executor.parsing import (
    StreamEvent,
    as_str,
    decode_line,
    decode_stream,
    init_event,
    make_event,
)
from pytest_claude_sessions.executor.process import run_async, run_sync
from pytest_claude_sessions.ids import is_session_id
from pytest_claude_sessions.locate import find_claude_bin, probe_claude_bin
from pytest_claude_sessions.models import ClaudeResult, CliCall, CliOutcome, StepKind, utcnow
from pytest_claude_sessions.redact import Redactor
from pytest_claude_sessions.transcripts.validator import SessionValidator

if TYPE_CHECKING:
    from pytest_claude_sessions.store.tracker import SessionTracker

__all__ = [
    "CallInterceptor",
    "CallRecord",
    "ClaudeExecutor",
    "FollowUpOptions",
    "Guard",
    "RunOptions",
    "StreamEvent",
]

DEFAULT_TIMEOUT = 300.0
_VERSION_TIMEOUT = 15.0


Guard = Callable[[CliCall], None]
EventCallback = Callable[[StreamEvent], object]


class ProgressObserver(Protocol):
    """Watches live stream-json calls (:attr:`ClaudeExecutor.progress`): ``event`` for each event as it
    arrives, ``done`` once the process has ended. Replayed calls are not shown to it."""

    def event(self, event: StreamEvent) -> None: ...

    def done(self) -> None: ...


class FollowUpOptions(CommonOptions, total=False):
    """The keywords of :meth:`ClaudeExecutor.resume` and :meth:`~ClaudeExecutor.fork` (and their async
    forms): those of :meth:`~ClaudeExecutor.run` except the ones that choose the session."""

    on_event: EventCallback | None
    check: bool | None


class RunOptions(CallOptions, total=False):
    """The keywords of :meth:`ClaudeExecutor.run` and :meth:`~ClaudeExecutor.arun`: the call options, plus
    ``on_event`` (called with each stream-json event) and ``check`` (raise on an error result)."""

    on_event: EventCallback | None
    check: bool | None


@dataclass
class CallRecord:
    """One entry of :attr:`ClaudeExecutor.history`: every call that was attempted, including failed ones.

    ``ok`` is the call's success (a result without ``is_error``). ``raised`` says the call raised instead
    of returning: a timeout, an unknown session, no binary, a guard (budget), a cassette miss, or an error
    result under ``check=True``. Then ``error_type`` is the exception's class name, ``error`` reads
    ``"<type>: <message>"``, ``exception`` is the exception itself, ``stderr`` what the CLI printed there,
    and ``result`` is ``None`` (except for a ``check=True`` error result). ``session_id`` is the session
    the call ran in when it is known: the result's, else the id a resume named, else the one the partial
    ``stream-json`` output announced; a failed fork or new call has none. ``parent_session_id`` is the
    session a resume or fork continued.
    """

    prompt: str
    kind: StepKind
    session_id: str | None
    ok: bool
    error: str | None
    elapsed: float
    started_at: datetime
    argv: list[str] = field(default_factory=list)
    parent_session_id: str | None = None
    cost_usd: float | None = None
    replayed: bool = False
    result: ClaudeResult | None = None
    raised: bool = False
    error_type: str | None = None
    stderr: str = ""
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the record (no ``result``/``exception`` objects; ``started_at`` ISO-8601)."""
        return {
            "prompt": self.prompt,
            "kind": self.kind,
            "session_id": self.session_id,
            "parent_session_id": self.parent_session_id,
            "ok": self.ok,
            "raised": self.raised,
            "error_type": self.error_type,
            "error": self.error,
            "stderr": self.stderr,
            "elapsed": self.elapsed,
            "started_at": self.started_at.isoformat(),
            "argv": list(self.argv),
            "cost_usd": self.cost_usd,
            "replayed": self.replayed,
        }


class _Dispatcher:
    """Hands stream-json events to ``on_event`` in order: live as lines arrive, or after a replay."""

    def __init__(self, on_event: EventCallback | None, progress: ProgressObserver | None = None) -> None:
        self.on_event = on_event
        self.progress = progress  # sees live events only (see feed)
        self.live = False
        self.count = 0

    def _event(self, line: str, elapsed: float) -> StreamEvent | None:
        raw = decode_line(line)
        if raw is None:
            return None
        event = make_event(raw, elapsed=elapsed, index=self.count)
        self.count += 1
        return event

    def feed(self, line: str, elapsed: float) -> None:
        event = self._event(line, elapsed)
        if event is not None:
            if self.progress is not None:
                self.progress.event(event)
            if self.on_event is not None:
                self.on_event(event)

    async def afeed(self, line: str, elapsed: float) -> None:
        event = self._event(line, elapsed)
        if event is not None:
            if self.progress is not None:
                self.progress.event(event)
            if self.on_event is not None:
                await _maybe_await(self.on_event(event))

    def replay(self, outcome: CliOutcome) -> Iterator[StreamEvent]:
        """The events of an outcome that did not run live (a replay), each stamped with the time since
        the replay began; nothing for a live outcome, whose events were handed over as they arrived."""
        if self.live:
            return
        start = time.monotonic()
        for line in outcome.stdout.splitlines():
            event = self._event(line, time.monotonic() - start)
            if event is not None:
                yield event

    def ended(self) -> None:
        """The live process has ended: the progress line goes."""
        if self.progress is not None:
            self.progress.done()


@dataclass
class _Pending:
    """One call in flight: what it runs, who gets its events, and when it began."""

    call: CliCall
    dispatcher: _Dispatcher | None
    check: bool
    started: datetime = field(default_factory=utcnow)
    t0: float = field(default_factory=time.monotonic)


async def _maybe_await(value: object) -> None:
    if inspect.isawaitable(value):
        await value


def _check_search_paths(paths: Iterable[str | os.PathLike[str]]) -> tuple[Path, ...]:
    __tracebackhide__ = True
    if isinstance(paths, str | bytes | os.PathLike):
        raise ExecutorUsageError(
            f"search_paths must be a list of directories, not one path: search_paths=[{os.fspath(paths)!r}]"
        )
    checked: list[Path] = []
    for i, path in enumerate(paths):
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise ExecutorUsageError(f"search_paths[{i}] must be a non-empty path, got {path!r}")
        checked.append(Path(path).absolute())
    return tuple(checked)


def _failed_session_id(call: CliCall, partial_stdout: str) -> str | None:
    """The session a call that raised ran in, when known: the id a plain resume named, else the one the
    partial ``stream-json`` output announced in its ``init`` event (a fork or new call that timed out)."""
    if call.resume is not None and not call.fork and is_session_id(call.resume):
        return call.resume
    if call.session_id is not None and is_session_id(call.session_id):
        return call.session_id
    if call.output_format == "stream-json" and partial_stdout:
        init = init_event(decode_stream(partial_stdout))
        announced = as_str(init.get("session_id")) if init else None
        if announced is not None and is_session_id(announced):
            return announced
    return None


def _start_failed(exc: OSError, argv: list[str], redactor: Redactor) -> ClaudeProcessError:
    return ClaudeProcessError(
        f"could not start the claude CLI {argv[0]}: {exc}", argv=argv, redactor=redactor
    )


class ClaudeExecutor:
    """Runs ``claude -p`` with typed results, real timeouts, isolation, tracking and a record/replay seam.

    Isolation is the default: the CLI gets its own ``CLAUDE_CONFIG_DIR`` (``config_dir``, or a temporary
    directory removed by :meth:`close` or at exit), ``TMPDIR`` and ``XDG_RUNTIME_DIR``. ``isolate=False``
    runs with the user's real config and login. ``env`` is laid over the inherited environment.

    The binary is found by :func:`~pytest_claude_sessions.locate.find_claude_bin` on the first live
    call: ``claude_bin``, ``$CLAUDE_BIN``, PATH, then ``node_modules/.bin/claude`` and
    ``.claude-cli/node_modules/.bin/claude`` in ``cwd`` and its parents and in each of ``search_paths``
    (relative ones against the process cwd) and their parents, then the claude-agent-sdk bundled binary.

    Every call lands in :attr:`history`, in order, whether it returned or raised (:attr:`failures` are
    the ones that raised). With a ``tracker``, a call that produced a result (success or ``is_error``)
    also records a step. A call that raised records **no** step, by design: a step stands for a session
    turn the CLI really wrote, which the continuity check verifies in the transcripts, and whose id the
    next :meth:`resume` continues; a timeout or an unknown session wrote none (a step for it would make
    every later continuity check fail and could make :meth:`resume` target a session that does not
    exist). Reports read raised calls from :attr:`failures`.

    Error texts (argv, stderr and stdout tails) pass through ``redactor`` (default: the tracker's, else
    the built-in rules) plus the literal values of the key variables (``ANTHROPIC_API_KEY``, ...).
    """

    def __init__(
        self,
        claude_bin: str | os.PathLike[str] | None = None,
        *,
        cwd: str | os.PathLike[str] | None = None,
        config_dir: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        model: str | None = None,
        tracker: SessionTracker | None = None,
        extra_args: Sequence[str] = (),
        isolate: bool = True,
        check: bool = False,
        interceptor: CallInterceptor | None = None,
        guards: Iterable[Guard] = (),
        search_paths: Iterable[str | os.PathLike[str]] = (),
        redactor: Redactor | None = None,
    ) -> None:
        __tracebackhide__ = True
        self.timeout = check_timeout(timeout)
        self.search_paths = _check_search_paths(search_paths)
        self.env: dict[str, str] = {}
        for key, value in (env or {}).items():
            self.env[check_text(key, "env name")] = check_text(value, f"env[{key!r}]")
        if isolate and "CLAUDE_CONFIG_DIR" in self.env:
            raise ExecutorUsageError(
                "env sets CLAUDE_CONFIG_DIR, but the executor isolates the CLI in its own config dir: "
                "pass config_dir= instead (or isolate=False to use that env as is)"
            )
        self.cwd = Path(cwd if cwd is not None else os.getcwd()).absolute()
        if not self.cwd.is_dir():
            raise ExecutorUsageError(f"cwd {self.cwd} is not a directory")
        self.model = (
            None if model is None else check_text(model, "model", allow_dash=False, allow_empty=False)
        )
        self.extra_args = check_extra(extra_args)
        self.isolate = isolate
        self.check = check
        self.interceptor = interceptor
        # Sees the events of live stream-json calls as they arrive (the plugin's progress line under -v).
        self.progress: ProgressObserver | None = None
        self.guards: list[Guard] = list(guards)
        self.history: list[CallRecord] = []
        self._claude_bin = claude_bin
        self._bin: Path | None = None
        self._bin_missing = False  # not found when a call was built: not looked for again until it runs
        self._version: str | None = None
        self._version_tried = False
        self._lock = threading.RLock()
        isolation = isolation_dirs(config_dir, isolate=isolate, env=self.env)
        self._finalizer: weakref.finalize[Any, Any] | None = None
        if isolation.owned:
            self._finalizer = weakref.finalize(self, remove_dirs, isolation.owned)
        self._isolation_env = isolation.env
        self.config_dir = isolation.config_dir
        self.validator = SessionValidator(self.config_dir)
        if redactor is None and tracker is not None:
            redactor = tracker.redactor  # one set of rules for the steps and the error texts
        self.core = CallCore(self.validator, tracker, redactor=redactor)

    # ----------------------------------------------------------------- lifecycle and environment

    def close(self) -> None:
        """Remove the temporary directories this executor created (a given ``config_dir`` is kept)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> ClaudeExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def build_env(self) -> dict[str, str]:
        """The complete environment a call gets: inherited, then ``env``, then the isolation directories."""
        env = dict(os.environ)
        env.update(self.env)
        env.update(self._isolation_env)
        if env.get("ANTHROPIC_BASE_URL") and "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" not in self.env:
            # An overridden API endpoint means a test or a gateway: no pre-warm, telemetry or update checks.
            env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
        return env

    @property
    def tracker(self) -> SessionTracker | None:
        """The tracker every result records a step in (``None``: no steps)."""
        return self.core.tracker

    @tracker.setter
    def tracker(self, tracker: SessionTracker | None) -> None:
        self.core.tracker = tracker

    @property
    def failures(self) -> list[CallRecord]:
        """The calls that raised (timeout, unknown session, no binary, a guard, ``check=True``...), oldest
        first: the :attr:`history` entries with ``raised`` set, as a fresh list."""
        return [record for record in self.history if record.raised]

    @property
    def claude_bin(self) -> Path:
        """The binary live calls run (resolved on first use; raises ClaudeNotFoundError)."""
        __tracebackhide__ = True
        return self._find_bin(self.build_env())

    def _find_bin(self, env: Mapping[str, str]) -> Path:
        __tracebackhide__ = True
        with self._lock:
            if self._bin is None:
                self._bin = find_claude_bin(self._claude_bin, env=env, cwd=self.cwd, roots=self.search_paths)
            return self._bin

    def _argv_binary(self, env: Mapping[str, str]) -> str:
        """argv[0] of a call being built: the binary when it can be found (looked for once), else the name
        given. A live call resolves it again and reports a missing one; a replay needs none."""
        with self._lock:
            if self._bin is None and not self._bin_missing:
                self._bin = probe_claude_bin(self._claude_bin, env=env, cwd=self.cwd, roots=self.search_paths)
                self._bin_missing = self._bin is None
            if self._bin is not None:
                return str(self._bin)
        return os.fspath(self._claude_bin) if self._claude_bin is not None else "claude"

    def cli_version(self) -> str | None:
        """``claude --version`` of the binary (run once per executor), or ``None`` if it cannot be run."""
        with self._lock:  # re-entrant: claude_bin takes it too; holding it makes concurrent callers wait
            if not self._version_tried:
                self._version_tried = True
                try:
                    done = subprocess.run(
                        [str(self.claude_bin), "--version"],
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        text=True,
                        env=self.build_env(),
                        timeout=_VERSION_TIMEOUT,
                        check=False,
                    )
                except (ClaudeNotFoundError, OSError, subprocess.SubprocessError):
                    return None
                words = done.stdout.split()
                if done.returncode == 0 and words:
                    self._version = words[0]
            return self._version

    # ----------------------------------------------------------------- building a call

    def build_call(self, prompt: str, **options: Unpack[CallOptions]) -> CliCall:
        """Validate the arguments and build the :class:`CliCall` (argv, env, kind); runs nothing.

        The options are those of :meth:`run` without ``on_event`` and ``check``.
        """
        __tracebackhide__ = True
        check_option_names(options, "build_call")
        return self._build_call(prompt, options)

    def _build_call(self, prompt: str, options: Mapping[str, Any]) -> CliCall:
        __tracebackhide__ = True
        timeout, cwd = options.get("timeout"), options.get("cwd")
        call_timeout = self.timeout if timeout is None else check_timeout(timeout)
        work_dir = self.cwd if cwd is None else Path(cwd).absolute()
        env = self.build_env()
        binary = self._argv_binary(env)
        model = options.get("model")
        extra = check_extra(options.get("extra_args", ()))
        laid = layout(
            binary,
            prompt,
            {
                **options,
                "model": self.model if model is None else model,
                "extra_args": [*self.extra_args, *extra],
            },
        )
        if not work_dir.is_dir():
            raise ExecutorUsageError(f"cwd {work_dir} is not a directory")
        return CliCall(
            argv=laid.argv,
            prompt=prompt,
            kind=laid.kind,
            cwd=work_dir,
            config_dir=self.config_dir,
            env=env,
            timeout=call_timeout,
            output_format=options.get("output_format", "json"),
            resume=options.get("resume"),
            session_id=options.get("session_id"),
            fork=bool(options.get("fork", False)),
            continue_=bool(options.get("continue_", False)),
            options=laid.options,
        )

    # ----------------------------------------------------------------- running
    # One path, sync and async alike: _begin -> dispatch (the interceptor, or the live process through
    # _spawn/_aspawn) -> CallCore.complete -> _conclude. The keywords are CallOptions (Unpack): written once.

    def run(self, prompt: str, **options: Unpack[RunOptions]) -> ClaudeResult:
        """Run one ``claude -p`` call and return its :class:`ClaudeResult` (see the module docstring).

        The keywords are :class:`~pytest_claude_sessions.executor.options.CallOptions` plus ``on_event``
        (stream-json events, as they arrive) and ``check`` (raise on an error result).

        Raises ClaudeNotFoundError, ClaudeTimeoutError, ClaudeProcessError (no JSON result, e.g. an unknown
        session), ClaudeEmptyOutputError, and ClaudeResultError for an error result when ``check``; every
        such call is in :attr:`history` and :attr:`failures` (a bad argument raises before anything runs
        and is recorded nowhere).
        """
        __tracebackhide__ = True  # the user's call is the interesting frame, not the executor's insides
        pending = self._begin(prompt, options)
        try:  # not a context manager: its frames would show in every traceback of a failed call
            before = self.core.before(pending.call)
            spawn = functools.partial(self._spawn, pending)
            outcome = dispatch(pending.call, spawn, self.interceptor)
            if pending.dispatcher is not None and pending.dispatcher.on_event is not None:
                for event in pending.dispatcher.replay(outcome):
                    pending.dispatcher.on_event(event)
            result = self.core.complete(pending.call, outcome, before, cli_version=self.cli_version)
        except BaseException as exc:
            self._record_failure(pending, exc)
            raise
        return self._conclude(result, pending)

    async def arun(self, prompt: str, **options: Unpack[RunOptions]) -> ClaudeResult:
        """:meth:`run` for asyncio: the process runs without blocking the loop; ``on_event`` may be async."""
        __tracebackhide__ = True
        pending = self._begin(prompt, options)
        try:
            before = self.core.before(pending.call)
            spawn = functools.partial(self._aspawn, pending)
            outcome = await adispatch(pending.call, spawn, self.interceptor)
            if pending.dispatcher is not None and pending.dispatcher.on_event is not None:
                for event in pending.dispatcher.replay(outcome):
                    await _maybe_await(pending.dispatcher.on_event(event))
            result = self.core.complete(pending.call, outcome, before, cli_version=self.cli_version)
        except BaseException as exc:
            self._record_failure(pending, exc)
            raise
        return self._conclude(result, pending)

    def run_external(
        self,
        call: CliCall,
        spawn: Callable[[CliCall], CliOutcome],
        *,
        deliver: Callable[[CliOutcome], None] | None = None,
        # (call, outcome, core.Before) -> one (call, outcome, Before) per result
        turns: Callable[[CliCall, CliOutcome, Any], list[tuple[CliCall, CliOutcome, Any]]] | None = None,
    ) -> list[ClaudeResult]:
        """A call another process makes (the interposed ``claude``), down the same path as :meth:`run`.

        Guards, the interceptor (record/replay), :attr:`core` (parsing, steps) and :attr:`history` are the
        executor's; only the process is started elsewhere: ``spawn`` runs it live. ``deliver`` hands a
        replayed outcome to that process (and may raise: the caller's answers differ from the recording).
        ``turns`` splits an outcome with several results (a duplex client's ``query()`` turns: one step
        each) into ``(call, outcome, before)`` per result. Error results are never ``check``ed.
        """
        __tracebackhide__ = True
        pending = _Pending(call, None, False)
        try:
            before = self.core.before(call)

            def guarded(c: CliCall) -> CliOutcome:
                for guard in self.guards:
                    guard(c)
                return spawn(c)

            outcome = dispatch(call, guarded, self.interceptor)
            if deliver is not None:
                deliver(outcome)
            parts = turns(call, outcome, before) if turns is not None else [(call, outcome, before)]
            results = []
            for part_call, part_outcome, part_before in parts:
                result = self.core.complete(
                    part_call, part_outcome, part_before, cli_version=self.cli_version
                )
                results.append(self._conclude(result, _Pending(part_call, None, False)))
        except BaseException as exc:
            self._record_failure(pending, exc)
            raise
        return results

    def _begin(self, prompt: str, options: RunOptions) -> _Pending:
        __tracebackhide__ = True
        call_options: dict[str, Any] = dict(options)
        on_event = call_options.pop("on_event", None)
        check = call_options.pop("check", None)
        check_option_names(call_options, "run")
        call = self._build_call(prompt, call_options)
        progress = self.progress if call.output_format == "stream-json" else None
        if on_event is None:
            dispatcher = None if progress is None else _Dispatcher(None, progress)
        elif call.output_format != "stream-json":
            raise ExecutorUsageError(
                "on_event needs output_format='stream-json' (the json format has no events)"
            )
        elif not callable(on_event):
            raise ExecutorUsageError(f"on_event must be callable, got {type(on_event).__name__}")
        else:
            dispatcher = _Dispatcher(on_event, progress)
        return _Pending(call, dispatcher, self.check if check is None else bool(check))

    def _live_argv(self, pending: _Pending, call: CliCall) -> list[str]:
        """Guards, then the binary: what every live spawn goes through (a replay never gets here)."""
        __tracebackhide__ = True
        for guard in self.guards:
            guard(call)
        binary = self.claude_bin
        if pending.dispatcher is not None:
            pending.dispatcher.live = True
        return [str(binary), *call.argv[1:]]

    def _spawn(self, pending: _Pending, call: CliCall) -> CliOutcome:
        __tracebackhide__ = True
        argv = self._live_argv(pending, call)
        on_line = pending.dispatcher.feed if pending.dispatcher is not None else None
        try:
            return run_sync(argv, cwd=call.cwd, env=call.env, timeout=call.timeout, on_line=on_line)
        except OSError as exc:
            raise _start_failed(exc, argv, self.core.redact_for(call)) from exc
        finally:
            if pending.dispatcher is not None:
                pending.dispatcher.ended()

    async def _aspawn(self, pending: _Pending, call: CliCall) -> CliOutcome:
        __tracebackhide__ = True
        argv = self._live_argv(pending, call)
        on_line = pending.dispatcher.afeed if pending.dispatcher is not None else None
        try:
            return await run_async(argv, cwd=call.cwd, env=call.env, timeout=call.timeout, on_line=on_line)
        except OSError as exc:
            raise _start_failed(exc, argv, self.core.redact_for(call)) from exc
        finally:
            if pending.dispatcher is not None:
                pending.dispatcher.ended()

    # ----------------------------------------------------------------- resume / fork / legacy

    def _current_session(self, what: str) -> str:
        __tracebackhide__ = True
        if self.tracker is None:
            raise ExecutorUsageError(
                f"{what}() continues the tracker's current session, but no tracker is attached"
            )
        current = self.tracker.current_session_id
        if not current:
            raise SessionNotFoundError(
                f"{what}(): the tracker for agent {getattr(self.tracker, 'agent_id', '?')!r} has no current "
                "session yet; make a first call with run()"
            )
        return current

    def resume(self, prompt: str, **kwargs: Unpack[FollowUpOptions]) -> ClaudeResult:
        """Continue the tracker's current session (``--resume <current id>``)."""
        __tracebackhide__ = True
        return self.run(prompt, resume=self._current_session("resume"), **kwargs)

    def fork(self, prompt: str, **kwargs: Unpack[FollowUpOptions]) -> ClaudeResult:
        """Fork the tracker's current session (``--resume <current id> --fork-session``)."""
        __tracebackhide__ = True
        return self.run(prompt, resume=self._current_session("fork"), fork=True, **kwargs)

    async def aresume(self, prompt: str, **kwargs: Unpack[FollowUpOptions]) -> ClaudeResult:
        """:meth:`resume` for asyncio."""
        __tracebackhide__ = True
        return await self.arun(prompt, resume=self._current_session("resume"), **kwargs)

    async def afork(self, prompt: str, **kwargs: Unpack[FollowUpOptions]) -> ClaudeResult:
        """:meth:`fork` for asyncio."""
        __tracebackhide__ = True
        return await self.arun(prompt, resume=self._current_session("fork"), fork=True, **kwargs)

    def execute_claude(
        self, prompt: str, session_id: str | None = None, working_dir: str | os.PathLike[str] | None = None
    ) -> dict[str, Any]:
        """The CLI's JSON result as a dict (``session_id`` resumes that session): the legacy entry point."""
        __tracebackhide__ = True
        return dict(self.run(prompt, resume=session_id, cwd=working_dir).raw)

    def _conclude(self, result: ClaudeResult, pending: _Pending) -> ClaudeResult:
        __tracebackhide__ = True
        failure: ClaudeResultError | None = None
        if pending.check and not result.ok:
            status = f", HTTP {result.api_error_status}" if result.api_error_status is not None else ""
            reason = self.core.redact_for(pending.call).redact(result.error_message or "")
            failure = ClaudeResultError(
                f"the claude CLI returned an error result (session {result.session_id}, subtype "
                f"{result.subtype}{status}, exit code {result.returncode}): {reason}",
                result=result,
            )
        self.history.append(
            CallRecord(
                prompt=result.prompt,
                kind=result.kind,
                session_id=result.session_id,
                ok=result.ok,
                error=result.error_message,
                elapsed=result.elapsed,
                started_at=pending.started,
                argv=result.argv,
                parent_session_id=result.parent_session_id,
                cost_usd=result.cost_usd,
                replayed=result.replayed,
                result=result,
                raised=failure is not None,
                error_type=type(failure).__name__ if failure is not None else None,
                stderr=result.stderr,
                exception=failure,
            )
        )
        if failure is not None:
            raise failure
        return result

    def _record_failure(self, pending: _Pending, exc: BaseException) -> None:
        """The :attr:`history` entry of a call that raised before it had a result (no tracker step: see
        the class docstring)."""
        call = pending.call
        stdout = getattr(exc, "stdout", "")
        stderr = getattr(exc, "stderr", "")
        self.history.append(
            CallRecord(
                prompt=call.prompt,
                kind=call.kind,
                session_id=_failed_session_id(call, stdout if isinstance(stdout, str) else ""),
                ok=False,
                error=f"{type(exc).__name__}: {exc}",
                elapsed=time.monotonic() - pending.t0,
                started_at=pending.started,
                argv=list(getattr(exc, "argv", None) or call.argv),
                parent_session_id=call.resume,
                replayed=False,
                raised=True,
                error_type=type(exc).__name__,
                stderr=stderr if isinstance(stderr, str) else "",
                exception=exc,
            )
        )
