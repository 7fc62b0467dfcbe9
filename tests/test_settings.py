"""Option/ini/env resolution: precedence, sources, validation, the report header and --help."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from pytest_claude_sessions.errors import SettingsError
from pytest_claude_sessions.plugin.options import OPTION_SPECS, Settings, resolve_settings

ROOT = Path("/proj")


def resolve(
    cli: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    ini: Mapping[str, object] | None = None,
    inipath: Path | None = None,
) -> Settings:
    options: Mapping[str, object] = cli or {}
    inis: Mapping[str, object] = ini or {}
    return resolve_settings(
        getoption=lambda dest: options.get(dest),
        getini=lambda key: inis.get(key, ""),
        environ=env or {},
        rootpath=ROOT,
        inipath=inipath,
        invocation_dir=Path("/cwd"),
    )


def test_defaults_and_sources() -> None:
    s = resolve()
    assert s.sessions_dir == ROOT / ".claude_sessions"
    assert (s.keep_runs, s.bin, s.integration, s.timeout, s.report, s.budget_usd, s.json_report) == (
        20,
        None,
        False,
        300.0,
        "summary",
        None,
        None,
    )
    assert set(s.sources.values()) == {"default"}
    assert len(s.sources) == len(OPTION_SPECS)


def test_precedence_cli_over_env_over_ini() -> None:
    ini = {"claude_report": "full", "claude_timeout": "10"}
    env = {"PYTEST_CLAUDE_REPORT": "none", "PYTEST_CLAUDE_TIMEOUT": "20"}
    s = resolve(cli={"claude_report": "summary"}, env=env, ini=ini)
    assert (s.report, s.source_of("report")) == ("summary", "cli")
    assert (s.timeout, s.source_of("timeout")) == (20.0, "env")
    s = resolve(ini=ini)
    assert (s.report, s.source_of("report"), s.timeout) == ("full", "ini", 10.0)


def test_relative_paths_anchor_on_their_source() -> None:
    s = resolve(
        cli={"claude_json_report": "out/r.json"},
        ini={"claude_sessions_dir": "store"},
        inipath=Path("/proj/sub/pytest.ini"),
    )
    assert s.json_report == Path("/cwd/out/r.json")
    assert s.sessions_dir == Path("/proj/sub/store")
    s = resolve(env={"PYTEST_CLAUDE_SESSIONS_DIR": "envstore"})
    assert (s.sessions_dir, s.source_of("sessions_dir")) == (Path("/cwd/envstore"), "env")


def test_claude_bin_env_alias_and_own_env_wins() -> None:
    s = resolve(env={"CLAUDE_BIN": "/opt/claude"})
    assert (s.bin, s.source_of("bin")) == ("/opt/claude", "env")
    s = resolve(env={"CLAUDE_BIN": "/opt/claude", "PYTEST_CLAUDE_BIN": "/usr/bin/claude"})
    assert s.bin == "/usr/bin/claude"


@pytest.mark.parametrize(
    ("cli", "env", "ini", "fragment"),
    [
        (
            {"claude_timeout": "soon"},
            {},
            {},
            "--claude-timeout: invalid value 'soon' (from command line): expected a number",
        ),
        ({}, {"PYTEST_CLAUDE_KEEP_RUNS": "-1"}, {}, "(from env PYTEST_CLAUDE_KEEP_RUNS): must be >= 0"),
        (
            {},
            {"CLAUDE_BIN": " "},
            {"claude_bin": " "},
            "--claude-bin: invalid value ' ' (from ini key claude_bin)",
        ),
        ({}, {}, {"claude_report": "loud"}, "'loud' (from ini key claude_report): expected one of none"),
        ({}, {"PYTEST_CLAUDE_INTEGRATION": "maybe"}, {}, "--claude-integration: invalid value 'maybe'"),
        ({"claude_budget_usd": "nan"}, {}, {}, "expected a finite number"),
        ({}, {}, {"claude_keep_runs": "2.5"}, "expected an integer"),
    ],
)
def test_bad_values_name_option_value_and_source(
    cli: dict[str, object], env: dict[str, str], ini: dict[str, object], fragment: str
) -> None:
    with pytest.raises(SettingsError) as info:
        resolve(cli=cli, env=env, ini=ini)
    assert fragment in str(info.value)


@pytest.mark.parametrize("raw", ["0", "-3", "0.0"])
def test_timeout_bounds_read_the_same_for_zero_and_negative(raw: str) -> None:
    for cli, env, where in (
        ({"claude_timeout": raw}, {}, "command line"),
        ({}, {"PYTEST_CLAUDE_TIMEOUT": raw}, "env PYTEST_CLAUDE_TIMEOUT"),
    ):
        with pytest.raises(SettingsError) as info:
            resolve(cli=cli, env=env)
        assert str(info.value) == f"--claude-timeout: invalid value {raw!r} (from {where}): must be > 0"


def test_describe_names_option_and_origin() -> None:
    s = resolve(env={"CLAUDE_BIN": "/b"}, ini={"claude_report": "full"})
    assert s.describe("bin") == "--claude-bin (from env CLAUDE_BIN)"
    assert s.describe("report") == "--claude-report (from ini key claude_report)"
    assert s.describe("sessions_dir") == "--claude-sessions-dir (from default)"
    assert (
        resolve(cli={"claude_keep_runs": "3"}).describe("keep_runs")
        == "--claude-keep-runs (from command line)"
    )


def test_bool_spellings() -> None:
    for raw, expected in [("1", True), ("yes", True), ("ON", True), ("0", False), ("off", False)]:
        assert resolve(env={"PYTEST_CLAUDE_INTEGRATION": raw}).integration is expected


def test_wire_round_trip_is_json_safe() -> None:
    s = resolve(cli={"claude_budget_usd": "1.5", "claude_json_report": "r.json"}, env={"CLAUDE_BIN": "/b"})
    wire = json.loads(json.dumps(s.to_wire()))
    assert Settings.from_wire(wire) == s


def test_header_line_shows_sources() -> None:
    s = resolve(env={"CLAUDE_BIN": "/b"}, ini={"claude_report": "full"})
    line = s.header_line()
    assert line.startswith("claude-sessions: store=/proj/.claude_sessions (default), ")
    assert "report=full (ini)" in line
    assert "bin=/b (env)" in line
    assert "budget=none," in line
    # What discovery found, next to the setting.
    assert "bin=/b (not found) (env)" in s.header_line("not found")
    assert "bin=/opt/claude (default)" not in resolve().header_line("/opt/claude")
    assert resolve().header_line("/opt/claude").endswith("bin=/opt/claude")
    assert resolve().header_line("not found").endswith("bin=not found")


# --------------------------------------------------------------------------- through pytest


INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def test_help_lists_group_and_options(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["claude-sessions:*", *[f"*{spec.flag}*" for spec in OPTION_SPECS if spec.flag]]
    )
    result.stdout.fnmatch_lines([f"*{spec.ini}*" for spec in OPTION_SPECS if spec.ini])


def test_usage_error_for_bad_cli_value(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    pytester.makeini(INI)
    result = pytester.runpytest("-p", "no:cacheprovider", "--claude-report=loud")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--claude-report: invalid value 'loud' (from command line)*"])


def test_usage_error_for_bad_env_value(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_x(): pass")
    pytester.makeini(INI)
    monkeypatch.setenv("PYTEST_CLAUDE_TIMEOUT", "-3")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--claude-timeout: invalid value '-3' (from env PYTEST_CLAUDE_TIMEOUT): must be > 0*"]
    )


def test_ini_keys_are_registered_and_header_shows_sources(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLAUDE_BIN", raising=False)  # the test command exports it; here ini must win
    fake = pytester.path / "fake-claude"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    pytester.makeini(
        INI + "claude_sessions_dir = my_store\n"
        "claude_report = full\n"
        "claude_keep_runs = 3\n"
        "claude_timeout = 42\n"
        "claude_budget_usd = 0.5\n"
        "claude_integration = false\n"
        f"claude_bin = {fake}\n"
        "claude_json_report = report.json\n"
    )
    pytester.makepyfile("def test_x(): pass")
    monkeypatch.setenv("PYTEST_CLAUDE_REPORT", "none")
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-config", "--claude-timeout=7")
    result.assert_outcomes(passed=1)
    store = pytester.path / "my_store"
    result.stdout.fnmatch_lines(
        [
            f"claude-sessions: store={store} (ini), keep=3 (ini), report=none (env), integration=off (ini), "
            f"timeout=7s (cli), budget=$0.5 (ini), bin={fake} (ini), "
            f"json={pytester.path / 'report.json'} (ini)",
            f"claude-sessions: run={store}/runs/*",
        ]
    )
    assert not store.exists()  # the run directory was made at the start, and removed: nothing recorded


# --------------------------------------------------------------------------- start-up errors (issue 10)


@pytest.mark.parametrize(
    ("args", "env", "ini", "origin"),
    [
        (["--claude-bin=/nonexistent/claude"], {}, "", "command line"),
        ([], {"CLAUDE_BIN": "/nonexistent/claude"}, "", "env CLAUDE_BIN"),
        ([], {}, "claude_bin = /nonexistent/claude\n", "ini key claude_bin in *tox.ini"),
        (["--claude-bin=no-such-claude-command"], {}, "", "command line"),
    ],
)
def test_bad_claude_bin_is_a_start_up_error_naming_option_and_source(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    ini: str,
    origin: str,
) -> None:
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makeini(INI + ini)
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    shown = args[0].split("=", 1)[1] if args else "/nonexistent/claude"
    result.stderr.fnmatch_lines(
        [
            f"ERROR: --claude-bin: invalid value '{shown}' (from {origin}): not an executable file "
            "(nor a command*"
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / ".claude_sessions").exists()


def test_bad_claude_bin_does_not_stop_help_or_collect_only(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("def test_x(): pass")
    assert pytester.runpytest("--claude-bin=/nonexistent/claude", "--collect-only").ret == 0
    assert pytester.runpytest("--claude-bin=/nonexistent/claude", "--help").ret == 0


def _json_path_cases(base: Path) -> list[tuple[str, str]]:
    """(value of --claude-json-report, expected reason) for paths that can never be written."""
    (base / "loop").symlink_to(base / "loop")
    (base / "dangling").symlink_to(base / "nowhere")
    (base / "afile").write_text("")
    return [
        (str(base / ("x" * 300) / "r.json"), "the path component 'xxxx*is 300 bytes long (at most 255*"),
        (str(base / ("y" * 300 + ".json")), "the path component 'yyyy*is 305 bytes long*"),
        (str(base / "loop" / "r.json"), f"{base / 'loop'} is a symbolic link loop"),
        (str(base / "dangling" / "r.json"), f"{base / 'dangling'} is a dangling symbolic link*"),
        (str(base / "afile" / "r.json"), f"{base / 'afile'} is not a directory"),
    ]


def test_unwritable_json_report_paths_are_start_up_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("def test_x(): pass")
    for value, reason in _json_path_cases(pytester.path):
        result = pytester.runpytest("-p", "no:cacheprovider", f"--claude-json-report={value}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, value
        result.stderr.fnmatch_lines(
            [f"ERROR: --claude-json-report: invalid value * (from command line): {reason}"]
        )
        assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / ".claude_sessions").exists()


def test_bad_store_and_cassette_dirs_are_start_up_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("def test_x(): pass")
    (pytester.path / "loop").symlink_to(pytester.path / "loop")
    monkeypatch.setenv("PYTEST_CLAUDE_SESSIONS_DIR", "loop/store")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --claude-sessions-dir: invalid value * (from env PYTEST_CLAUDE_SESSIONS_DIR): "
            "*loop is a symbolic*"
        ]
    )
    monkeypatch.delenv("PYTEST_CLAUDE_SESSIONS_DIR")
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", f"claude_cassette_dir={'z' * 256}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --claude-cassette-dir: invalid value * (from -o claude_cassette_dir on the command line): *"]
    )


def test_every_row_is_reachable_from_each_of_its_sources() -> None:
    """One table: each row's flag, env var and ini key all reach the same setting, with the same parser."""
    samples = {
        "path": "p",
        "int": "3",
        "float": "2.5",
        "bool": "1",
        "choice": None,
        "str": "x",
        "thresholds": "cost:10%",
    }
    for spec in OPTION_SPECS:
        if spec.kind == "regexes":
            continue
        raw = spec.choices[-1] if spec.kind == "choice" else samples[spec.kind]
        sources = []
        if spec.flag:
            sources.append(("cli", resolve(cli={spec.dest: raw})))
        if spec.env:
            sources.append(("env", resolve(env={spec.env[0]: str(raw)})))
        if spec.ini:
            sources.append(("ini", resolve(ini={spec.ini: raw})))
        assert sources, spec
        for source, settings in sources:
            assert settings.source_of(spec.name) == source, (spec.name, source)
        values = {str(getattr(s, spec.name)).rsplit("/", 1)[-1] for _, s in sources}
        assert len(values) == 1, (spec.name, values)


def test_the_header_says_when_the_cli_found_is_the_agent_sdks_bundled_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found last (after PATH and project installs), the SDK's copy is often another version than the one
    the project pins: the header says so and how to pin."""
    import os
    import sys

    site = pytester.path / "site"
    bundled = site / "claude_agent_sdk" / "_bundled" / "claude"
    bundled.parent.mkdir(parents=True)
    (site / "claude_agent_sdk" / "__init__.py").write_text("")
    bundled.write_text("#!/bin/sh\necho 9.9.9\n")
    bundled.chmod(0o755)
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:asyncio")
    result.stdout.fnmatch_lines(
        [f"*bin={bundled} (the Agent SDK's bundled CLI: pin yours with --claude-bin or $CLAUDE_BIN)*"]
    )
