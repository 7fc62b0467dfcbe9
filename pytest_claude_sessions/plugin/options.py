"""Every option of the plugin in one table, and the one resolver.

A row is one field of :class:`Settings` declared with :func:`option`: its Python type and default, and
(derived from the field name unless given) its flag ``--claude-…``, ini key ``claude_…`` and env vars
``PYTEST_CLAUDE_…`` (documented aliases after it). Adding an option is adding one such field.

Precedence is command line > environment > marker > ini file > default; the marker level applies per
test, to the rows that name a marker keyword (``Settings.for_test``). Each resolved value remembers where
it came from (the report header says ``store=/x (ini)``). Every bad value raises :class:`SettingsError`
worded the same way for every option and source, e.g. ``--claude-timeout: invalid value '-3' (from env
PYTEST_CLAUDE_TIMEOUT): must be > 0``; the plugin turns that into ``pytest.UsageError`` at start-up.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

from pytest_claude_sessions.errors import SettingsError
from pytest_claude_sessions.models import parse_switch

ReportLevel = Literal["none", "summary", "full"]
REPORT_LEVELS: tuple[str, ...] = get_args(ReportLevel)
# The cassette record modes (cassettes.modes holds the same names; this table must not import it at
# start-up only to spell them).
RecordModeName = Literal["none", "once", "new_episodes", "all", "rewrite"]
RECORD_MODE_NAMES: tuple[str, ...] = get_args(RecordModeName)
Source = Literal["cli", "env", "ini", "default", "marker"]
Kind = Literal["path", "int", "float", "bool", "choice", "str", "regexes", "thresholds"]

DEFAULT_KEEP_RUNS = 20
DEFAULT_TIMEOUT = 300.0
DEFAULT_STORE_NAME = ".claude_sessions"
SWITCH_WORDS = "1/0, true/false, yes/no, on/off"
NAME_MAX = 255  # bytes in one path component (Linux, macOS): longer ones fail every write


@dataclass(frozen=True)
class OptionSpec:
    """One setting: flag, ini key and env var names, and how a raw value is parsed and checked."""

    name: str  # attribute on Settings
    flag: str | None  # --claude-…; None: ini/env only
    ini: str | None  # claude_…; None: command line only (the housekeeping commands)
    env: tuple[str, ...]  # PYTEST_CLAUDE_… first; documented aliases after it
    help: str
    kind: Kind
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    exclusive_minimum: bool = False  # the value must be > minimum (a timeout of 0 means nothing)
    is_flag: bool = False  # a switch on the command line (no value)
    marker: str | None = None  # "claude_cassette.mode": a marker keyword that sets it per test
    header: str | None = None  # its key in the report header line, when shown there

    @property
    def dest(self) -> str:
        return self.name if self.flag is None else self.flag.lstrip("-").replace("-", "_")

    @property
    def label(self) -> str:
        """The name errors start with: the flag, else the ini key."""
        return self.flag or str(self.ini)

    def where(self, source: str) -> str:
        """How a value of this source is named in a report section: ``--claude-x``, ``$NAME``, ..."""
        if source == "cli":
            return self.label
        if source == "env":
            return f"${self.env[0]}" if self.env else "the environment"
        if source == "ini":
            return f"ini {self.ini}"
        if source == "marker" and self.marker:
            return f"the {self.marker.split('.')[0]} marker"
        return "the default"


def option(
    default: Any,
    kind: Kind,
    help: str,
    *,
    flag: str | bool | None = True,
    ini: bool = True,
    env: bool = True,
    aliases: tuple[str, ...] = (),
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    exclusive_minimum: bool = False,
    is_flag: bool = False,
    marker: str | None = None,
    header: str | None = None,
) -> Any:
    """A :class:`Settings` field that is an option (one row of the table). Names derive from the field:
    ``timeout`` is ``--claude-timeout``, ini ``claude_timeout``, env ``PYTEST_CLAUDE_TIMEOUT``."""
    row = {
        "kind": kind,
        "help": help,
        "flag": flag,
        "ini": ini,
        "env": env,
        "aliases": aliases,
        "choices": choices,
        "minimum": minimum,
        "exclusive_minimum": exclusive_minimum,
        "is_flag": is_flag,
        "marker": marker,
        "header": header,
    }
    return field(default=default, metadata={"option": row})


def command(help: str) -> Any:
    """A command-line-only switch that changes what the run does (no ini key, no env var)."""
    return option(False, "bool", help, ini=False, env=False, is_flag=True)


@dataclass(frozen=True)
class Settings:
    """The effective settings and where each came from (``sources[name]``: cli/env/ini/default)."""

    sessions_dir: Path = option(
        Path(DEFAULT_STORE_NAME),
        "path",
        "Directory of the session store (default: <rootdir>/.claude_sessions); each run gets runs/<run id>",
        header="store",
    )
    keep_runs: int = option(
        DEFAULT_KEEP_RUNS,
        "int",
        f"Number of runs kept in the store, this one included; 0 keeps all (default: {DEFAULT_KEEP_RUNS})",
        minimum=0,
        header="keep",
    )
    report: ReportLevel = option(
        "summary",
        "choice",
        "Terminal summary level: none, summary or full (default: summary)",
        choices=REPORT_LEVELS,
        header="report",
    )
    integration: bool = option(
        False,
        "bool",
        "Run tests marked claude_integration (they need the real CLI and an API key)",
        is_flag=True,
        header="integration",
    )
    timeout: float = option(
        DEFAULT_TIMEOUT,
        "float",
        f"Seconds one CLI call may take before its process group is killed (default: {DEFAULT_TIMEOUT:g})",
        minimum=0.0,
        exclusive_minimum=True,
        header="timeout",
    )
    budget_usd: float | None = option(
        None,
        "float",
        "Suite-wide cost budget in USD: once this run has spent it, further live CLI calls fail",
        minimum=0.0,
        header="budget",
    )
    bin: str | None = option(
        None,
        "str",
        "Path (or command name) of the claude CLI (default: claude on PATH, then node_modules/.bin)",
        aliases=("CLAUDE_BIN",),
        header="bin",
    )
    json_report: Path | None = option(
        None, "path", "Write a machine-readable JSON report of this run's Claude calls to this path"
    )
    html: Path | None = option(
        None,
        "path",
        "Write the self-contained HTML report of this run (what claude-sessions html writes) to this path",
    )
    compare: str | None = option(
        None,
        "str",
        "Compare each test's cost, turns, calls and CLI duration with a baseline: previous (the store's "
        "newest earlier run), a run id of the store, or a file (a --claude-save-baseline file or a JSON "
        "report)",
    )
    compare_fail: str | None = option(
        None,
        "thresholds",
        "With --claude-compare: fail the run when a test grows beyond a threshold, e.g. "
        "cost:10%,turns:2,calls:1 (N% relative to the baseline; N absolute: dollars, turns, calls, ms)",
    )
    save_baseline: Path | None = option(
        None, "path", "Write this run's per-test figures to this file, a baseline to commit"
    )
    record_mode: RecordModeName = option(
        "none",
        "choice",
        f"Cassette record mode: {', '.join(RECORD_MODE_NAMES)} (default none: replay only)",
        choices=RECORD_MODE_NAMES,
        marker="claude_cassette.mode",
    )
    cassettes: bool = option(
        False, "bool", "Use a cassette for every test that uses claude_executor, marked or not", is_flag=True
    )
    cassette_dir: Path | None = option(
        None, "path", "Directory for all cassettes instead of <test dir>/cassettes"
    )
    cassette_redact: tuple[str, ...] = option(
        (),
        "regexes",
        "Extra regexes redacted from cassettes, the store and the reports (one per line)",
        flag=None,
        env=False,
    )
    cassette_slim: bool = option(
        True,
        "bool",
        "Record slim transcripts (no wire-debugging records, long attachment fields elided); default true, "
        "false records every transcript record whole",
        flag=None,
        marker="claude_cassette.slim",
    )
    intercept: bool = option(
        False,
        "bool",
        "Put the interposed claude first on PATH for each test, so the agent's own CLI processes are "
        "recorded too (default: off)",
        is_flag=True,
    )
    cassettes_unused: bool = command(
        "List cassettes that no collected test uses, then exit without running tests (1 if any)"
    )
    prune_cassettes: bool = command(
        "Delete cassettes that no collected test uses, then exit without running tests"
    )
    sources: Mapping[str, str] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)  # "env PYTEST_CLAUDE_…", "ini key claude_…"

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "default")

    def describe(self, name: str) -> str:
        """``--claude-sessions-dir (from env PYTEST_CLAUDE_SESSIONS_DIR)``: the option and where its value
        came from, worded like the bad-value errors, for errors found after resolution."""
        return f"{SPECS[name].label} (from {self.origins.get(name, self.source_of(name))})"

    def invalid(self, name: str, why: str) -> SettingsError:
        """The bad-value error for a value found bad after resolution (a path that cannot be written, a
        binary that is not there), worded like every other option error."""
        spec = SPECS[name]
        return SettingsError(
            f"{spec.label}: invalid value {_shown(getattr(self, name))!r} "
            f"(from {self.origins.get(name, self.source_of(name))}): {why}"
        )

    def for_test(self, name: str, raw: object, where: str) -> tuple[Any, str]:
        """The value of ``name`` for one test whose marker gave ``raw`` (``None``: not given; ``where``
        names the marker's test in errors), and its source. Command line and env beat the marker, the
        marker beats ini and default. The marker's value is always checked (a typo fails its test even
        when the command line wins)."""
        spec = SPECS[name]
        marker, _, key = str(spec.marker).partition(".")
        label = f"{marker}({key}=...)"
        value = None if raw is None else _parse(spec, raw, where, Path.cwd(), label=label)
        source = self.source_of(name)
        if value is None or source in ("cli", "env"):
            return getattr(self, name), source
        return value, "marker"

    @property
    def runs_no_tests(self) -> bool:
        """The cassette housekeeping commands run no test."""
        return self.cassettes_unused or self.prune_cassettes

    def to_wire(self) -> dict[str, Any]:
        """A JSON-safe dict for xdist's ``workerinput`` and the JSON report (paths as strings)."""
        wire: dict[str, Any] = {spec.name: _to_wire(getattr(self, spec.name)) for spec in OPTION_SPECS}
        return {**wire, "sources": dict(self.sources), "origins": dict(self.origins)}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Settings:
        """Inverse of :meth:`to_wire` (every value re-checked: a worker trusts nothing it is sent)."""
        values: dict[str, Any] = {}
        for spec in OPTION_SPECS:
            raw = data.get(spec.name)
            if raw is None:
                values[spec.name] = _DEFAULTS[spec.name]
            elif spec.kind == "regexes":
                values[spec.name] = tuple(str(p) for p in raw)
            else:
                values[spec.name] = _parse(spec, raw, "the controller", Path("/"))
        return cls(**values, sources=dict(data.get("sources", {})), origins=dict(data.get("origins", {})))

    def header_lines(self, resolved_bin: str | None = None) -> list[str]:
        """The report header: ``claude-sessions: store=/x (default), …`` and the cassette line.

        ``resolved_bin`` is the CLI discovery found (a path, or ``"not found"``); without it the header
        shows the setting itself.
        """
        return [self.header_line(resolved_bin), self.cassette_header_line()]

    def header_line(self, resolved_bin: str | None = None) -> str:
        shown = {
            "sessions_dir": str(self.sessions_dir),
            "keep_runs": str(self.keep_runs) if self.keep_runs else "all",
            "report": self.report,
            "integration": "on" if self.integration else "off",
            "timeout": f"{self.timeout:g}s",
            "budget_usd": "none" if self.budget_usd is None else f"${self.budget_usd:g}",
            "bin": _bin_shown(self.bin, resolved_bin),
        }
        parts = [self._part(spec, shown[spec.name]) for spec in OPTION_SPECS if spec.header]
        if self.json_report is not None:
            parts.append(self._part(SPECS["json_report"], str(self.json_report), key="json"))
        if self.intercept:
            parts.append(self._part(SPECS["intercept"], "on", key="intercept"))
        if self.compare is not None:
            parts.append(self._part(SPECS["compare"], self.compare, key="compare"))
        if self.compare_fail is not None:
            parts.append(self._part(SPECS["compare_fail"], self.compare_fail, key="fail"))
        return "claude-sessions: " + ", ".join(parts)

    def cassette_header_line(self) -> str:
        scope = "every claude_executor test" if self.cassettes else "marked tests"
        where = str(self.cassette_dir) if self.cassette_dir else "<test dir>/cassettes"
        mode = f"{self.record_mode} ({self.source_of('record_mode')})"
        return f"claude-cassettes: mode={mode}, for {scope}, dir={where}"

    def _part(self, spec: OptionSpec, shown: str, key: str | None = None) -> str:
        src = self.source_of(spec.name)
        key = key or str(spec.header)
        return (
            f"{key}={shown}"
            if src == "default" and spec.name in _QUIET_DEFAULTS
            else f"{key}={shown} ({src})"
        )


def _build_specs() -> tuple[OptionSpec, ...]:
    specs = []
    for f in fields(Settings):
        row = f.metadata.get("option")
        if row is None:
            continue
        flag = row["flag"]
        env = (f"PYTEST_CLAUDE_{f.name.upper()}", *row["aliases"]) if row["env"] else ()
        specs.append(
            OptionSpec(
                name=f.name,
                flag=f"--claude-{f.name.replace('_', '-')}" if flag is True else (flag or None),
                ini=f"claude_{f.name}" if row["ini"] else None,
                env=env,
                help=row["help"],
                kind=row["kind"],
                choices=row["choices"],
                minimum=row["minimum"],
                exclusive_minimum=row["exclusive_minimum"],
                is_flag=row["is_flag"],
                marker=row["marker"],
                header=row["header"],
            )
        )
    return tuple(specs)


OPTION_SPECS: tuple[OptionSpec, ...] = _build_specs()
SPECS: Mapping[str, OptionSpec] = {spec.name: spec for spec in OPTION_SPECS}
_DEFAULTS: Mapping[str, Any] = {f.name: f.default for f in fields(Settings) if f.name in SPECS}
# Unset optional values read better without "(default)".
_QUIET_DEFAULTS = frozenset({"budget_usd", "bin"})


def _shown(value: object) -> object:
    return str(value) if isinstance(value, Path) else value


def _to_wire(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _bin_shown(setting: str | None, resolved: str | None) -> str:
    if resolved is None:
        return setting or "claude on PATH"
    if setting is None and f"{os.sep}_bundled{os.sep}" in resolved:
        # found last, after PATH and project installs: often not the version the project pins
        return f"{resolved} (the Agent SDK's bundled CLI: pin yours with --claude-bin or $CLAUDE_BIN)"
    if setting is None or resolved == setting:
        return resolved
    return f"{setting} -> {resolved}" if resolved != "not found" else f"{setting} (not found)"


def _parse(spec: OptionSpec, raw: object, where: str, base: Path, *, label: str | None = None) -> Any:
    """Parse one raw value; ``base`` anchors relative paths (cwd for cli/env, the ini file's dir for ini,
    the rootdir for defaults); ``where`` names the source in errors ("command line", "env NAME", ...)."""

    def bad(why: str, shown: object = raw) -> SettingsError:
        return SettingsError(f"{label or spec.label}: invalid value {_shown(shown)!r} (from {where}): {why}")

    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        switch = parse_switch(str(raw))
        if switch is None:
            raise bad(f"expected a switch: {SWITCH_WORDS}")
        return switch
    if spec.kind == "regexes":
        return _regexes(raw, bad)
    text = str(raw).strip()
    if spec.kind == "path":
        if not text:
            raise bad("empty path")
        path = Path(os.path.expanduser(text))
        path = path if path.is_absolute() else (base / path)
        problem = path_problem(path)
        if problem is not None:
            raise bad(problem)
        return path
    if spec.kind == "str":
        if not text:
            raise bad("empty value")
        return text
    if spec.kind == "thresholds":
        from pytest_claude_sessions.report.compare import threshold_problem

        problem = threshold_problem(text)
        if problem is not None:
            raise bad(problem)
        return text
    if spec.kind == "choice":
        word = text.lower().replace("-", "_")
        if word not in spec.choices:
            raise bad(f"expected one of {', '.join(spec.choices)}")
        return word
    return _number(spec, text, bad)


def _number(spec: OptionSpec, text: str, bad: Callable[[str], SettingsError]) -> float:
    try:
        number: float = int(text) if spec.kind == "int" else float(text)
    except ValueError:
        raise bad(f"expected {'an integer' if spec.kind == 'int' else 'a number'}") from None
    if not math.isfinite(number):
        raise bad("expected a finite number")
    if spec.minimum is not None:
        if spec.exclusive_minimum and number <= spec.minimum:
            raise bad(f"must be > {spec.minimum:g}")
        if number < spec.minimum:
            raise bad(f"must be >= {spec.minimum:g}")
    return number


def _regexes(raw: object, bad: Callable[[str, object], SettingsError]) -> tuple[str, ...]:
    """Compiled once here: a bad pattern is a start-up error, not an error in every test."""
    items = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, Iterable) else [raw]
    patterns = tuple(str(p) for p in items if str(p).strip())
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise bad(f"not a regular expression: {exc} (one regex per line)", pattern) from None
    return patterns


def path_problem(path: Path) -> str | None:
    """Why ``path`` can never be written (``None``: it may be): a component longer than the system
    allows, a symbolic link loop, a dangling link, or a file where a directory must be. Checked at
    start-up without creating anything; the directories that do not exist yet are made later."""
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            return f"the path component {part[:40]!r}… is {size} bytes long (at most {NAME_MAX} allowed)"
    current = Path(path.anchor)
    parts = path.parts[1:]
    for i, part in enumerate(parts):
        current = current / part
        try:
            os.lstat(current)
        except FileNotFoundError:
            return None  # from here on nothing exists: it is created when needed
        except OSError as exc:
            return f"{current}: {os.strerror(exc.errno or errno.EIO)}"
        try:
            st = os.stat(current)
        except FileNotFoundError:
            return f"{current} is a dangling symbolic link (its target does not exist)"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"{current} is a symbolic link loop"
            return f"{current}: {os.strerror(exc.errno or errno.EIO)}"
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            return f"{current} is not a directory"
    return None


def _ini_origin(spec: OptionSpec, inipath: Path | None, overrides: Iterable[str]) -> str:
    """``-o claude_x on the command line`` or ``ini key claude_x`` (``in <file>`` when there is one)."""
    if any(str(item).split("=", 1)[0].strip() == spec.ini for item in overrides):
        return f"-o {spec.ini} on the command line"
    return f"ini key {spec.ini}" + (f" in {inipath}" if inipath is not None else "")


def resolve_settings(
    *,
    getoption: Callable[[str], object],
    getini: Callable[[str], object],
    environ: Mapping[str, str],
    rootpath: Path,
    inipath: Path | None,
    invocation_dir: Path,
    overrides: Iterable[str] = (),
) -> Settings:
    """Resolve every option (command line > env > ini > default), validating each value.

    ``getoption(dest)`` returns ``None`` (or ``False`` for a command) when the flag was not given;
    ``getini(key)`` returns ``""`` (or an empty list) when the key is unset; ``overrides`` are the
    ``-o key=value`` items. Every source is checked, not only the one that wins: a typo in the ini file
    must not hide until the day the env var that overrides it is unset. Relative paths resolve against
    the invocation directory for command-line and env values, the ini file's directory for ini values
    and the rootdir for defaults.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    origins: dict[str, str] = {}
    ini_base = inipath.parent if inipath is not None else rootpath
    overrides = list(overrides)
    for spec in OPTION_SPECS:
        candidates: list[tuple[str, str, object, Path]] = []
        raw = getoption(spec.dest) if spec.flag else None
        if raw is not None and raw is not False:
            candidates.append(("cli", "command line", raw, invocation_dir))
        env_name = next((n for n in spec.env if environ.get(n, "").strip()), None)
        if env_name is not None:
            candidates.append(("env", f"env {env_name}", environ[env_name], invocation_dir))
        ini_raw = getini(spec.ini) if spec.ini else None
        if ini_raw not in (None, "", []):
            candidates.append(("ini", _ini_origin(spec, inipath, overrides), ini_raw, ini_base))
        parsed = [(src, origin, _parse(spec, value, origin, base)) for src, origin, value, base in candidates]
        if parsed:
            sources[spec.name], origins[spec.name], values[spec.name] = parsed[0]
        else:
            sources[spec.name], origins[spec.name] = "default", "default"
            default = _DEFAULTS[spec.name]
            values[spec.name] = rootpath / default if isinstance(default, Path) else default
    values["keep_runs"] = int(values["keep_runs"])
    return Settings(**values, sources=sources, origins=origins)


def register(parser: Any) -> None:
    """Register every row: its flag in the ``claude-sessions`` group and its ini key."""
    group = parser.getgroup("claude-sessions", "claude-sessions")
    for spec in OPTION_SPECS:
        env = " / ".join(f"${name}" for name in spec.env)
        text = spec.help + (f" (env {env})" if env else "")
        ini_text = text
        text = text.replace("%", "%%")  # argparse %-formats an option's help (cost:10% is no format)
        if spec.flag is not None and spec.is_flag and spec.ini is None:
            group.addoption(spec.flag, action="store_true", default=False, dest=spec.dest, help=text)
        elif spec.flag is not None and spec.is_flag:
            group.addoption(
                spec.flag, action="store_const", const="1", default=None, dest=spec.dest, help=text
            )
        elif spec.flag is not None:
            group.addoption(spec.flag, default=None, dest=spec.dest, help=text)
        if spec.ini is not None:
            kind = "linelist" if spec.kind == "regexes" else "string"
            parser.addini(spec.ini, ini_text, type=kind, default=[] if kind == "linelist" else "")
