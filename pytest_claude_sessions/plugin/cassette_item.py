"""Per-test record/replay: which tests use a cassette, which file, which mode, the command that records
it, and the "claude cassette" report section. Part of the one plugin (its options are rows of the one
table, its reports travel with the test's record, its summary comes from the one run object).

A test uses a cassette when it is marked ``claude_cassette`` (on the test, its class or its module),
requests the ``claude_cassette`` fixture, or uses ``claude_executor`` while ``--claude-cassettes`` is on.
The cassette is attached to the test's executor when the executor is built and finished at teardown:
saved unless the test failed, then checked for unused interactions.

Record mode precedence: ``--claude-record-mode`` > ``$PYTEST_CLAUDE_RECORD_MODE`` > the marker's ``mode``
> ini ``claude_record_mode`` > ``none``. The command line beats the marker so that the command a miss
prints always records.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_claude_sessions.plugin import markers
from pytest_claude_sessions.plugin.markers import MarkerError
from pytest_claude_sessions.plugin.options import SPECS, Settings
from pytest_claude_sessions.plugin.state import CassetteState, RunView, state

if TYPE_CHECKING:
    from pytest_claude_sessions.cassettes.recorder import CassetteReport

SECTION_KEY = "claude cassette"


def cassette_kwargs(item: pytest.Item) -> dict[str, Any] | None:
    """The merged ``claude_cassette`` keywords (``None``: unmarked); raises :class:`MarkerError`."""
    return markers.merged(item, "claude_cassette")


def opted_in(item: pytest.Item) -> bool:
    """Marked ``claude_cassette`` or asking for the fixture: a cassette whatever the switch says."""
    names = getattr(item, "fixturenames", ())
    return "claude_cassette" in names or item.get_closest_marker("claude_cassette") is not None


def uses_cassette(item: pytest.Item, settings: Settings) -> bool:
    """Whether ``item`` records/replays: marked, asks for ``claude_cassette``, or the switch is on."""
    names = getattr(item, "fixturenames", ())
    if "claude_cassette" in names:
        return True
    if "claude_executor" not in names:
        return False
    return settings.cassettes or item.get_closest_marker("claude_cassette") is not None


def cassette_test_name(item: pytest.Item) -> str:
    """The name a cassette file is made from: classes, the function and the parametrize id."""
    classes = [node.name for node in item.listchain() if isinstance(node, pytest.Class)]
    return ".".join([*classes, item.name])


def cassette_path_for(item: pytest.Item, settings: Settings) -> Path:
    """The cassette file of ``item``: marker ``name``/``dir``, else the run's dir, else beside the module.

    The marker's ``dir`` is the test's own place (relative to its module), not the run-wide
    ``--claude-cassette-dir``: it wins over it.
    """
    kwargs = cassette_kwargs(item) or {}
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
    test_name = Redactor(settings.cassette_redact).redact(cassette_test_name(item))
    return default_cassette_path(module, test_name, cassette_dir=directory, name=name)


def _for_test(item: pytest.Item, settings: Settings, name: str, key: str) -> tuple[Any, str]:
    """Option ``name`` for this test, with the marker's ``key`` at the marker level of the precedence."""
    from pytest_claude_sessions.errors import SettingsError

    raw = (cassette_kwargs(item) or {}).get(key)
    try:
        return settings.for_test(name, raw, f"the marker of {item.nodeid}")
    except SettingsError as exc:
        raise MarkerError(str(exc)) from None


def build_cassette(item: pytest.Item, settings: Settings, run: RunView) -> CassetteState:
    """The cassette of ``item`` per its marker and the run's settings; raises ``ValueError`` on bad args."""
    from pytest_claude_sessions.cassettes.matching import normalize_match_on
    from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor

    kwargs = cassette_kwargs(item) or {}
    mode, source = _for_test(item, settings, "record_mode", "mode")
    slim, _ = _for_test(item, settings, "cassette_slim", "slim")
    try:
        match_on = normalize_match_on(kwargs.get("match_on"))
    except ValueError as exc:
        raise MarkerError(f"{item.nodeid}: claude_cassette: {exc}") from None
    redact = kwargs.get("redact") or ()
    redact = (redact,) if isinstance(redact, str) else tuple(redact)
    interceptor = CassetteInterceptor(
        cassette_path_for(item, settings),
        mode=mode,
        match_on=match_on,
        allow_unused=bool(kwargs.get("allow_unused", False)),
        record_on_failure=bool(kwargs.get("record_on_failure", False)),
        node_id=item.nodeid,
        record_command=record_command(item, settings, run.resolved_bin()),
        redact_patterns=[*settings.cassette_redact, *redact],
        slim=bool(slim),
    )
    return CassetteState(interceptor, source)


def record_args(item: pytest.Item, settings: Settings, resolved_bin: str | None) -> list[str]:
    """The options a pasted record command must repeat to reach the same cassette with a working CLI:
    the switch when the test uses a cassette only through it, the cassette dir when it does not come
    from the ini file (``VAR=... pytest`` typed
    inline does not reach a pasted command), the config file and rootdir given on the command line,
    and ``--claude-bin=<the CLI this run found>`` when a plain lookup would not find it."""
    config = item.config
    args: list[str] = []
    if settings.cassettes and not opted_in(item):
        args.append("--claude-cassettes")  # the test uses a cassette only through the switch
    if settings.cassette_dir is not None and settings.source_of("cassette_dir") in ("cli", "env"):
        raw = config.getoption("claude_cassette_dir", None)
        args.append(f"--claude-cassette-dir={raw or settings.cassette_dir}")
    if getattr(config.option, "inifilename", None):
        args.append(f"--config-file={config.option.inifilename}")
    if getattr(config.option, "rootdir", None):
        args.append(f"--rootdir={config.option.rootdir}")
    if resolved_bin and resolved_bin != "not found" and not found_by_default(config, resolved_bin):
        args.append(f"--claude-bin={resolved_bin}")
    return args


def found_by_default(config: pytest.Config, resolved_bin: str) -> bool:
    """Whether a pasted ``pytest ...`` without ``--claude-bin``, in a shell without ``$CLAUDE_BIN``, finds
    this same CLI (PATH, project-local installs under the invocation dir)."""
    from pytest_claude_sessions.errors import ClaudeSessionsError
    from pytest_claude_sessions.locate import ENV_VAR, find_claude_bin

    plain = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "PYTEST_CLAUDE_BIN")}
    try:
        found = find_claude_bin(None, env=plain, cwd=config.invocation_params.dir)
    except ClaudeSessionsError:
        return False
    return os.path.realpath(found) == os.path.realpath(resolved_bin)


def record_command(
    item: pytest.Item, settings: Settings | None = None, resolved_bin: str | None = None
) -> str:
    """The shell command that re-runs just this test from the directory pytest was started in (the
    record mode is appended by the cassette)."""
    file_part, sep, rest = item.nodeid.partition("::")
    target = os.path.relpath(item.config.rootpath / file_part, item.config.invocation_params.dir)
    extra = record_args(item, settings, resolved_bin) if settings is not None else []
    return " ".join(["pytest", shlex.quote(target + sep + rest), *(shlex.quote(a) for a in extra)])


# --------------------------------------------------------------------------- the fixture's two halves


def start(item: pytest.Item, run: RunView) -> CassetteState:
    """The ``claude_cassette`` fixture's set-up: the test's cassette (a bad marker fails the test)."""
    __tracebackhide__ = True
    test = state(item, run)
    try:
        test.cassette = build_cassette(item, run.settings, run)
    except ValueError as exc:
        problem = str(exc)
    else:
        return test.cassette
    pytest.fail(problem, pytrace=False)  # outside the except: the message once, no exception chain


def finish(item: pytest.Item, run: RunView, cassette: CassetteState) -> None:
    """The fixture's teardown: save (unless the test did not pass), check unused, add the section."""
    __tracebackhide__ = True
    failed, skipped = state(item, run).did_not_pass
    interceptor = cassette.interceptor
    report: CassetteReport | None = None
    try:
        report = interceptor.finish(failed=failed, skipped=skipped)
    finally:
        if report is None:  # finish raised after saving: the report is kept on the interceptor
            report = interceptor.finish(failed=failed, check=False, skipped=skipped)
        cassette.report = report
        item.add_report_section(
            "teardown", SECTION_KEY, section_text(report, mode_source=cassette.mode_source)
        )


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
    mode = report.mode + (f" (from {SPECS['record_mode'].where(mode_source)})" if mode_source else "")
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
