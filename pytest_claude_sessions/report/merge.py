"""Merging stores from several machines or CI jobs into one store with one run and one JSON report.

The result depends only on the set of steps and test records merged, never on the order of the sources
or on how often a source was merged: steps are united by :func:`record_key`, ties broken by their bytes,
ordered by time then key; the merged run's id and every byte written derive from that content. A target
that already holds a merged run takes part in the union, so merging shard by shard gives the same bytes
as merging all shards at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_claude_sessions.errors import StoreError
from pytest_claude_sessions.fs import fsync_dir, write_all
from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.report.model import (
    OUTCOME_RANK,
    REPORT_NAME,
    Run,
    _with_steps,
    read_report,
)
from pytest_claude_sessions.report.records import build_test_record
from pytest_claude_sessions.store import runs as run_dirs
from pytest_claude_sessions.store.journal import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_KEY,
    encode_line,
    journal_name,
    record_key,
)
from pytest_claude_sessions.store.session_store import SessionStore


@dataclass
class MergeResult:
    run_dir: Path
    run_id: str
    sources: list[Path]
    tests: int
    steps: int


@dataclass
class _Source:
    path: Path
    chains: dict[str, list[SessionInfo]]
    report: dict[str, Any] | None


def source_run(path: Path) -> Path:
    """The run directory a merge source names: a store (its newest run) or a run directory."""
    if not path.is_dir():
        raise StoreError(f"merge source {path}: not a directory (give a store or one of its run directories)")
    found = run_dirs.list_runs(path)
    if found:
        return found[-1]
    if (path / REPORT_NAME).is_file() or any(path.glob("*.jsonl")):
        return path
    raise StoreError(f"merge source {path}: neither a store (no runs/) nor a run directory (no journal)")


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _read_source(run_dir: Path) -> _Source:
    report_path = run_dir / REPORT_NAME
    report = read_report(report_path) if report_path.is_file() else None
    return _Source(run_dir, SessionStore(run_dir, create=False).load_all(), report)


def merge_stores(sources: Sequence[Path], into: Path) -> MergeResult:
    """Merge the runs ``sources`` name into the store ``into`` (created when missing)."""
    if not sources:
        raise StoreError("merge: no source given")
    previous = _merge_target_runs(into)
    run_paths = sorted({source_run(p).resolve() for p in sources} | {p.resolve() for p in previous})
    read = [_read_source(p) for p in run_paths]

    steps = _union_steps(read)
    records = _union_records(read, steps)
    ids = sorted({rid for s in read for rid in _source_ids(s)})
    digest = hashlib.sha256(
        _canonical([[a, [record_key(r) for r in chain]] for a, chain in sorted(steps.items())]).encode()
        + _canonical(records).encode()
    ).hexdigest()
    stamp = min((i[:27] for i in ids if run_dirs.is_run_id(i)), default="1970-01-01T00-00-00.000000Z")
    run_id = f"{stamp}-{digest[:6]}"
    reports = [s.report for s in read if s.report is not None]
    settings = [r.get("settings") or {} for r in reports]
    run = Run(
        run_id=run_id,
        source=f"{run_dirs.RUNS_DIRNAME}/{run_id}",
        records=records,
        started_at=min((str(r["started_at"]) for r in reports if r.get("started_at")), default=None),
        finished_at=max((str(r["finished_at"]) for r in reports if r.get("finished_at")), default=None),
        settings=settings[0] if settings and all(s == settings[0] for s in settings) else {},
        workers_down=sorted(
            {_canonical(w): w for r in reports for w in r.get("workers_down") or []}.values(), key=_canonical
        ),
        merged_from=ids,
    )
    target = _write_run(into, run_id, steps, run.to_json())
    for old in previous:
        if old.resolve() != target.resolve():
            shutil.rmtree(old)
    return MergeResult(target, run_id, run_paths, len(records), sum(len(c) for c in steps.values()))


def _merge_target_runs(into: Path) -> list[Path]:
    """The run an earlier merge left in ``into`` (it takes part in the union and is replaced); ``into``
    must be missing, empty, or made by merge: a store of a pytest run, or a directory with other files,
    is refused before anything is written (its runs would be replaced by the merged one)."""
    if not into.exists():
        return []
    if not into.is_dir():
        raise StoreError(f"merge target {into} is not a directory")
    fix = "give an empty directory or one made by claude-sessions merge"
    previous = run_dirs.list_runs(into)
    if len(previous) > 1:
        raise StoreError(f"merge target {into} holds {len(previous)} runs: {fix}")
    for run in previous:
        try:
            report = json.loads((run / REPORT_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = None
        if not isinstance(report, dict) or not report.get("merged_from"):
            raise StoreError(f"merge target {into} holds run {run.name}, which no merge made: {fix}")
    known = {run_dirs.RUNS_DIRNAME, *run_dirs.STORE_MARKERS}
    other = sorted(p.name for p in into.iterdir() if p.name not in known)
    if other:
        shown = ", ".join(other[:3]) + (", ..." if len(other) > 3 else "")
        raise StoreError(f"merge target {into} holds files no merge made ({shown}): {fix}")
    return previous


def _source_ids(source: _Source) -> list[str]:
    merged = (source.report or {}).get("merged_from")
    if merged:
        return [str(i) for i in merged]
    return [str((source.report or {}).get("run_id") or source.path.name)]


def _union_steps(sources: Iterable[_Source]) -> dict[str, list[SessionInfo]]:
    by_agent: dict[str, dict[str, tuple[bytes, SessionInfo]]] = {}
    for source in sources:
        for agent, chain in source.chains.items():
            known = by_agent.setdefault(agent, {})
            for step in chain:
                key = record_key(step)
                copy = SessionInfo.from_dict(step.to_dict())
                copy.step_id = key
                copy.interaction_count = 0  # renumbered below: a position, not part of the identity
                encoded = encode_line(copy.to_dict())
                if key not in known or encoded < known[key][0]:
                    known[key] = (encoded, copy)
    out: dict[str, list[SessionInfo]] = {}
    for agent, known in sorted(by_agent.items()):
        chain = [info for _, info in sorted(known.values(), key=lambda e: (e[1].created_at, e[1].step_id))]
        for n, info in enumerate(chain, start=1):
            info.interaction_count = n
        out[agent] = chain
    return out


def _union_records(
    sources: Iterable[_Source], steps: Mapping[str, list[SessionInfo]]
) -> list[dict[str, Any]]:
    by_node: dict[str, list[dict[str, Any]]] = {}
    for source in sources:
        for rec in (source.report or {}).get("tests", []):
            by_node.setdefault(str(rec["nodeid"]), []).append(dict(rec))
    agents_with_record: dict[str, int] = {}
    combined: list[dict[str, Any]] = []
    for nodeid, recs in sorted(by_node.items()):
        rec = _combine(recs)
        agent = str(rec.get("agent_id") or nodeid)
        agents_with_record[agent] = agents_with_record.get(agent, 0) + 1
        combined.append(rec)
    out: list[dict[str, Any]] = []
    for rec in combined:
        agent = str(rec.get("agent_id") or rec["nodeid"])
        chain = steps.get(agent)
        out.append(_with_steps(rec, chain) if chain is not None and agents_with_record[agent] == 1 else rec)
    for agent, chain in steps.items():
        if agent not in agents_with_record:
            out.append(build_test_record(agent, agent, chain, outcome="unknown"))
    return sorted(out, key=lambda r: str(r["nodeid"]))


def _combine(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """One record from the copies of a test found in several sources: the worst verdicts win."""
    recs = sorted(recs, key=_canonical)
    out = dict(recs[0])
    out["outcome"] = max((str(r.get("outcome")) for r in recs), key=lambda o: (OUTCOME_RANK.get(o, 3), o))
    for key in ("continuity", "budget"):
        verdicts = [r[key] for r in recs if r.get(key)]
        bad = [v for v in verdicts if not v.get("ok")]
        out[key] = (bad or verdicts or [None])[0]
    failed = {_canonical(f): f for r in recs for f in r.get("failed_calls") or []}
    out["failed_calls"] = [
        failed[k] for k in sorted(failed, key=lambda k: (str(failed[k].get("started_at")), k))
    ]
    return out


def _journal_lines(agent: str, chain: Sequence[SessionInfo]) -> list[bytes]:
    body = [encode_line(info.to_dict()) for info in chain]
    header = {
        HEADER_KEY: FORMAT_NAME,
        "version": FORMAT_VERSION,
        "agent_id": agent,
        "created_at": chain[0].created_at.isoformat() if chain else None,
        "generation": hashlib.sha256(b"".join(body)).hexdigest()[:32],  # content-derived: merges reproduce
    }
    return [encode_line(header), *body]


def _write_run(
    into: Path, run_id: str, steps: Mapping[str, list[SessionInfo]], report: Mapping[str, Any]
) -> Path:
    root = run_dirs.runs_root(into)
    root.mkdir(parents=True, exist_ok=True)
    run_dirs.mark_store(into)
    target = root / run_id
    # Built beside the target under a name list_runs ignores, then renamed in: no reader sees half a run.
    staging = root / f".{run_id}.merging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    # Nobody sees the staging directory before the rename below, so its files are written plainly and made
    # durable by one sync before the rename: one fsync per journal made a 10,000-test merge take minutes.
    for agent, chain in steps.items():
        _write_new(staging / journal_name(agent), b"".join(_journal_lines(agent, chain)))
    _write_new(staging / REPORT_NAME, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    os.sync()
    if target.exists():
        aside = root / f".{run_id}.replaced"
        if aside.exists():
            shutil.rmtree(aside)
        target.rename(aside)
        staging.rename(target)
        shutil.rmtree(aside)
    else:
        staging.rename(target)
    fsync_dir(root)
    return target


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
