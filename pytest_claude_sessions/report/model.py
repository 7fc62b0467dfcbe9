"""A stored run as the JSON report's data: read from a run directory (its journals, plus the
``report.json`` the plugin leaves there), from a JSON report file, or from a merged store.

The journals are the truth about steps (a crashed worker's steps are there even when its teardown report
never reached the controller); ``report.json`` adds what only pytest knew: outcomes, continuity and budget
verdicts, the calls that raised.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_claude_sessions.errors import StoreError
from pytest_claude_sessions.report.records import REPORT_VERSION, RunReport, build_test_record
from pytest_claude_sessions.store import runs as run_dirs

REPORT_NAME = "report.json"  # the JSON report the plugin writes into its run directory
DEFAULT_STORE = ".claude_sessions"
STORE_ENV = "PYTEST_CLAUDE_SESSIONS_DIR"
# The order of outcomes when one test appears in several sources (merged shards): the worst wins.
OUTCOME_RANK = {"failed": 5, "error": 4, "unknown": 3, "passed": 2, "xfailed": 1, "skipped": 0}


class RunNotFoundError(StoreError):
    """A run reference that names no run of the store."""


@dataclass
class Run:
    """One run: its id, where it was read from, its test records (sorted by node id) and settings."""

    run_id: str
    source: str
    records: list[dict[str, Any]]
    started_at: str | None = None
    finished_at: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    workers_down: list[dict[str, Any]] = field(default_factory=list)
    merged_from: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        return run_totals(self.records)

    def record(self, nodeid: str) -> dict[str, Any] | None:
        return next((r for r in self.records if r["nodeid"] == nodeid), None)

    def to_json(self) -> dict[str, Any]:
        """The JSON report shape (deterministic: nothing here depends on when it is written)."""
        report = RunReport(self.run_id, self.source, settings=self.settings)
        report.records = self.records
        data: dict[str, Any] = {
            "version": REPORT_VERSION,
            "run_id": self.run_id,
            "run_dir": self.source,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "settings": self.settings,
            "totals": self.totals(),
            "slowest_calls": report.slowest_calls(),
            "tests": report.sorted_records(),
            "workers_down": self.workers_down,
        }
        if self.merged_from:
            data["merged_from"] = self.merged_from
        return data


def run_totals(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's totals, computed exactly as the plugin computes them."""
    report = RunReport("", "")
    report.records = [dict(r) for r in records]
    return report.totals()


def resolve_store(store: str | os.PathLike[str] | None) -> Path:
    """``store``, else ``$PYTEST_CLAUDE_SESSIONS_DIR``, else ``./.claude_sessions``."""
    if store is not None:
        return Path(store)
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


def find_run(store: Path, ref: str | None) -> Path:
    """The run directory or JSON report ``ref`` names: ``None``/``latest`` (newest), a run id or a unique
    prefix (or suffix) of one, ``-N`` (N-th newest, ``-1`` = newest), a run directory, a store (its newest
    run) or a JSON report file."""
    if ref is not None and ref not in ("latest",) and not ref.startswith("-"):
        as_path = Path(ref)
        if as_path.is_file():
            return as_path
        if as_path.is_dir() and (as_path.name == ref or os.sep in ref or ref.startswith(".")):
            if run_dirs.list_runs(as_path):
                return run_dirs.list_runs(as_path)[-1]
            if run_dirs.is_run_id(as_path.name) or any(as_path.glob("*.jsonl")):
                return as_path
    found = run_dirs.list_runs(store)
    if not found:
        raise RunNotFoundError(f"no run in the store {store} (looked in {run_dirs.runs_root(store)})")
    if ref is None or ref == "latest":
        return found[-1]
    if ref.startswith("-") and ref[1:].isdigit() and int(ref[1:]) >= 1:
        n = int(ref[1:])
        if n > len(found):
            raise RunNotFoundError(f"{ref}: the store {store} holds only {len(found)} run(s)")
        return found[-n]
    matches = [p for p in found if p.name.startswith(ref)]
    if not matches:  # the random tail of a run id is what people copy: a unique suffix names it too
        matches = [p for p in found if p.name.endswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunNotFoundError(f"no run {ref!r} in the store {store} (see: claude-sessions runs)")
    raise RunNotFoundError(f"{ref!r} is ambiguous in {store}: " + ", ".join(p.name for p in matches[:5]))


def load_run(path: Path) -> Run:
    """A run from a run directory or from a JSON report file."""
    if path.is_file():
        return run_from_report(read_report(path), str(path))
    return load_run_dir(path)


def read_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{path}: not a readable JSON report: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        raise StoreError(f"{path}: not a pytest-claude-sessions JSON report (no 'tests' list)")
    if data.get("version") != REPORT_VERSION:
        raise StoreError(f"{path}: unsupported JSON report version {data.get('version')!r}")
    return data


def run_from_report(data: Mapping[str, Any], source: str) -> Run:
    records = sorted((dict(r) for r in data["tests"]), key=lambda r: str(r.get("nodeid")))
    return Run(
        run_id=str(data.get("run_id") or Path(source).stem),
        source=source,
        records=records,
        started_at=data.get("started_at"),
        finished_at=data.get("finished_at"),
        settings=dict(data.get("settings") or {}),
        workers_down=list(data.get("workers_down") or []),
        merged_from=list(data.get("merged_from") or []),
    )


def load_run_dir(path: Path) -> Run:
    """The journals of a run directory, with ``report.json``'s verdicts laid over them when it is there."""
    from pytest_claude_sessions.store.session_store import SessionStore

    if not path.is_dir():
        raise RunNotFoundError(f"{path} is not a run directory")
    report_path = path / REPORT_NAME
    report = read_report(report_path) if report_path.is_file() else None
    by_node = {str(r["nodeid"]): r for r in (report or {}).get("tests", [])}
    by_agent: dict[str, list[dict[str, Any]]] = {}
    for rec in by_node.values():
        by_agent.setdefault(str(rec.get("agent_id") or rec["nodeid"]), []).append(rec)
    chains = SessionStore(path, create=False).load_all()
    records: list[dict[str, Any]] = []
    for agent_id, chain in chains.items():
        known = by_agent.pop(agent_id, None)
        if known:
            # The steps from the journal (complete), everything else from the test's report record.
            for rec in known:
                records.append(_with_steps(rec, chain) if len(known) == 1 else dict(rec))
        else:
            records.append(build_test_record(agent_id, agent_id, chain, outcome="unknown"))
    for rest in by_agent.values():
        records.extend(dict(r) for r in rest)
    records.sort(key=lambda r: str(r["nodeid"]))
    return Run(
        run_id=str((report or {}).get("run_id") or path.name),
        source=str(path),
        records=records,
        started_at=(report or {}).get("started_at") or _started_from_id(path.name),
        finished_at=(report or {}).get("finished_at"),
        settings=dict((report or {}).get("settings") or {}),
        workers_down=list((report or {}).get("workers_down") or []),
        merged_from=list((report or {}).get("merged_from") or []),
    )


def _with_steps(record: Mapping[str, Any], chain: Iterable[Any]) -> dict[str, Any]:
    rebuilt = build_test_record(
        str(record["nodeid"]),
        str(record.get("agent_id") or record["nodeid"]),
        list(chain),
        outcome=str(record.get("outcome") or "unknown"),
        continuity=record.get("continuity"),
        budget=record.get("budget"),
        failures=record.get("failed_calls") or [],
    )
    for key, value in record.items():
        rebuilt.setdefault(key, value)  # keys a newer plugin added survive
    return rebuilt


def _started_from_id(run_id: str) -> str | None:
    """The start time encoded in a run id (``2026-11-24T05-23-07.123456Z-1a2b3c``), ISO-8601."""
    if not run_dirs.is_run_id(run_id):
        return None
    date, clock = run_id[:10], run_id[11:26]
    return f"{date}T{clock[:2]}:{clock[3:5]}:{clock[6:]}+00:00"


def failing_first(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Failing tests first (worst outcome first), then by node id."""
    return sorted(records, key=lambda r: (-OUTCOME_RANK.get(str(r.get("outcome")), 3), str(r["nodeid"])))
