"""The plugin's settings: every ``--claude-…`` option with its ini key and env var, resolved with its source.

Precedence is command line > environment > ini file > default. Each resolved value remembers where it came
from, so the report header can say ``store=/x (ini)``. Bad values raise :class:`SettingsError` worded
the same way for every option and source, e.g. ``--claude-timeout: invalid value '-3' (from env
PYTEST_CLAUDE_TIMEOUT): must be > 0``; the plugin turns that into ``pytest.UsageError``.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from pytest_claude_sessions.errors import SettingsError

ReportLevel = Literal["none", "summary", "full"]
REPORT_LEVELS: tuple[str, ...] = get_args(ReportLevel)
Source = Literal["cli", "env", "ini", "default"]

DEFAULT_KEEP_RUNS = 20
DEFAULT_TIMEOUT = 300.0
DEFAULT_STORE_NAME = ".claude_sessions"


@dataclass(frozen=True)
class OptionSpec:
    """One setting: its command-line flag, ini key and env var names, and how to parse a raw value."""

    name: str  # attribute on Settings
    flag: str  # --claude-…
    ini: str  # claude_…
    env: tuple[str, ...]  # PYTEST_CLAUDE_… first; documented aliases after it
    help: str
    kind: Literal["path", "int", "float", "bool", "choice", "str"]
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    exclusive_minimum: bool = False  # the value must be > minimum (a timeout of 0 means nothing)
    is_flag: bool = False  # a store_true switch on the command line

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


OPTION_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "sessions_dir",
        "--claude-sessions-dir",
        "claude_sessions_dir",
        ("PYTEST_CLAUDE_SESSIONS_DIR",),
        "Directory of the session store (default: <rootdir>/.claude_sessions); each run gets runs/<run id>",
        "path",
    ),
    OptionSpec(
        "keep_runs",
        "--claude-keep-runs",
        "claude_keep_runs",
        ("PYTEST_CLAUDE_KEEP_RUNS",),
        f"Number of runs kept in the store, this one included; 0 keeps all (default: {DEFAULT_KEEP_RUNS})",
        "int",
        minimum=0,
    ),
    OptionSpec(
        "bin",
        "--claude-bin",
        "claude_bin",
        ("PYTEST_CLAUDE_BIN", "CLAUDE_BIN"),
        "Path of the claude CLI (default: claude on PATH)",
        "str",
    ),
    OptionSpec(
        "integration",
        "--claude-integration",
        "claude_integration",
        ("PYTEST_CLAUDE_INTEGRATION",),
        "Run tests marked claude_integration (they need the real CLI and an API key)",
        "bool",
        is_flag=True,
    ),
    OptionSpec(
        "timeout",
        "--claude-timeout",
        "claude_timeout",
        ("PYTEST_CLAUDE_TIMEOUT",),
        f"Seconds one CLI call may take before its process group is killed (default: {DEFAULT_TIMEOUT:g})",
        "float",
        minimum=0.0,
        exclusive_minimum=True,
    ),
    OptionSpec(
        "report",
        "--claude-report",
        "claude_report",
        ("PYTEST_CLAUDE_REPORT",),
        "Terminal summary level: none, summary or full (default: summary)",
        "choice",
        choices=REPORT_LEVELS,
    ),
    OptionSpec(
        "budget_usd",
        "--claude-budget-usd",
        "claude_budget_usd",
        ("PYTEST_CLAUDE_BUDGET_USD",),
        "Suite-wide cost budget in USD: once this run has spent it, further live CLI calls fail",
        "float",
        minimum=0.0,
    ),
    OptionSpec(
        "json_report",
        "--claude-json-report",
        "claude_json_report",
        ("PYTEST_CLAUDE_JSON_REPORT",),
        "Write a machine-readable JSON report of this run's Claude calls to this path",
        "path",
    ),
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Settings:
    """The effective settings and where each came from (``sources[name]`` is cli/env/ini/default)."""

    sessions_dir: Path
    keep_runs: int = DEFAULT_KEEP_RUNS
    bin: str | None = None
    integration: bool = False
    timeout: float = DEFAULT_TIMEOUT
    report: ReportLevel = "summary"
    budget_usd: float | None = None
    json_report: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)  # "env PYTEST_CLAUDE_…", "ini key claude_…"

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "default")

    def describe(self, name: str) -> str:
        """``--claude-sessions-dir (from env PYTEST_CLAUDE_SESSIONS_DIR)``: the option and where its value
        came from, worded like the bad-value errors, for errors found after resolution."""
        spec = next(s for s in OPTION_SPECS if s.name == name)
        return f"{spec.flag} (from {self.origins.get(name, self.source_of(name))})"

    def to_wire(self) -> dict[str, Any]:
        """A JSON-safe dict for xdist's ``workerinput`` (paths as strings)."""
        return {
            "sessions_dir": str(self.sessions_dir),
            "keep_runs": self.keep_runs,
            "bin": self.bin,
            "integration": self.integration,
            "timeout": self.timeout,
            "report": self.report,
            "budget_usd": self.budget_usd,
            "json_report": None if self.json_report is None else str(self.json_report),
            "sources": dict(self.sources),
            "origins": dict(self.origins),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Settings:
        """Inverse of :meth:`to_wire`."""
        report = data["report"]
        if report not in REPORT_LEVELS:
            raise SettingsError(f"bad report level on the wire: {report!r}")
        return cls(
            sessions_dir=Path(data["sessions_dir"]),
            keep_runs=int(data["keep_runs"]),
            bin=data.get("bin"),
            integration=bool(data["integration"]),
            timeout=float(data["timeout"]),
            report=report,
            budget_usd=None if data.get("budget_usd") is None else float(data["budget_usd"]),
            json_report=None if data.get("json_report") is None else Path(data["json_report"]),
            sources=dict(data.get("sources", {})),
            origins=dict(data.get("origins", {})),
        )

    def header_line(self, resolved_bin: str | None = None) -> str:
        """``claude-sessions: store=/x (default), report=summary (ini), …`` for the report header.

        ``resolved_bin`` is the CLI discovery found (a path, or ``"not found"``); without it the header
        shows the setting itself.
        """

        def part(key: str, name: str, shown: str) -> str:
            src = self.source_of(name)
            return (
                f"{key}={shown}" if src == "default" and name in _QUIET_DEFAULTS else f"{key}={shown} ({src})"
            )

        budget = "none" if self.budget_usd is None else f"${self.budget_usd:g}"
        parts = [
            part("store", "sessions_dir", str(self.sessions_dir)),
            part("keep", "keep_runs", str(self.keep_runs) if self.keep_runs else "all"),
            part("report", "report", self.report),
            part("integration", "integration", "on" if self.integration else "off"),
            part("timeout", "timeout", f"{self.timeout:g}s"),
            part("budget", "budget_usd", budget),
            part("bin", "bin", _bin_shown(self.bin, resolved_bin)),
        ]
        if self.json_report is not None:
            parts.append(part("json", "json_report", str(self.json_report)))
        return "claude-sessions: " + ", ".join(parts)


def _bin_shown(setting: str | None, resolved: str | None) -> str:
    if resolved is None:
        return setting or "claude on PATH"
    if setting is None or resolved == setting:
        return resolved
    return f"{setting} -> {resolved}" if resolved != "not found" else f"{setting} (not found)"


# Unset optional values read better without "(default)".
_QUIET_DEFAULTS = frozenset({"budget_usd", "bin"})


def _parse(spec: OptionSpec, raw: object, where: str, base: Path) -> Any:
    """Parse one raw value; ``base`` anchors relative paths (cwd for cli/env, the ini file's dir for ini);
    ``where`` names the source in errors ("command line", "env NAME", "ini key NAME")."""

    def bad(why: str) -> SettingsError:
        return SettingsError(f"{spec.flag}: invalid value {raw!r} (from {where}): {why}")

    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad("expected one of 1/0, true/false, yes/no, on/off")
    text = str(raw).strip()
    if spec.kind == "path":
        if not text:
            raise bad("empty path")
        path = Path(os.path.expanduser(text))
        return path if path.is_absolute() else (base / path)
    if spec.kind == "str":
        if not text:
            raise bad("empty value")
        return text
    if spec.kind == "choice":
        if text not in spec.choices:
            raise bad(f"expected one of {', '.join(spec.choices)}")
        return text
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


def resolve_settings(
    *,
    getoption: Callable[[str], object],
    getini: Callable[[str], object],
    environ: Mapping[str, str],
    rootpath: Path,
    inipath: Path | None,
    invocation_dir: Path,
) -> Settings:
    """Resolve every option (CLI > env > ini > default), validating each value.

    ``getoption(dest)`` returns ``None`` when the flag was not given; ``getini(key)`` returns ``""`` (or an
    empty list) when the key is unset. Relative paths resolve against the invocation directory for CLI and
    env values and against the ini file's directory for ini values.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    origins: dict[str, str] = {}
    ini_base = inipath.parent if inipath is not None else rootpath
    for spec in OPTION_SPECS:
        raw: object = getoption(spec.dest)
        env_name = next((n for n in spec.env if environ.get(n, "").strip()), None)
        ini_raw = getini(spec.ini)
        if raw is not None:
            source, origin, value, base = "cli", "command line", raw, invocation_dir
        elif env_name is not None:
            source, origin, value, base = "env", f"env {env_name}", environ[env_name], invocation_dir
        elif ini_raw not in (None, "", []):
            source, origin, value, base = "ini", f"ini key {spec.ini}", ini_raw, ini_base
        else:
            sources[spec.name], origins[spec.name] = "default", "default"
            continue
        values[spec.name] = _parse(spec, value, origin, base)
        sources[spec.name], origins[spec.name] = source, origin
    if "sessions_dir" not in values:
        values["sessions_dir"] = rootpath / DEFAULT_STORE_NAME
    if "keep_runs" in values:
        values["keep_runs"] = int(values["keep_runs"])
    return Settings(**values, sources=sources, origins=origins)
