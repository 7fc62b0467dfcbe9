"""pytest wiring for cassettes: options, the ``claude_cassette`` marker and fixture, unused-cassette listing.

Loaded by ``plugin.py`` (``pytest_plugins``); the record/replay work lives in :mod:`.cassettes`. A test
uses a cassette when it is marked ``@pytest.mark.claude_cassette(...)``, requests the ``claude_cassette``
fixture, or uses ``claude_executor`` while ``--claude-cassettes`` is on. The cassette is attached to the
test's executor through the ``pytest_claude_sessions_executor`` hook and finished at teardown: saved unless
the test failed, then checked for unused interactions.

Record mode precedence: ``--claude-record-mode`` > ``$PYTEST_CLAUDE_RECORD_MODE`` > the marker's ``mode``
> ini ``claude_record_mode`` > ``none``. The command line beats the marker so that the command a miss
prints (``pytest '<node id>' --claude-record-mode=once``) always records. The report header says where the
run's mode came from; each test's "claude cassette" section says its own (``marker`` when the marker won).

Start-up cost matters (every run of a project with the plugin installed pays it): only the mode names
(:mod:`.cassette_modes`) are imported here; the record/replay modules are imported by the hooks and the
fixture that need them, and the per-test hooks are registered by the ``claude_cassette`` fixture, so a
suite that never uses a cassette gets no per-test hook from this module.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_claude_sessions.cassettes.modes import RECORD_MODES, RecordMode, parse_record_mode

if TYPE_CHECKING:
    from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor, CassetteReport
    from pytest_claude_sessions.executor.executor import ClaudeExecutor

__all__ = [
    "CassetteSettings",
    "MarkerError",
    "build_cassette",
    "cassette_path_for",
    "lists_cassettes_only",
    "resolve_cassette_settings",
    "unused_cassettes",
]

MODE_ENV = "PYTEST_CLAUDE_RECORD_MODE"
ALL_ENV = "PYTEST_CLAUDE_CASSETTES"
DIR_ENV = "PYTEST_CLAUDE_CASSETTE_DIR"
MARKER = (
    "claude_cassette(mode=None, name=None, dir=None, match_on=None, allow_unused=False, "
    "record_on_failure=False, redact=(), slim=None): record/replay this test's Claude CLI calls in a "
    f"cassette (modes: {', '.join(RECORD_MODES)}; default none = replay only)."
)
MARKER_KWARGS = frozenset(
    {"mode", "name", "dir", "match_on", "allow_unused", "record_on_failure", "redact", "slim"}
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class CassetteSettings:
    """The run-wide cassette settings; ``mode_source`` is ``cli``, ``env``, ``ini`` or ``default``.

    ``record_args``: the command-line options a pasted record command must repeat to reach the same
    cassette (``--claude-cassettes``, ``--claude-cassette-dir``, ``-c``/``--rootdir`` when given there).
    """

    mode: RecordMode = "none"
    mode_source: str = "default"
    apply_to_all: bool = False
    cassette_dir: Path | None = None  # replaces <module dir>/cassettes; keeps <module path>/<test>.json
    redact: tuple[str, ...] = ()
    slim: bool = True
    list_unused: bool = False
    prune_unused: bool = False
    record_args: tuple[str, ...] = ()
    all_from_cli: bool = False  # --claude-cassettes given (then it is in record_args already)

    @property
    def mode_forced(self) -> bool:
        """An explicit command-line/env mode beats each test's marker."""
        return self.mode_source in ("cli", "env")


_SETTINGS = pytest.StashKey[CassetteSettings]()
_OUTCOMES = pytest.StashKey[dict[str, str]]()
_REPORT_KEY = pytest.StashKey["CassetteReport"]()
_SOURCE_KEY = pytest.StashKey[str]()
_RUN_PLUGIN = "claude_sessions_cassettes"
_SOURCE_TEXT = {
    "cli": "--claude-record-mode",
    "env": f"${MODE_ENV}",
    "ini": "ini claude_record_mode",
    "marker": "the claude_cassette marker",
    "default": "the default",
}


# --------------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the cassette options in the ``claude-sessions`` group."""
    group = parser.getgroup("claude-sessions", "claude-sessions")
    group.addoption(
        "--claude-record-mode",
        dest="claude_record_mode",
        default=None,
        choices=RECORD_MODES,
        help=f"Cassette record mode: {', '.join(RECORD_MODES)} (default none: replay only) (env ${MODE_ENV})",
    )
    group.addoption(
        "--claude-cassettes",
        dest="claude_cassettes",
        action="store_const",
        const="1",
        default=None,
        help=f"Use a cassette for every test that uses claude_executor, marked or not (env ${ALL_ENV})",
    )
    group.addoption(
        "--claude-cassette-dir",
        dest="claude_cassette_dir",
        default=None,
        help="Directory for all cassettes instead of <test dir>/cassettes (env $" + DIR_ENV + ")",
    )
    group.addoption(
        "--claude-cassettes-unused",
        dest="claude_cassettes_unused",
        action="store_true",
        default=False,
        help="List cassettes that no collected test uses, then exit without running tests (1 if any)",
    )
    group.addoption(
        "--claude-prune-cassettes",
        dest="claude_prune_cassettes",
        action="store_true",
        default=False,
        help="Delete cassettes that no collected test uses, then exit without running tests",
    )
    parser.addini("claude_record_mode", "Cassette record mode (default: none)", type="string", default="")
    parser.addini(
        "claude_cassettes", "Use cassettes for every claude_executor test", type="bool", default=False
    )
    parser.addini("claude_cassette_dir", "Directory for all cassettes", type="string", default="")
    parser.addini(
        "claude_cassette_redact", "Extra regexes redacted from cassettes", type="linelist", default=[]
    )
    parser.addini(
        "claude_cassette_slim",
        "Record slim transcripts (no wire-debugging records, long attachment fields elided); default true, "
        "false records every transcript record whole",
        type="bool",
        default=True,
    )


def _ini_where(config: pytest.Config, name: str) -> str:
    """Where ini value ``name`` came from: ``-o name=...`` on the command line, or the ini file."""
    overrides = getattr(config.option, "override_ini", None) or []
    if any(str(item).split("=", 1)[0].strip() == name for item in overrides):
        return f"-o {name} (command line)"
    return f"ini {name}" + (f" ({config.inipath})" if config.inipath is not None else "")


def _ini_bool(config: pytest.Config, name: str) -> bool:
    try:
        return bool(config.getini(name))
    except (ValueError, pytest.UsageError) as exc:  # pytest says only "invalid truth value 'x'"
        raise pytest.UsageError(f"invalid {_ini_where(config, name)}: {exc} (use true or false)") from None


def resolve_cassette_settings(config: pytest.Config) -> CassetteSettings:
    """Read options, env and ini (CLI > env > ini > default); raises ``pytest.UsageError`` on bad values.

    The error names the option, the value and where it came from (command line, env var, ini file).
    """
    environ = os.environ
    # every source is checked, not only the one that wins: a typo in pytest.ini must not hide until the
    # day the env var that overrides it is unset
    candidates = [
        (config.getoption("claude_record_mode", None), "cli", "--claude-record-mode"),
        (environ.get(MODE_ENV, "").strip() or None, "env", f"${MODE_ENV}"),
        (
            str(config.getini("claude_record_mode")).strip() or None,
            "ini",
            _ini_where(config, "claude_record_mode"),
        ),
    ]
    mode: RecordMode = "none"
    source = "default"
    for raw, origin, where in reversed(candidates):
        if raw is None:
            continue
        try:
            mode, source = parse_record_mode(raw), origin
        except ValueError:
            raise pytest.UsageError(
                f"invalid record mode {raw!r} from {where}; use one of: {', '.join(RECORD_MODES)}"
            ) from None
    record_args: list[str] = []
    apply_all = bool(config.getoption("claude_cassettes", None))
    if apply_all:
        record_args.append("--claude-cassettes")
    elif environ.get(ALL_ENV, "").strip():
        value = environ[ALL_ENV].strip().lower()
        if value not in _TRUE | _FALSE:
            raise pytest.UsageError(
                f"invalid ${ALL_ENV} value {environ[ALL_ENV]!r} (from the environment): not a boolean "
                "(use 1 or 0)"
            )
        apply_all = value in _TRUE
    else:
        apply_all = _ini_bool(config, "claude_cassettes")
    directory: Path | None = None
    cli_dir = config.getoption("claude_cassette_dir", None)
    raw_dir = cli_dir or environ.get(DIR_ENV, "").strip()
    if raw_dir:
        directory = (config.invocation_params.dir / str(raw_dir)).resolve()
        # from the env, the absolute dir: an inline ``VAR=... pytest`` does not reach a pasted command
        record_args.append(f"--claude-cassette-dir={cli_dir or directory}")
    elif str(config.getini("claude_cassette_dir")).strip():
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        directory = (base / str(config.getini("claude_cassette_dir")).strip()).resolve()
    # a pasted record command must find the same configuration (and so the same cassette)
    if getattr(config.option, "inifilename", None):
        record_args.append(f"--config-file={config.option.inifilename}")
    if getattr(config.option, "rootdir", None):
        record_args.append(f"--rootdir={config.option.rootdir}")
    redact = tuple(str(p) for p in config.getini("claude_cassette_redact"))
    try:  # compiled once here: a bad pattern is a start-up error, not an error in every test
        _check_redact_patterns(redact)
    except ValueError as exc:
        raise pytest.UsageError(
            f"invalid {_ini_where(config, 'claude_cassette_redact')}: {exc} (one regex per line)"
        ) from None
    cli_all = bool(config.getoption("claude_cassettes", None))
    return CassetteSettings(
        mode=mode,
        mode_source=source,
        apply_to_all=apply_all,
        cassette_dir=directory,
        redact=redact,
        slim=_ini_bool(config, "claude_cassette_slim"),
        list_unused=bool(config.getoption("claude_cassettes_unused", False)),
        prune_unused=bool(config.getoption("claude_prune_cassettes", False)),
        record_args=tuple(record_args),
        all_from_cli=cli_all,
    )


def _check_redact_patterns(patterns: tuple[str, ...]) -> None:
    """Compile ``patterns`` as a ``Redactor`` would; raises its ``ValueError`` (imported only if any)."""
    if patterns:
        from pytest_claude_sessions.redact import Redactor

        Redactor(patterns)


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(_SETTINGS, None)
    if settings is None:
        return []
    scope = "every claude_executor test" if settings.apply_to_all else "marked tests"
    where = str(settings.cassette_dir) if settings.cassette_dir else "<test dir>/cassettes"
    return [f"claude-cassettes: mode={settings.mode} ({settings.mode_source}), for {scope}, dir={where}"]


def _xdist_active(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) or hasattr(config, "workerinput")


# --------------------------------------------------------------------------- which tests, which file


class MarkerError(ValueError):
    """A ``claude_cassette`` marker with bad arguments (the message names the test)."""


def _marker_kwargs(item: pytest.Item) -> dict[str, Any] | None:
    marker = item.get_closest_marker("claude_cassette")
    if marker is None:
        return None
    if marker.args:
        raise MarkerError(f"{item.nodeid}: claude_cassette takes keyword arguments only, got {marker.args!r}")
    unknown = set(marker.kwargs) - MARKER_KWARGS
    if unknown:
        raise MarkerError(
            f"{item.nodeid}: claude_cassette got unknown argument(s) {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(MARKER_KWARGS))}"
        )
    return dict(marker.kwargs)


def _opted_in(item: pytest.Item) -> bool:
    """Marked ``claude_cassette`` or asking for the fixture: a cassette whatever the switch says."""
    names = getattr(item, "fixturenames", ())
    return "claude_cassette" in names or item.get_closest_marker("claude_cassette") is not None


def uses_cassette(item: pytest.Item, settings: CassetteSettings) -> bool:
    """Whether ``item`` records/replays: marked, asks for ``claude_cassette``, or the switch is on."""
    names = getattr(item, "fixturenames", ())
    if "claude_cassette" in names:
        return True
    if "claude_executor" not in names:
        return False
    return settings.apply_to_all or item.get_closest_marker("claude_cassette") is not None


def cassette_test_name(item: pytest.Item) -> str:
    """The name a cassette file is made from: classes, the function and the parametrize id."""
    classes = [node.name for node in item.listchain() if isinstance(node, pytest.Class)]
    return ".".join([*classes, item.name])


def cassette_path_for(item: pytest.Item, settings: CassetteSettings) -> Path:
    """The cassette file of ``item``: marker ``name``/``dir``, else the run's dir, else beside the module."""
    kwargs = _marker_kwargs(item) or {}
    module = Path(item.path)
    directory: Path | None = None
    if kwargs.get("dir") is not None:
        directory = Path(str(kwargs["dir"]))
        if not directory.is_absolute():
            directory = module.parent / directory
    elif settings.cassette_dir is not None:
        rel = os.path.relpath(module.with_suffix(""), item.config.rootpath)
        directory = (
            settings.cassette_dir / rel if not rel.startswith("..") else settings.cassette_dir / module.stem
        )
    name = kwargs.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise MarkerError(f"{item.nodeid}: claude_cassette(name=...) must be a non-empty string")
    from pytest_claude_sessions.cassettes.files import default_cassette_path
    from pytest_claude_sessions.redact import Redactor

    # a secret in a parametrize id must not end up in a committed file name
    test_name = Redactor(settings.redact).redact(cassette_test_name(item))
    return default_cassette_path(module, test_name, cassette_dir=directory, name=name)


def record_mode_for(item: pytest.Item, settings: CassetteSettings) -> tuple[RecordMode, str]:
    """The record mode of ``item`` and its source (``cli``, ``env``, ``marker``, ``ini`` or ``default``).

    The marker's ``mode`` is always checked (a typo fails the test even when the command line wins).
    """
    kwargs = _marker_kwargs(item) or {}
    if kwargs.get("mode") is None:
        return settings.mode, settings.mode_source
    try:
        marked = parse_record_mode(kwargs["mode"], where=f"claude_cassette(mode=...) of {item.nodeid}")
    except ValueError as exc:
        raise MarkerError(str(exc)) from None
    if settings.mode_forced:
        return settings.mode, settings.mode_source
    return marked, "marker"


def build_cassette(item: pytest.Item, settings: CassetteSettings) -> CassetteInterceptor:
    """The cassette of ``item`` per its marker and the run's settings; raises ``ValueError`` on bad args."""
    from pytest_claude_sessions.cassettes.matching import normalize_match_on
    from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor

    kwargs = _marker_kwargs(item) or {}
    mode, source = record_mode_for(item, settings)
    item.stash[_SOURCE_KEY] = source
    try:
        match_on = normalize_match_on(kwargs.get("match_on"))
    except ValueError as exc:
        raise MarkerError(f"{item.nodeid}: claude_cassette: {exc}") from None
    redact = kwargs.get("redact") or ()
    redact = (redact,) if isinstance(redact, str) else tuple(redact)
    return CassetteInterceptor(
        cassette_path_for(item, settings),
        mode=mode,
        match_on=match_on,
        allow_unused=bool(kwargs.get("allow_unused", False)),
        record_on_failure=bool(kwargs.get("record_on_failure", False)),
        node_id=item.nodeid,
        record_command=record_command(item, settings),
        redact_patterns=[*settings.redact, *redact],
        slim=settings.slim if kwargs.get("slim") is None else bool(kwargs["slim"]),
    )


def record_command(item: pytest.Item, settings: CassetteSettings | None = None) -> str:
    """The shell command that re-runs just this test from the directory pytest was started in.

    It repeats the command-line options that decide which cassette the test uses (``settings.record_args``);
    env vars and ini settings still apply when it is pasted into the same shell and project.
    """
    file_part, sep, rest = item.nodeid.partition("::")
    target = os.path.relpath(item.config.rootpath / file_part, item.config.invocation_params.dir)
    extra = [shlex.quote(arg) for arg in settings.record_args] if settings is not None else []
    if settings is not None and settings.apply_to_all and not settings.all_from_cli and not _opted_in(item):
        # the test uses a cassette only through the switch: from env/ini it may not reach a pasted command
        # (``PYTEST_CLAUDE_CASSETTES=1 pytest ...`` typed inline, another checkout's ini)
        extra.insert(0, "--claude-cassettes")
    return " ".join(["pytest", shlex.quote(target + sep + rest), *extra])


# --------------------------------------------------------------------------- fixture and executor hook


@pytest.fixture
def claude_cassette(request: pytest.FixtureRequest) -> Iterator[CassetteInterceptor]:
    """This test's cassette (a ``CassetteInterceptor``): saved at teardown unless the test failed.

    Under replay no call reaches the CLI, so ``claude_api_stub`` (still started: a call that records
    needs it) sees no request. ``claude_cassette.replaying`` says whether every call of this test
    replays; guard assertions on stub traffic with it, or use each result's ``replayed``.
    """
    __tracebackhide__ = True
    item = request.node
    _register_per_test_hooks(request.config)  # before the setup report: it records that outcome too
    try:
        interceptor = build_cassette(item, request.config.stash[_SETTINGS])
    except (MarkerError, ValueError) as exc:
        pytest.fail(str(exc), pytrace=False)
    item.stash[_OUTCOMES] = {}
    yield interceptor
    outcomes = item.stash.get(_OUTCOMES, {}).values()
    failed = any(v == "failed" for v in outcomes)
    skipped = not failed and any(v == "skipped" for v in outcomes)  # also xfail: the test did not pass
    report: CassetteReport | None = None
    try:
        report = interceptor.finish(failed=failed, skipped=skipped)
    finally:
        if report is None:  # finish raised after saving: the report is kept on the interceptor
            report = interceptor.finish(failed=failed, check=False, skipped=skipped)
        item.stash[_REPORT_KEY] = report
        source = item.stash.get(_SOURCE_KEY, None)
        item.add_report_section("teardown", "claude cassette", section_text(report, mode_source=source))


def section_text(report: CassetteReport, *, mode_source: str | None = None) -> str:
    """The per-test report section: which cassette and its provenance, the mode and where it came from,
    what was replayed/recorded, saved or why not."""
    provenance = [
        f"CLI {report.cli_version}" if report.cli_version else "CLI version unknown",
        *([f"recorded {report.recorded_at}"] if report.recorded_at else []),
    ]
    if len(report.cli_versions) > 1:
        provenance.append(f"interactions from CLI {', '.join(report.cli_versions)}")
    exists = report.saved or report.path.exists()
    mode = report.mode + (f" (from {_SOURCE_TEXT.get(mode_source, mode_source)})" if mode_source else "")
    lines = [
        f"cassette: {report.path}" + (f" ({'; '.join(provenance)})" if exists else " (no file)"),
        f"mode: {mode}; replayed {report.replayed} call(s), recorded {report.recorded}",
        "saved" if report.saved else f"not saved: {report.not_saved_reason}",
    ]
    if report.unused:
        lines.append(f"unused recorded interactions: #{', #'.join(map(str, report.unused))}")
    if report.superseded:
        lines.append(
            f"superseded (re-recorded at the same position, dropped{' on save' if report.saved else ''}): "
            f"#{', #'.join(map(str, report.superseded))}"
        )
    return "\n".join(lines)


@pytest.hookimpl
def pytest_claude_sessions_executor(executor: ClaudeExecutor, request: pytest.FixtureRequest) -> None:
    """Attach the test's cassette to the ``claude_executor`` it uses (when the test uses cassettes)."""
    settings = request.config.stash[_SETTINGS]
    if uses_cassette(request.node, settings) and executor.interceptor is None:
        executor.interceptor = request.getfixturevalue("claude_cassette")


_PER_TEST_HOOKS = "claude_sessions_cassettes_per_test"
_COLLECTOR = "claude_sessions_cassettes_collector"
_LISTER = "claude_sessions_cassettes_lister"


def _register_per_test_hooks(config: pytest.Config) -> None:
    """Register the per-test hooks on first use of a cassette (suites without one pay nothing per test).

    In a single process (and in an xdist worker) the collector of cassette reports comes with them: the
    reports only come from these hooks. An xdist controller registers its collector at session start.
    """
    manager = config.pluginmanager
    if not manager.has_plugin(_PER_TEST_HOOKS):
        manager.register(_PerTestHooks(), _PER_TEST_HOOKS)
        _register_collector(config)


class _PerTestHooks:
    """Per-test hook: each phase's outcome for the fixture's teardown, the cassette on the teardown report."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        rep = yield
        outcomes = item.stash.get(_OUTCOMES, None)
        if outcomes is not None:
            outcomes[rep.when] = rep.outcome
        report = item.stash.get(_REPORT_KEY, None)
        if rep.when == "teardown" and report is not None:
            rep.claude_cassette = {**report.to_dict(), "nodeid": item.nodeid}  # JSON-safe: crosses xdist
        return rep


class _Collector:
    """Collects the cassette reports of the teardown reports (controller or single process)."""

    def __init__(self, run: _CassetteRun) -> None:
        self.run = run

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "claude_cassette", None)
        if report.when == "teardown" and isinstance(data, dict):
            self.run.reports.append(data)


def _register_collector(config: pytest.Config) -> None:
    run = config.pluginmanager.get_plugin(_RUN_PLUGIN)
    if isinstance(run, _CassetteRun) and not config.pluginmanager.has_plugin(_COLLECTOR):
        config.pluginmanager.register(_Collector(run), _COLLECTOR)


class _Lister:
    """Keeps every collected item, before -k/-m deselection (registered only to list/prune cassettes)."""

    def __init__(self, run: _CassetteRun) -> None:
        self.run = run

    @pytest.hookimpl
    def pytest_itemcollected(self, item: pytest.Item) -> None:
        self.run.collected.append(item)


# --------------------------------------------------------------------------- run-wide: summary and unused


class _CassetteRun:
    """Per-process run state (registered as a plugin object, never a module global)."""

    def __init__(self, config: pytest.Config, settings: CassetteSettings) -> None:
        self.config = config
        self.settings = settings
        self.reports: list[dict[str, Any]] = []
        self.collected: list[pytest.Item] = []
        self.unused: list[Path] = []
        self.pruned: list[Path] = []
        self.lister = settings.list_unused or settings.prune_unused

    # ---------------------------------------------------------------- unused cassettes
    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.lister:
            return
        if session.testsfailed:
            raise pytest.UsageError(
                "collection had errors: cassettes of the tests that failed to collect would look unused; "
                "fix the errors before listing or pruning cassettes"
            )
        try:
            self.unused = unused_cassettes(self.collected, self.settings)
        except MarkerError as exc:
            raise pytest.UsageError(str(exc)) from None
        if self.settings.prune_unused:
            from pytest_claude_sessions.cassettes.files import prune_cassettes

            self.pruned = prune_cassettes(self.unused)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        return True if self.lister else None  # list/prune only: run no test

    @pytest.hookimpl
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # Under xdist the cassette reports arrive from the workers: the controller cannot know in advance
        # whether any test uses a cassette, so it listens from the start.
        from pytest_claude_sessions.plugin.xdist import is_controller

        if is_controller(self.config):
            _register_collector(self.config)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.settings.list_unused and not self.settings.prune_unused and self.unused:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    # ---------------------------------------------------------------- summary

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        lines = summary_lines(self.reports, self.settings, self.unused, self.pruned, lister=self.lister)
        if lines:
            terminalreporter.write_sep("-", "claude cassettes")
            for line in lines:
                terminalreporter.write_line(line)


def summary_lines(
    reports: list[dict[str, Any]],
    settings: CassetteSettings,
    unused: list[Path],
    pruned: list[Path],
    *,
    lister: bool,
) -> list[str]:
    """The terminal summary: per-run counts, cassettes not saved and why, unused or pruned files."""
    lines: list[str] = []
    if lister:
        if settings.prune_unused:
            lines.append(f"pruned {len(pruned)} unused cassette(s)")
            lines += [f"  deleted {p}" for p in pruned]
        else:
            lines.append(
                f"{len(unused)} unused cassette(s)"
                + (" (delete with --claude-prune-cassettes)" if unused else "")
            )
            lines += [f"  {p}" for p in unused]
        return lines
    if not reports:
        return lines
    replayed = sum(int(r.get("replayed", 0)) for r in reports)
    recorded = sum(int(r.get("recorded", 0)) for r in reports)
    saved = sum(1 for r in reports if r.get("saved"))
    lines.append(
        f"mode {settings.mode}: {len(reports)} test(s) with cassettes, {replayed} call(s) replayed, "
        f"{recorded} recorded, {saved} cassette(s) saved"
    )
    for r in reports:
        if r.get("recorded") and not r.get("saved"):
            lines.append(f"  not saved: {r.get('path')} ({r.get('nodeid')}): {r.get('not_saved_reason')}")
        elif r.get("removed"):
            lines.append(f"  removed: {r.get('path')} ({r.get('nodeid')}): the test passed without a call")
    return lines


def unused_cassettes(items: list[pytest.Item], settings: CassetteSettings) -> list[Path]:
    """Cassette files in the cassette directories of ``items`` that none of them uses.

    Scanned: the cassette directory of every collected module, and the per-module directories beside them
    (``cassettes/<stem>/``, or ``<cassette dir>/<module path>/``) whose test module no longer exists. A
    module that was not collected (not in the paths given to pytest) is left alone.
    """
    from pytest_claude_sessions.cassettes.files import CASSETTES_DIRNAME, find_unused_cassettes

    used: set[Path] = set()
    roots: set[Path] = set()
    module_dirs: set[Path] = set()
    for item in items:
        module = Path(item.path)
        module_dirs.add(module.parent)
        kwargs = _marker_kwargs(item) or {}
        if kwargs.get("dir") is None and kwargs.get("name") is None:
            roots.add(cassette_path_for(item, settings).parent)
        if uses_cassette(item, settings) or _marker_kwargs(item) is not None:
            used.add(cassette_path_for(item, settings))
    rootpath = items[0].config.rootpath if items else None
    for directory in module_dirs:
        if settings.cassette_dir is None:
            parent = directory / CASSETTES_DIRNAME
        elif rootpath is not None and not (rel := os.path.relpath(directory, rootpath)).startswith(".."):
            parent = settings.cassette_dir / rel  # mirrors the test tree: a sub-directory may be a package
        else:
            continue  # modules outside the rootdir share <cassette dir>/<stem>: nothing safe to infer
        if not parent.is_dir():
            continue
        for sub in parent.iterdir():
            module_gone = (
                not (directory / (sub.name + ".py")).exists() and not (directory / sub.name).is_dir()
            )
            if sub.is_dir() and module_gone:
                roots.add(sub)  # the test module was deleted or renamed
    return find_unused_cassettes(used, roots)


def lists_cassettes_only(config: pytest.Config) -> bool:
    """Whether this run only lists or prunes cassettes (``--claude-cassettes-unused``/``--claude-prune-
    cassettes``): it runs no test, so the plugin should create no run directory and prune no old runs."""
    return bool(
        config.getoption("claude_cassettes_unused", False)
        or config.getoption("claude_prune_cassettes", False)
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    settings = resolve_cassette_settings(config)
    if settings.list_unused or settings.prune_unused:
        if _xdist_active(config):
            raise pytest.UsageError(
                "--claude-cassettes-unused / --claude-prune-cassettes need every test collected in one "
                "process: run them without -n (or with -n 0)"
            )
        if any("::" in str(arg) for arg in config.args):
            raise pytest.UsageError(
                "--claude-cassettes-unused / --claude-prune-cassettes look at whole test files: pass "
                "directories or files, not node ids (the other tests' cassettes would look unused)"
            )
    config.stash[_SETTINGS] = settings
    run = _CassetteRun(config, settings)
    config.pluginmanager.register(run, _RUN_PLUGIN)
    if run.lister:
        config.pluginmanager.register(_Lister(run), _LISTER)
