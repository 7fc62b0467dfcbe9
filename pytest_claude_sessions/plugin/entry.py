"""pytest entry point (``pytest11: claude_sessions``): hooks, fixtures, options and markers only.

The work lives in the library: ``settings`` (options), ``runs`` (run directories), ``reporting`` (sections,
summary, junit properties, JSON report), ``budget``, ``assertions`` and ``distributed`` (xdist). Record/replay
(cassette options, the ``claude_cassette`` marker and fixture) is wired in ``cassette_plugin``, loaded below.
Hook reference: https://docs.pytest.org/en/stable/reference/reference.html#hooks

Start-up cost matters (every pytest run of a project with the plugin installed pays it, and pytest
rewrites the asserts of each module of this package it imports): only ``settings`` is imported here;
everything else is imported inside the hooks and fixtures that need it, and suites that never touch
Claude get no per-test hook from this module.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_claude_sessions.plugin.options import OPTION_SPECS, Settings

# Loaded with this plugin and disabled with it (-p no:claude_sessions); its work lives in .cassettes.
pytest_plugins = ["pytest_claude_sessions.plugin.cassettes", "pytest_claude_sessions.plugin.intercept"]

if TYPE_CHECKING:
    from pytest_claude_sessions.assertions import budget
    from pytest_claude_sessions.executor.executor import ClaudeExecutor
    from pytest_claude_sessions.plugin import reporting
    from pytest_claude_sessions.store import runs
    from pytest_claude_sessions.store.manager import SessionManager
    from pytest_claude_sessions.store.tracker import SessionTracker
    from pytest_claude_sessions.stub.server import MessagesStub
    from pytest_claude_sessions.transcripts.validator import SessionValidator


@dataclass
class _RunState:
    """This process's view of the run (kept in ``config.stash``, never in a module global)."""

    settings: Settings
    run_id: str
    run_dir: Path
    run: runs.RunDir | None = None  # controller (or single process) only: holds the active lock
    report: reporting.RunReport | None = None  # controller only
    pruned: list[str] = field(default_factory=list)
    json_error: str | None = None
    search_roots: tuple[str, ...] = ()  # where a project-local CLI is looked for: rootdir, invocation dir

    def ensure_report(self) -> reporting.RunReport:
        """The controller's run report, made on first use (a run without Claude never imports reporting)."""
        if self.report is None:
            from pytest_claude_sessions.plugin import reporting

            self.report = reporting.RunReport(
                self.run_id, str(self.run_dir), settings=self.settings.to_wire()
            )
        return self.report


@dataclass
class _TestState:
    """Per-test bookkeeping in ``item.stash`` (only for tests that requested a Claude fixture)."""

    tracker: SessionTracker
    agent_id: str
    start_step: int
    executor: ClaudeExecutor | None = None
    outcomes: dict[str, str] = field(default_factory=dict)
    continuity: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    record: dict[str, Any] | None = None


_RUN = pytest.StashKey[_RunState]()
_TEST = pytest.StashKey[_TestState]()

_MARKERS = (
    "claude_integration: needs the real Claude Code CLI and API credentials; skipped unless enabled with "
    "--claude-integration (ini claude_integration, env PYTEST_CLAUDE_INTEGRATION).",
    "claude_session(agent=None, expect_continuity=False, allow_new_sessions=False, cwd=None): the test's "
    "session chain; agent= names the chain (default: the node id); expect_continuity=True fails the test "
    "when a step after the first starts a new session or its transcript does not continue the previous "
    "step (allow_new_sessions=True permits several conversations); cwd= sets the CLI's working directory "
    "(relative: under the test's tmp_path).",
    "claude_budget(max_cost_usd=None, max_turns=None, max_calls=None): fail the test when its Claude calls "
    "spend more (cost is the sum of per-call costs).",
)
_SESSION_KWARGS = frozenset({"agent", "expect_continuity", "allow_new_sessions", "cwd"})


# --------------------------------------------------------------------------- registration


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_claude_sessions.plugin import hookspecs as hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``claude-sessions`` option group and the ini keys."""
    group = parser.getgroup("claude-sessions", "claude-sessions")
    for spec in OPTION_SPECS:
        env = " / ".join(f"${name}" for name in spec.env)
        if spec.is_flag:
            group.addoption(
                spec.flag,
                action="store_const",
                const="1",
                default=None,
                dest=spec.dest,
                help=f"{spec.help} (env {env})",
            )
        else:
            group.addoption(spec.flag, default=None, dest=spec.dest, help=f"{spec.help} (env {env})")
        parser.addini(spec.ini, f"{spec.help}", type="string", default="")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register markers, resolve the settings and (on the controller) create this run's directory."""
    from pytest_claude_sessions.plugin import xdist as distributed

    for line in _MARKERS:
        config.addinivalue_line("markers", line)
    roots = tuple(dict.fromkeys((str(config.rootpath), str(config.invocation_params.dir))))
    payload = distributed.worker_payload(config)
    if payload is not None:
        # A worker: the controller resolved everything; use its absolute paths verbatim.
        settings = Settings.from_wire(payload["settings"])
        config.stash[_RUN] = _RunState(
            settings,
            payload["run_id"],
            Path(payload["run_dir"]),
            search_roots=tuple(payload.get("search_roots", roots)),
        )
        return
    from pytest_claude_sessions.errors import SettingsError
    from pytest_claude_sessions.plugin.options import resolve_settings
    from pytest_claude_sessions.store import runs

    try:
        settings = resolve_settings(
            getoption=lambda dest: config.getoption(dest, None),
            getini=config.getini,
            environ=os.environ,
            rootpath=config.rootpath,
            inipath=config.inipath,
            invocation_dir=config.invocation_params.dir,
        )
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    if settings.json_report is not None:
        from pytest_claude_sessions.plugin.reporting import json_report_problem

        problem = json_report_problem(settings.json_report)
        if problem is not None:
            # Found now, not after a long (and maybe costly) run whose report would then be lost.
            raise pytest.UsageError(
                f"{settings.describe('json_report')}: cannot write the JSON report to "
                f"{settings.json_report}: {problem}"
            )
    if _runs_no_tests(config):
        # Nothing runs: no run directory, no pruning (--collect-only, --help, cassette housekeeping).
        state = _RunState(
            settings, "", settings.sessions_dir / runs.RUNS_DIRNAME / "(not created)", search_roots=roots
        )
        config.stash[_RUN] = state
        return
    try:
        run = runs.create_run(settings.sessions_dir)
    except OSError as exc:
        raise pytest.UsageError(
            f"{settings.describe('sessions_dir')}: cannot create a run directory under "
            f"{settings.sessions_dir}: {exc}"
        ) from None
    state = _RunState(settings, run.run_id, run.path, run=run, search_roots=roots)
    state.pruned = [
        p.name for p in runs.prune_runs(settings.sessions_dir, settings.keep_runs, current=run.path)
    ]
    config.stash[_RUN] = state
    if config.pluginmanager.hasplugin("xdist"):
        wire = {
            "settings": settings.to_wire(),
            "run_id": run.run_id,
            "run_dir": str(run.path),
            "search_roots": list(roots),
        }

        def node_down(worker: str, error: str) -> None:
            state.ensure_report().workers_down.append({"worker": worker, "error": error})

        config.pluginmanager.register(distributed.XdistHooks(wire, node_down), "claude_sessions_xdist")


def _runs_no_tests(config: pytest.Config) -> bool:
    """Runs that execute no test: --collect-only, --help, --version, and the cassette housekeeping
    commands (``--claude-cassettes-unused`` / ``--claude-prune-cassettes``, see cassette_plugin)."""
    option = config.option
    return bool(
        option.collectonly
        or option.help
        or option.version
        or config.getoption("claude_cassettes_unused", False)
        or config.getoption("claude_prune_cassettes", False)
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_RUN, None)
    if state is not None and state.run is not None:
        # Every worker has finished by now: a run in which no test recorded a step leaves nothing behind.
        state.run.discard_if_empty()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The effective settings and where each came from, plus this run's directory."""
    state = config.stash.get(_RUN, None)
    if state is None:
        return []
    lines = [state.settings.header_line(_resolved_bin(state))]
    if state.run is not None:
        lines.append(f"claude-sessions: run={state.run_dir}")
    if state.pruned:
        lines.append(f"claude-sessions: pruned {len(state.pruned)} old run(s)")
    return lines


def _resolved_bin(state: _RunState) -> str:
    """The CLI the tests will run, found the way the executor finds it (setting, $CLAUDE_BIN, PATH, then
    project-local installs under the rootdir and invocation dir), or ``"not found"``. A few stat calls,
    done once, on the controller, for the header."""
    from pytest_claude_sessions.errors import ClaudeSessionsError
    from pytest_claude_sessions.executor.locate import find_claude_bin

    try:
        return str(find_claude_bin(state.settings.bin, roots=state.search_roots))
    except ClaudeSessionsError:
        return "not found"


# --------------------------------------------------------------------------- gating


def _integration_missing(state: _RunState) -> list[str]:
    settings = state.settings
    missing: list[str] = []
    if not settings.integration:
        missing.append("--claude-integration (or ini claude_integration / env PYTEST_CLAUDE_INTEGRATION=1)")
    if _resolved_bin(state) == "not found":
        if settings.bin:
            missing.append(
                f"the claude CLI {settings.bin} given by {settings.describe('bin')}: not executable"
            )
        else:
            missing.append(
                "the claude CLI (not on PATH nor in node_modules/.bin under the rootdir; set --claude-bin "
                "or $CLAUDE_BIN)"
            )
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        missing.append("an API key ($ANTHROPIC_API_KEY or $ANTHROPIC_AUTH_TOKEN)")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``claude_integration`` tests unless enabled, naming everything that is missing."""
    marked: list[pytest.Item] = []
    inherited: dict[int, frozenset[str]] = {}  # marker names of a parent node and its ancestors
    session_marked = False
    for item in items:
        # This runs for every test of suites that never use Claude: each parent's markers are read once,
        # then only the item's own (usually none).
        names = _parent_marker_names(item.parent, inherited)
        if item.own_markers:
            names = names | {m.name for m in item.own_markers}
        if "claude_integration" in names:
            marked.append(item)
        if "claude_session" in names and not session_marked:
            session_marked = True
            _register_per_test_hooks(config)
    if not marked:
        return
    missing = _integration_missing(config.stash[_RUN])
    if missing:
        skip = pytest.mark.skip(reason="claude_integration needs " + "; ".join(missing))
        for item in marked:
            item.add_marker(skip)


def _parent_marker_names(
    node: pytest.Collector | pytest.Item | None, cache: dict[int, frozenset[str]]
) -> frozenset[str]:
    if node is None:
        return frozenset()
    names = cache.get(id(node))
    if names is None:
        names = _parent_marker_names(node.parent, cache) | {m.name for m in node.own_markers}
        cache[id(node)] = names
    return names


# --------------------------------------------------------------------------- fixtures


def _session_marker(item: pytest.Item) -> dict[str, Any]:
    marker = item.get_closest_marker("claude_session")
    if marker is None:
        return {}
    if marker.args:
        pytest.fail(f"claude_session takes keyword arguments only, got {marker.args!r}", pytrace=False)
    unknown = set(marker.kwargs) - _SESSION_KWARGS
    if unknown:
        pytest.fail(f"claude_session: unknown argument(s) {', '.join(sorted(unknown))}", pytrace=False)
    return dict(marker.kwargs)


def _agent_id(item: pytest.Item) -> str:
    agent = _session_marker(item).get("agent")
    if agent is not None:
        if not isinstance(agent, str) or not agent.strip():
            pytest.fail(f"claude_session(agent=...) must be a non-empty string, got {agent!r}", pytrace=False)
        return agent
    group = item.get_closest_marker("xdist_group")
    name = None
    if group is not None:
        name = group.args[0] if group.args else group.kwargs.get("name")
    from pytest_claude_sessions.store.runs import node_agent_id

    return node_agent_id(item.nodeid, str(name) if name is not None else None)


@pytest.fixture(scope="session")
def session_manager(pytestconfig: pytest.Config) -> SessionManager:
    """The run's session store, shared by every xdist worker (one manager per process)."""
    from pytest_claude_sessions.store.manager import SessionManager

    run = pytestconfig.stash[_RUN]
    return SessionManager(run.run_dir, run_id=run.run_id or None)


@pytest.fixture
def session_tracker(
    request: pytest.FixtureRequest, session_manager: SessionManager
) -> Iterator[SessionTracker]:
    """The session chain of this test node for this run (agent id: the node id or claude_session(agent=))."""
    item = request.node
    agent = _agent_id(item)
    _register_per_test_hooks(request.config)
    # Trackers come from the process-wide manager: one store (one lock object per journal) per process.
    tracker = session_manager.tracker(agent)
    state = _TestState(tracker, agent, start_step=len(tracker.session_chain))
    item.stash[_TEST] = state
    yield tracker
    # Teardown of this fixture runs before the teardown report is built: the junit properties added here
    # reach junitxml (it reads the teardown report's copy of user_properties).
    _finish_record(item, state)


@pytest.fixture
def claude_api_stub() -> Iterator[MessagesStub]:
    """A loopback Messages API stub for this test; ``claude_executor`` talks to it when both are used."""
    from pytest_claude_sessions.stub.server import MessagesStub

    with MessagesStub() as stub:
        yield stub


def build_executor(request: pytest.FixtureRequest, tracker: SessionTracker, tmp_path: Path) -> ClaudeExecutor:
    """Build the test's executor: isolated config dir, cwd, binary, timeout, stub env and suite guard.

    This is the one place executors are made; the ``pytest_claude_sessions_executor`` hook then lets
    conftests and plugins (record/replay: ``executor.interceptor``) adjust it.
    """
    from pytest_claude_sessions.executor.executor import ClaudeExecutor

    run = request.config.stash[_RUN]
    settings = run.settings
    env: dict[str, str] | None = None
    if "claude_api_stub" in request.fixturenames:
        stub: MessagesStub = request.getfixturevalue("claude_api_stub")
        env = stub.env()
    guards: list[Any] = []
    if settings.budget_usd is not None:
        from pytest_claude_sessions.assertions import budget

        guards.append(budget.SuiteBudgetGuard(settings.budget_usd, lambda: _run_spend(run.run_dir)))
    return ClaudeExecutor(
        settings.bin,
        cwd=_marker_cwd(request.node, tmp_path),
        config_dir=tmp_path / ".claude",
        env=env,
        timeout=settings.timeout,
        tracker=tracker,
        guards=guards,
        # The test runs in its tmp_path: a CLI installed in the project (node_modules/.bin) is found from
        # pytest's rootdir and invocation dir.
        search_paths=run.search_roots,
    )


def _marker_cwd(item: pytest.Item, tmp_path: Path) -> Path:
    """``claude_session(cwd=...)``: absolute as given (it must exist); relative under the test's tmp_path
    (created there, so a test can name a sub-directory without making it first)."""
    raw = _session_marker(item).get("cwd")
    if raw is None:
        return tmp_path
    if not isinstance(raw, str | os.PathLike) or not os.fspath(raw).strip():
        pytest.fail(f"claude_session(cwd=...) must be a non-empty path, got {raw!r}", pytrace=False)
    path = Path(os.fspath(raw)).expanduser()
    if not path.is_absolute():
        path = tmp_path / path
        if path.resolve().is_relative_to(tmp_path.resolve()):
            path.mkdir(parents=True, exist_ok=True)
    if not path.is_dir():
        pytest.fail(
            f"claude_session(cwd={os.fspath(raw)!r}): {path} is not a directory (a relative cwd is taken "
            "under the test's tmp_path; an absolute one must exist)",
            pytrace=False,
        )
    return path


@pytest.fixture
def claude_executor(
    request: pytest.FixtureRequest, session_tracker: SessionTracker, tmp_path: Path
) -> Iterator[ClaudeExecutor]:
    """A ``ClaudeExecutor`` bound to the test's tracker, isolated under the test's tmp path."""
    executor = build_executor(request, session_tracker, tmp_path)
    request.node.stash[_TEST].executor = executor
    request.config.hook.pytest_claude_sessions_executor(executor=executor, request=request)
    yield executor
    executor.close()


@pytest.fixture
def claude_transcripts(claude_executor: ClaudeExecutor) -> SessionValidator:
    """The CLI transcripts of this test (a ``SessionValidator`` bound to the executor's config dir)."""
    return claude_executor.validator


@pytest.fixture
def claude_session_history(request: pytest.FixtureRequest) -> runs.SessionHistory:
    """Chains this test node recorded in earlier runs of the store, newest first."""
    from pytest_claude_sessions.store import runs

    run = request.config.stash[_RUN]
    return runs.SessionHistory(run.settings.sessions_dir, _agent_id(request.node), exclude=run.run_dir)


def _run_spend(run_dir: Path) -> budget.Spend:
    """What every worker of this run has spent so far, read from the shared store."""
    from pytest_claude_sessions.assertions import budget
    from pytest_claude_sessions.store.journal import SessionStore

    chains = SessionStore(run_dir).load_all()
    return budget.Spend.of(step for chain in chains.values() for step in chain)


# --------------------------------------------------------------------------- per-test checks and reports


def _test_steps(state: _TestState) -> list[Any]:
    return list(state.tracker.session_chain)[state.start_step :]


def _check_after_body(item: pytest.Item, state: _TestState) -> list[str]:
    """Continuity (claude_session(expect_continuity=True)) and budget (claude_budget) after a passing body."""
    from pytest_claude_sessions.assertions import budget
    from pytest_claude_sessions.assertions import continuity as assertions

    failures: list[str] = []
    steps = _test_steps(state)
    marker = _session_marker(item)
    if marker.get("expect_continuity"):
        # Without an executor (session_tracker alone) the transcripts are read where the steps say.
        validator = state.executor.validator if state.executor is not None else None
        reasons = assertions.chain_continuity(
            steps, validator, allow_new_sessions=bool(marker.get("allow_new_sessions"))
        )
        state.continuity = {"checked": True, "ok": not reasons, "reason": "; ".join(reasons) or None}
        if reasons:
            failures.append("session chain is not continuous:\n  " + "\n  ".join(reasons))
    budget_marker = item.get_closest_marker("claude_budget")
    if budget_marker is not None:
        try:
            limits = budget.BudgetLimits.from_kwargs(budget_marker.kwargs)
        except ValueError as exc:
            pytest.fail(str(exc), pytrace=False)
        verdict = budget.check_budget(steps, limits)
        state.budget = verdict.to_dict()
        if not verdict.ok:
            failures.append("claude_budget exceeded: " + "; ".join(verdict.reasons))
    return failures


def _failed_calls(state: _TestState) -> list[dict[str, Any]]:
    """The test's calls that raised (timeout, unknown session, budget guard, no binary...) as report rows.

    A ``check=True`` error result raised too, but it did record a step (with its error): it is counted
    there, not again here.
    """
    if state.executor is None:
        return []
    from pytest_claude_sessions.plugin.reporting import failure_record

    redact = state.tracker.redactor.redact
    return [failure_record(c.to_dict(), redact) for c in state.executor.failures if c.result is None]


def _finish_record(item: pytest.Item, state: _TestState) -> None:
    from pytest_claude_sessions.plugin import reporting

    steps = _test_steps(state)
    failed = _failed_calls(state)
    if not steps and not failed:
        return
    outcome = "passed"
    for when in ("setup", "call"):
        if state.outcomes.get(when) in ("failed", "skipped"):
            outcome = state.outcomes[when]
            break
    record = reporting.build_test_record(
        item.nodeid,
        state.agent_id,
        steps,
        outcome=outcome,
        continuity=state.continuity,
        budget=state.budget,
        failures=failed,
    )
    state.record = record
    item.user_properties.extend(reporting.junit_properties(record))


_PER_TEST_HOOKS = "claude_sessions_per_test"


def _register_per_test_hooks(config: pytest.Config) -> None:
    """Register the per-test hooks on first need, so suites that never touch Claude pay nothing per test.

    In a single process the collector of records is registered with them: records only ever come from
    these hooks, in this process. (An xdist controller registers its collector at session start.)
    """
    if not config.pluginmanager.has_plugin(_PER_TEST_HOOKS):
        config.pluginmanager.register(_PerTestHooks(), _PER_TEST_HOOKS)
        _register_collector(config)


class _PerTestHooks:
    """Per-test hooks: checks after the body, the report section, the record on the teardown report."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """After the body: continuity/budget checks, then the report section (before the call report)."""
        state = item.stash.get(_TEST, None)
        if state is None:
            if item.get_closest_marker("claude_session") and _session_marker(item).get("expect_continuity"):
                yield
                pytest.fail(
                    "claude_session(expect_continuity=True) but the test recorded no chain: it used neither "
                    "session_tracker nor claude_executor",
                    pytrace=False,
                )
            return (yield)
        failures: list[str] = []
        try:
            result = yield
            failures = _check_after_body(item, state)
        finally:
            steps = _test_steps(state)
            failed = _failed_calls(state)
            if steps or failed:
                from pytest_claude_sessions.plugin import reporting

                record = reporting.build_test_record(
                    item.nodeid,
                    state.agent_id,
                    steps,
                    continuity=state.continuity,
                    budget=state.budget,
                    failures=failed,
                )
                item.add_report_section("call", reporting.SECTION_KEY, reporting.section_text(record))
        if failures:
            from pytest_claude_sessions.assertions.continuity import format_chain

            table = format_chain(steps) if steps else "(no steps)"
            pytest.fail("\n".join(failures) + f"\nchain of agent {state.agent_id}:\n{table}", pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        rep = yield
        state = item.stash.get(_TEST, None)
        if state is not None:
            state.outcomes[rep.when] = rep.outcome
            if rep.when == "teardown" and state.record is not None:
                if rep.failed:
                    state.record["outcome"] = "failed"
                # A JSON-safe attribute: xdist copies it to the controller with the report.
                rep.claude_sessions = state.record
        return rep


@pytest.hookimpl
def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: object, right: object
) -> list[str] | None:
    from pytest_claude_sessions.assertions.continuity import compare_repr

    return compare_repr(op, left, right)


# --------------------------------------------------------------------------- controller: summary and JSON


class _Collector:
    """Collects per-test records on the controller (or the single process) from the reports."""

    def __init__(self, state: _RunState) -> None:
        self.state = state

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            record = getattr(report, "claude_sessions", None)
            if isinstance(record, dict):
                self.state.ensure_report().add(record)


_COLLECTOR = "claude_sessions_collector"


def _register_collector(config: pytest.Config) -> None:
    state = config.stash.get(_RUN, None)
    if state is not None and state.run is not None and not config.pluginmanager.has_plugin(_COLLECTOR):
        config.pluginmanager.register(_Collector(state), _COLLECTOR)


def pytest_sessionstart(session: pytest.Session) -> None:
    # Under xdist the records arrive from workers on their reports: the controller cannot know in advance
    # whether any test will touch Claude, so it listens from the start. A single process registers the
    # collector lazily with the per-test hooks (a suite without Claude then pays no per-report call).
    from pytest_claude_sessions.plugin.xdist import is_controller

    if is_controller(session.config):
        _register_collector(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_RUN, None)
    if state is None or state.run is None:
        return
    from pytest_claude_sessions.plugin.reporting import write_json_report

    if state.report is not None:  # the controller, and some test touched Claude
        # The run directory keeps its own JSON report: `claude-sessions` reads outcomes and verdicts there.
        try:
            write_json_report(state.run_dir / "report.json", state.report.to_json())
        except OSError as exc:
            state.json_error = f"could not write the JSON report into the run directory: {exc}"
    if state.settings.json_report is None:
        return
    try:
        write_json_report(state.settings.json_report, state.ensure_report().to_json())
    except OSError as exc:
        state.json_error = f"could not write the JSON report to {state.settings.json_report}: {exc}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    state = config.stash.get(_RUN, None)
    if state is None or state.report is None:
        return
    lines = state.report.summary_lines(state.settings.report)
    if state.settings.json_report is not None and state.settings.report != "none" and not state.json_error:
        lines.append(f"JSON report: {state.settings.json_report}")
    if not lines and not state.json_error:
        return
    terminalreporter.write_sep("-", "claude sessions")
    for line in lines:
        terminalreporter.write_line(line)
    if state.json_error:
        terminalreporter.write_line(state.json_error, red=True, bold=True)
