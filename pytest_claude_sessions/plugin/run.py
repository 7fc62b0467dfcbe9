"""The run object: this process's view of one pytest run, kept in ``config.stash``.

One :class:`ClaudeRun` per process. The controller (or the single process) resolves the settings,
creates the run directory in the store, collects every test's record from the reports, reconciles them
with the store at the end and writes the summary and the JSON report. An xdist worker gets the resolved
settings and the run directory from the controller (``workerinput``) and only runs tests.

Start-up cost matters (every run of a project with the plugin installed pays it): nothing heavy is
imported at module level, and the per-test hooks are registered only once a test needs them.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_claude_sessions.plugin import xdist
from pytest_claude_sessions.plugin.options import Settings

if TYPE_CHECKING:
    from pytest_claude_sessions.plugin.housekeeping import CassetteHousekeeping
    from pytest_claude_sessions.plugin.outputs import RunOutputs
    from pytest_claude_sessions.report import records
    from pytest_claude_sessions.store import runs

_RUN = pytest.StashKey["ClaudeRun"]()
PER_TEST_PLUGIN = "claude_sessions_per_test"
COLLECTOR_PLUGIN = "claude_sessions_collector"
XDIST_PLUGIN = "claude_sessions_xdist"
HOUSEKEEPING_PLUGIN = "claude_sessions_housekeeping"


def of(config: pytest.Config) -> ClaudeRun:
    """The run object of ``config`` (made by ``pytest_configure``)."""
    return config.stash[_RUN]


def maybe(config: pytest.Config) -> ClaudeRun | None:
    return config.stash.get(_RUN, None)


def configure(config: pytest.Config) -> None:
    """``pytest_configure``: markers, then the run object (controller: settings resolved and checked,
    the run directory created; worker: the controller's settings and run directory)."""
    from pytest_claude_sessions.plugin import markers

    markers.register(config)
    config.stash[_RUN] = ClaudeRun.start(config)


def unconfigure(config: pytest.Config) -> None:
    """``pytest_unconfigure`` (also after a start-up error, when there is no run object)."""
    run = maybe(config)
    if run is not None:
        run.unconfigure()


class ClaudeRun:
    """Settings, run directory, role (controller, worker or single process) and the run's report."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        *,
        run_id: str = "",
        run_dir: Path,
        run: runs.RunDir | None = None,
        search_roots: tuple[str, ...] = (),
    ) -> None:
        self.config = config
        self.settings = settings
        self.run_id = run_id
        self.run_dir = run_dir
        self.run = run  # controller (or single process) only: holds the active lock
        self.search_roots = search_roots  # where a project-local CLI is looked for: rootdir, invocation dir
        self.pruned: list[str] = []
        self.json_error: str | None = None
        self._report: records.RunReport | None = None
        self._resolved_bin: str | None = None
        self.housekeeping: CassetteHousekeeping | None = None
        self.outputs: RunOutputs | None = None  # controller only

    # ------------------------------------------------------------------ start-up

    @classmethod
    def start(cls, config: pytest.Config) -> ClaudeRun:
        roots = tuple(dict.fromkeys((str(config.rootpath), str(config.invocation_params.dir))))
        payload = xdist.worker_payload(config)
        if payload is not None:
            # A worker: the controller resolved and checked everything; use its absolute paths verbatim.
            run = cls(
                config,
                Settings.from_wire(payload["settings"]),
                run_id=payload["run_id"],
                run_dir=Path(payload["run_dir"]),
                search_roots=tuple(payload.get("search_roots", roots)),
            )
            # The CLI the controller found (and showed in the header): every process gates the same way.
            run._resolved_bin = payload.get("resolved_bin")
            return run
        settings = _resolve(config)
        run = cls(config, settings, run_dir=settings.sessions_dir, search_roots=roots)
        if not _runs_tests(config, settings):
            # Nothing runs: no run directory, no pruning (--collect-only, --help, cassette housekeeping).
            run.start_housekeeping()
            return run
        run.check_bin()
        run.start_outputs()  # before the run directory: --claude-compare=previous sees the unpruned runs
        run.create_run_dir()
        run.start_xdist()
        return run

    def check_bin(self) -> None:
        """A ``--claude-bin`` (or ``$CLAUDE_BIN``, ini ``claude_bin``) that is no executable is a start-up
        error naming the option and where its value came from, not an error in every test that calls."""
        if self.settings.bin is not None and self.resolved_bin() == "not found":
            raise pytest.UsageError(
                str(self.settings.invalid("bin", "not an executable file (nor a command on PATH)"))
            )

    def start_outputs(self) -> None:
        """Output paths (JSON, HTML, baseline) that could not be written at the end, and a baseline that
        cannot be found, are start-up errors: found now, not after a long (and maybe costly) run."""
        from pytest_claude_sessions.plugin.outputs import RunOutputs

        self.outputs = RunOutputs.start(self.settings)

    def create_run_dir(self) -> None:
        from pytest_claude_sessions.store import runs

        settings = self.settings
        try:
            self.run = runs.create_run(settings.sessions_dir)
        except OSError as exc:
            why = f"cannot create a run directory there: {exc}"
            raise pytest.UsageError(str(settings.invalid("sessions_dir", why))) from None
        self.run_id, self.run_dir = self.run.run_id, self.run.path
        current = self.run.path
        self.pruned = [
            p.name for p in runs.prune_runs(settings.sessions_dir, settings.keep_runs, current=current)
        ]

    def start_xdist(self) -> None:
        """On the controller of a distributed run: ship settings and the run directory to each worker,
        note workers that go down."""
        if not xdist.is_controller(self.config):
            return
        wire = {
            "settings": self.settings.to_wire(),
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "search_roots": list(self.search_roots),
            "resolved_bin": self.resolved_bin(),
        }
        self.config.pluginmanager.register(xdist.XdistHooks(wire, self.worker_down), XDIST_PLUGIN)

    def start_housekeeping(self) -> None:
        if not self.settings.runs_no_tests:
            return
        from pytest_claude_sessions.plugin.housekeeping import CassetteHousekeeping

        self.housekeeping = CassetteHousekeeping.start(self.config, self.settings)
        self.config.pluginmanager.register(self.housekeeping, HOUSEKEEPING_PLUGIN)

    # ------------------------------------------------------------------ roles and lazy parts

    @property
    def is_controller(self) -> bool:
        """Holds the run directory: the xdist controller or the single process."""
        return self.run is not None

    @property
    def report(self) -> records.RunReport:
        """The controller's run report, made on first use (a run without Claude never imports reporting)."""
        if self._report is None:
            from pytest_claude_sessions.report.records import RunReport

            self._report = RunReport(self.run_id, str(self.run_dir), settings=self.settings.to_wire())
        return self._report

    def resolved_bin(self) -> str:
        """The CLI the tests will run, found the way the executor finds it (setting, $CLAUDE_BIN, PATH,
        then project-local installs under the rootdir and invocation dir), or ``"not found"``. A few
        stat calls, done once per process."""
        if self._resolved_bin is None:
            from pytest_claude_sessions.errors import ClaudeSessionsError
            from pytest_claude_sessions.locate import find_claude_bin

            try:
                self._resolved_bin = str(find_claude_bin(self.settings.bin, roots=self.search_roots))
            except ClaudeSessionsError:
                self._resolved_bin = "not found"
        return self._resolved_bin

    def need_per_test_hooks(self) -> None:
        """Register the per-test hooks on first need, so suites that never touch Claude pay nothing per
        test. A single process registers the collector with them: records only ever come from these
        hooks, in this process (an xdist controller registers its collector at session start)."""
        manager = self.config.pluginmanager
        if not manager.has_plugin(PER_TEST_PLUGIN):
            from pytest_claude_sessions.plugin.item import PerTestHooks

            manager.register(PerTestHooks(self), PER_TEST_PLUGIN)
            self.need_collector()

    def need_collector(self) -> None:
        manager = self.config.pluginmanager
        if self.is_controller and not manager.has_plugin(COLLECTOR_PLUGIN):
            manager.register(Collector(self), COLLECTOR_PLUGIN)

    def worker_down(self, worker: str, error: str) -> None:
        self.report.workers_down.append({"worker": worker, "error": error})

    # ------------------------------------------------------------------ hooks

    def header(self) -> list[str]:
        """The effective settings and where each came from, plus this run's directory."""
        lines = self.settings.header_lines(self.resolved_bin())
        if self.run is not None:
            lines.append(f"claude-sessions: run={self.run_dir}")
        if self.pruned:
            lines.append(f"claude-sessions: pruned {len(self.pruned)} old run(s)")
        return lines

    def collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from pytest_claude_sessions.plugin.item import gate_items

        gate_items(self, items)

    def session_start(self) -> None:
        # Under xdist the records arrive from workers on their reports: the controller cannot know in
        # advance whether any test will touch Claude, so it listens from the start.
        if xdist.is_controller(self.config):
            self.need_collector()

    def session_finish(self, session: pytest.Session) -> None:
        if self.housekeeping is not None:
            self.housekeeping.session_finish(session)
        if self.run is None:
            return
        if self._report is not None or self._store_has_chains():
            self.report.reconcile(self._store_chains())
        from pytest_claude_sessions.plugin.reporting import write_json_report

        wrote_report = False
        if self._report is not None:  # some test touched Claude
            # The run directory keeps its own JSON report: `claude-sessions` reads outcomes and verdicts
            # there.
            try:
                write_json_report(self.run_dir / "report.json", self.report.to_json())
                wrote_report = True
            except OSError as exc:
                self.json_error = f"could not write the JSON report into the run directory: {exc}"
        if self.settings.json_report is not None:
            try:
                write_json_report(self.settings.json_report, self.report.to_json())
            except OSError as exc:
                self.json_error = f"could not write the JSON report to {self.settings.json_report}: {exc}"
                if session.exitstatus == pytest.ExitCode.OK:  # a green build must not lose its report unseen
                    session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        if self.outputs is not None:
            records = self._report.sorted_records() if self._report is not None else []
            self.outputs.finish(self.run_id, self.run_dir, records, wrote_report)
            if self.outputs.failed and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED  # the regression gate

    def terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        from pytest_claude_sessions.plugin.reporting import write_summary

        housekeeping = [] if self.housekeeping is None else self.housekeeping.summary_lines()
        write_summary(terminalreporter, self._report, self.settings, self.json_error, housekeeping)
        if self.outputs is not None:
            self.outputs.write_summary(terminalreporter)

    def unconfigure(self) -> None:
        if self.run is not None:
            # Every worker has finished by now: a run in which no test recorded a step leaves nothing.
            self.run.discard_if_empty()

    # ------------------------------------------------------------------ the store at the end

    def _store_has_chains(self) -> bool:
        """Anything in the run directory besides its lock (cheap: no store module imported)."""
        try:
            with os.scandir(self.run_dir) as entries:
                return any(not e.name.startswith(".active") for e in entries)
        except OSError:
            return False

    def _store_chains(self) -> dict[str, list[Any]]:
        """Every chain the run's store holds (all workers, crashed ones included)."""
        from pytest_claude_sessions.errors import ClaudeSessionsError
        from pytest_claude_sessions.store.session_store import SessionStore

        try:
            return dict(SessionStore(self.run_dir, create=False).load_all())
        except (ClaudeSessionsError, OSError):
            return {}


class Collector:
    """Collects each test's record and cassette report from the teardown reports (controller or single
    process), and notes the tests whose xdist worker died under them."""

    def __init__(self, run: ClaudeRun) -> None:
        self.run = run

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Called for every report of the run: only those that carry something reach the report object.
        when: str = report.when
        if when == "???" or getattr(report, "claude_sessions", None) is not None:
            self.run.report.add_report(report)


def _resolve(config: pytest.Config) -> Settings:
    from pytest_claude_sessions.errors import SettingsError
    from pytest_claude_sessions.plugin.options import resolve_settings

    try:
        return resolve_settings(
            getoption=lambda dest: config.getoption(dest, None),
            getini=config.getini,
            environ=os.environ,
            rootpath=config.rootpath,
            inipath=config.inipath,
            invocation_dir=config.invocation_params.dir,
            overrides=getattr(config.option, "override_ini", None) or (),
        )
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None


def _runs_tests(config: pytest.Config, settings: Settings) -> bool:
    """Runs that execute no test: --collect-only, --help, --version, the cassette housekeeping."""
    option = config.option
    return not (option.collectonly or option.help or option.version or settings.runs_no_tests)
