"""The regression gate, in the style of pytest-benchmark's compare: per test the change of cost, turns,
calls and the CLI's duration against a baseline, and thresholds that fail the run.

A baseline is a saved file (``--claude-save-baseline``), a JSON report, or a stored run. Replayed calls
carry their recorded figures, so a suite replayed from cassettes compares offline, the same every time.
Thresholds: ``cost:10%,turns:2,calls:1`` — ``FIELD:N%`` is relative to the baseline's figure, ``FIELD:N``
absolute (dollars for cost, milliseconds for duration); a test regresses when a figure grows by more.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_claude_sessions.errors import ClaudeSessionsError

BASELINE_FORMAT = "pytest-claude-sessions.baseline"
BASELINE_VERSION = 1
FIELDS = ("cost", "turns", "calls", "duration")
_UNITS = {"cost": "$", "turns": "", "calls": "", "duration": "ms"}


class CompareError(ClaudeSessionsError, ValueError):
    """A threshold spec or a baseline that cannot be used (says what and where)."""


@dataclass(frozen=True)
class Threshold:
    field: str
    limit: float
    relative: bool

    def __str__(self) -> str:
        return f"{self.field}:{self.limit:g}%" if self.relative else f"{self.field}:{self.limit:g}"


def parse_thresholds(spec: str, *, source: str = "--claude-compare-fail") -> list[Threshold]:
    """``cost:10%,turns:2`` -> thresholds; raises :class:`CompareError` naming the bad part."""
    parsed = _parse_thresholds(spec)
    if isinstance(parsed, str):
        raise CompareError(f"{source}: {parsed}")
    return parsed


def threshold_problem(spec: str) -> str | None:
    """Why ``spec`` is no threshold list (``None``: it is one); the option table words the error."""
    parsed = _parse_thresholds(spec)
    return parsed if isinstance(parsed, str) else None


def _parse_thresholds(spec: str) -> list[Threshold] | str:
    out: list[Threshold] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, value = part.partition(":")
        name = name.strip().lower()
        if not sep or name not in FIELDS:
            return f"{part!r} is not FIELD:LIMIT or FIELD:LIMIT% with FIELD one of {', '.join(FIELDS)}"
        relative = value.strip().endswith("%")
        number = value.strip().rstrip("%").strip()
        try:
            limit = float(number)
        except ValueError:
            return f"{part!r}: {number!r} is not a number"
        if not math.isfinite(limit) or limit < 0:
            return f"{part!r}: the limit must be a finite number >= 0"
        out.append(Threshold(name, limit, relative))
    if not out:
        return "no threshold given (e.g. cost:10%,turns:2,calls:1)"
    return out


def figures(record: Mapping[str, Any]) -> dict[str, float]:
    """The compared figures of one test record: cost (USD), turns, calls, duration (the CLI's ms)."""
    steps = record.get("steps") or []
    return {
        "cost": round(float(record.get("cost_usd") or 0.0), 10),
        "turns": float(record.get("turns") or 0),
        "calls": float(record.get("calls") or 0),
        "duration": float(sum(s.get("duration_ms") or 0 for s in steps)),
    }


def baseline_from_records(
    records: Sequence[Mapping[str, Any]], *, run_id: str | None = None
) -> dict[str, Any]:
    """The baseline file's content: per test its figures (sorted: the file diffs well in review)."""
    return {
        "format": BASELINE_FORMAT,
        "version": BASELINE_VERSION,
        "run_id": run_id,
        "tests": {str(r["nodeid"]): figures(r) for r in sorted(records, key=lambda r: str(r["nodeid"]))},
    }


def write_baseline(path: Path, data: Mapping[str, Any]) -> None:
    from pytest_claude_sessions.fs import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def load_baseline_file(path: Path) -> dict[str, dict[str, float]]:
    """Per test figures from a baseline file or a JSON report file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CompareError(f"the baseline {path} cannot be read: {exc}") from None
    if isinstance(data, dict) and data.get("format") == BASELINE_FORMAT:
        if data.get("version") != BASELINE_VERSION:
            raise CompareError(f"the baseline {path} has unsupported version {data.get('version')!r}")
        tests = data.get("tests")
        if not isinstance(tests, dict):
            raise CompareError(f"the baseline {path} has no 'tests' object")
        return {str(k): {f: float(v.get(f) or 0) for f in FIELDS} for k, v in tests.items()}
    if isinstance(data, dict) and isinstance(data.get("tests"), list):  # a JSON report
        return {str(r["nodeid"]): figures(r) for r in data["tests"]}
    raise CompareError(f"{path} is neither a baseline (--claude-save-baseline) nor a JSON report")


@dataclass(frozen=True)
class Offence:
    nodeid: str
    threshold: Threshold
    then: float
    now: float

    def describe(self) -> str:
        change = self.now - self.then
        if self.threshold.relative:
            pct = math.inf if self.then == 0 else change / self.then * 100
            shown = "+inf%" if math.isinf(pct) else f"{pct:+.1f}%"
            return (
                f"{self.nodeid}: {self.threshold.field} {_fmt(self.threshold.field, self.then)} → "
                f"{_fmt(self.threshold.field, self.now)} ({shown} > {self.threshold.limit:g}%)"
            )
        return (
            f"{self.nodeid}: {self.threshold.field} {_fmt(self.threshold.field, self.then)} → "
            f"{_fmt(self.threshold.field, self.now)} (+{_fmt(self.threshold.field, change)} > "
            f"{_fmt(self.threshold.field, self.threshold.limit)})"
        )


def _fmt(field: str, value: float) -> str:
    if field == "cost":
        return f"${value:.4f}"
    if field == "duration":
        return f"{value:g}ms"
    return f"{value:g}"


@dataclass
class Comparison:
    baseline: str
    rows: list[dict[str, Any]]  # nodeid, then (figures or None), now (figures or None)
    offences: list[Offence]

    @property
    def failed(self) -> bool:
        return bool(self.offences)

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "tests": self.rows,
            "offenders": [
                {"nodeid": o.nodeid, "threshold": str(o.threshold), "then": o.then, "now": o.now}
                for o in self.offences
            ],
        }

    def lines(self) -> list[str]:
        """The table of every compared test (then → now, change) and the offenders."""
        out = [f"compared with {self.baseline}:"]
        table = [["test", "cost", "turns", "calls", "duration"]]
        for row in self.rows:
            then, now = row["then"], row["now"]
            if then is None or now is None:
                table.append([row["nodeid"], "(new)" if then is None else "(gone)", "", "", ""])
                continue
            table.append([row["nodeid"], *(_change(f, then[f], now[f]) for f in FIELDS)])
        widths = [max(len(r[i]) for r in table) for i in range(5)]
        out.extend(
            "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table
        )
        if self.offences:
            out.append(f"REGRESSION: {len(self.offences)} figure(s) beyond the thresholds:")
            out.extend("  " + o.describe() for o in self.offences)
        return out


def _change(field: str, then: float, now: float) -> str:
    if _fmt(field, then) == _fmt(field, now):  # a change below the shown precision is no change shown
        return _fmt(field, now)
    pct = "" if then == 0 else f" ({(now - then) / then * 100:+.1f}%)"
    return f"{_fmt(field, then)} → {_fmt(field, now)}{pct}"


def compare(
    records: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, Mapping[str, float]],
    thresholds: Sequence[Threshold] = (),
    *,
    baseline_name: str = "the baseline",
) -> Comparison:
    """Every test of this run against the baseline; offences only for tests present in both."""
    now = {str(r["nodeid"]): figures(r) for r in records}
    rows: list[dict[str, Any]] = []
    offences: list[Offence] = []
    for nodeid in sorted(set(now) | set(baseline)):
        then_f = dict(baseline[nodeid]) if nodeid in baseline else None
        now_f = now.get(nodeid)
        rows.append({"nodeid": nodeid, "then": then_f, "now": now_f})
        if then_f is None or now_f is None:
            continue
        for t in thresholds:
            before, after = then_f.get(t.field, 0.0), now_f[t.field]
            grew = after - before
            if grew <= 1e-12:
                continue
            beyond = (before == 0 or grew / before * 100 > t.limit) if t.relative else grew > t.limit + 1e-12
            if beyond:
                offences.append(Offence(nodeid, t, before, after))
    return Comparison(baseline_name, rows, offences)


def load_baseline(
    ref: str, store: Path, *, exclude: Path | None = None
) -> tuple[str, dict[str, dict[str, float]]]:
    """``(name, per-test figures)`` for ``--claude-compare``: ``previous`` (the newest other run of the
    store), a run id (or unique prefix) of the store, or a file (a baseline or a JSON report)."""
    from pytest_claude_sessions.report import model
    from pytest_claude_sessions.store import runs as run_dirs

    if ref == "previous":
        for path in run_dirs.iter_run_dirs_newest_first(store, exclude=exclude):
            run = model.load_run_dir(path)
            if run.records:
                return f"the previous run {run.run_id}", {str(r["nodeid"]): figures(r) for r in run.records}
        raise CompareError(f"--claude-compare=previous: no earlier run in the store {store} to compare with")
    as_path = Path(ref)
    if as_path.is_file():
        return str(as_path), load_baseline_file(as_path)
    try:
        found = model.find_run(store, ref)
    except model.RunNotFoundError as exc:
        raise CompareError(f"--claude-compare={ref}: neither a file nor a run of the store: {exc}") from None
    run = model.load_run(found)
    return f"run {run.run_id}", {str(r["nodeid"]): figures(r) for r in run.records}
