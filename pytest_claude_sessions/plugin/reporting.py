"""What the plugin reports: per-test records, the report-section table, junit properties, the terminal
summary and the JSON run report.

Everything here is plain data in, text or JSON-safe dicts out, so it crosses xdist on report objects
unchanged and can be tested without running pytest.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.tables import excerpt, format_table, money, step_record

REPORT_VERSION = 1
SECTION_KEY = "claude sessions"
SLOWEST_CALLS = 5
SLOWEST_TITLE = "slowest calls (by the CLI's duration_ms, not wall time):"


FAILURE_TEXT_MAX = 500


def failure_record(call: Mapping[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    """A call that raised (``CallRecord.to_dict()``: timeout, unknown session, guard, no binary) as a
    JSON-safe report row. Such a call recorded no chain step; prompt, error and stderr are redacted here
    because, unlike steps, they never went through the tracker."""

    def clean(text: object, keep_tail: bool = False) -> str:
        flat = redact(str(text or ""))
        if len(flat) <= FAILURE_TEXT_MAX:
            return flat
        return "…" + flat[-FAILURE_TEXT_MAX:] if keep_tail else flat[:FAILURE_TEXT_MAX] + "…"

    elapsed = call.get("elapsed")
    return {
        "kind": call.get("kind"),
        "prompt": excerpt(redact(str(call.get("prompt") or "")), 120),
        "session_id": call.get("session_id"),
        "parent_session_id": call.get("parent_session_id"),
        "error_type": call.get("error_type"),
        "error": clean(call.get("error")),
        "stderr": clean(call.get("stderr"), keep_tail=True),
        "elapsed": None if elapsed is None else round(float(elapsed), 3),
        "started_at": call.get("started_at"),
    }


def build_test_record(
    nodeid: str,
    agent_id: str,
    steps: Sequence[SessionInfo] | Sequence[Mapping[str, Any]],
    *,
    outcome: str = "passed",
    continuity: Mapping[str, Any] | None = None,
    budget: Mapping[str, Any] | None = None,
    failures: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The per-test record carried on the teardown report to the controller (JSON-safe).

    ``failures`` are the calls that raised (:func:`failure_record` rows): they are no steps, so they do
    not count as calls, cost or turns, but each counts as an error (as does each step with ``is_error``).
    """
    rows = [step_record(s) if isinstance(s, SessionInfo) else dict(s) for s in steps]
    failed = [dict(f) for f in failures]
    session_ids: list[str] = []
    for row in rows:
        if row["session_id"] not in session_ids:
            session_ids.append(row["session_id"])
    return {
        "nodeid": nodeid,
        "agent_id": agent_id,
        "outcome": outcome,
        "calls": len(rows),
        "cost_usd": round(sum(r["cost_usd"] or 0.0 for r in rows), 10),
        "turns": sum(r["num_turns"] or 0 for r in rows),
        "errors": sum(1 for r in rows if r["is_error"]) + len(failed),
        "session_ids": session_ids,
        "steps": rows,
        "failed_calls": failed,
        "continuity": None if continuity is None else dict(continuity),
        "budget": None if budget is None else dict(budget),
    }


def format_failures(rows: Sequence[Mapping[str, Any]]) -> str:
    """The calls that raised, one line each: kind, session id (or -), prompt excerpt, error."""
    table = [["kind", "session id", "prompt", "error"]]
    for row in rows:
        table.append(
            [
                str(row.get("kind") or "-"),
                str(row.get("session_id") or "-"),
                repr(excerpt(row.get("prompt"), 30)),
                _failure_text(row),
            ]
        )
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table)


def _failure_text(row: Mapping[str, Any]) -> str:
    """The error's first line, and the CLI's last stderr line (often the real cause: "No conversation
    found with session ID ...") when it printed one."""
    error = str(row.get("error") or "").strip()
    text = excerpt(error.splitlines()[0] if error else "-", 90)
    stderr = [line for line in str(row.get("stderr") or "").splitlines() if line.strip()]
    if stderr:
        text += f"; stderr: {excerpt(stderr[-1], 80)}"
    return text


def section_text(record: Mapping[str, Any]) -> str:
    """The body of the per-test "claude sessions" report section."""
    failed = record.get("failed_calls") or []
    lines = [
        f"agent: {record['agent_id']}",
        format_table(record["steps"]) if record["steps"] else "(no step recorded)",
        f"calls: {record['calls']}, sessions: {len(record['session_ids'])}, "
        f"cost: {money(record['cost_usd'])}, turns: {record['turns']}, errors: {record['errors']}",
    ]
    if failed:
        lines.append(f"calls that raised ({len(failed)}, no step recorded):")
        lines.append(format_failures(failed))
    cont = record.get("continuity")
    if cont:
        lines.append(f"continuity: {continuity_text(cont)}")
    spent = record.get("budget")
    if spent:
        lines.append(f"budget: {'ok' if spent.get('ok') else 'EXCEEDED: ' + '; '.join(spent['reasons'])}")
    if record.get("note"):
        lines.append(f"note: {record['note']}")
    return "\n".join(lines) + "\n"


def continuity_text(cont: Mapping[str, Any]) -> str:
    """``ok``, ``ok, weak check: <why>`` (a step without a recorded transcript leaf) or ``BROKEN: <why>``:
    a verdict says what was checked."""
    if not cont.get("ok"):
        return "BROKEN: " + str(cont.get("reason"))
    if cont.get("strength") == "weak":
        return f"ok, weak check: {cont.get('weak_reason')}"
    return "ok"


def junit_properties(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Properties for ``item.user_properties`` (junitxml writes them as ``<property>``)."""
    props = [
        ("claude_agent_id", str(record["agent_id"])),
        ("claude_session_ids", ",".join(record["session_ids"])),
        ("claude_calls", str(record["calls"])),
        ("claude_cost_usd", f"{record['cost_usd']:.6f}"),
        ("claude_turns", str(record["turns"])),
        ("claude_errors", str(record["errors"])),
    ]
    transcripts = [r["transcript_path"] for r in record["steps"] if r.get("transcript_path")]
    if transcripts:
        props.append(("claude_transcripts", ",".join(dict.fromkeys(transcripts))))
    cont = record.get("continuity")
    if cont:
        text = continuity_text(cont)
        props.append(
            ("claude_continuity", "broken: " + text[len("BROKEN: ") :] if not cont.get("ok") else text)
        )
    return props


@dataclass
class RunReport:
    """The controller's aggregate of every test record it received (from reports, in any order)."""

    run_id: str
    run_dir: str
    settings: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=lambda: utcnow().isoformat())
    records: list[dict[str, Any]] = field(default_factory=list)
    workers_down: list[dict[str, Any]] = field(default_factory=list)
    cassettes: list[dict[str, Any]] = field(default_factory=list)  # one per test that used a cassette
    crashed: list[str] = field(default_factory=list)  # node ids whose xdist worker died under them

    def add(self, record: Mapping[str, Any]) -> None:
        self.records.append(dict(record))

    def add_report(self, report: Any) -> None:
        """Take what a test report carries: the test's record and cassette report (on the teardown
        report), or the node id of a test whose xdist worker died (xdist reports it with ``when='???'``)."""
        if report.when == "???":
            if report.failed:
                self.crashed.append(str(report.nodeid))
            return
        data = getattr(report, "claude_sessions", None)
        if report.when != "teardown" or not isinstance(data, dict):
            return
        if isinstance(data.get("record"), dict):
            self.add(data["record"])
        if isinstance(data.get("cassette"), dict):
            self.cassettes.append(dict(data["cassette"]))

    def reconcile(self, chains: Mapping[str, Sequence[SessionInfo]]) -> None:
        """Add the steps the run's store holds that no test reported, as records of their own, marked
        ``incomplete``: those of a test whose xdist worker died (outcome ``crashed``), or of a tracker a
        test made itself (outcome ``unreported``). The summary and the JSON report then count every step
        the store holds."""
        reported: dict[str, set[int]] = {}
        for record in self.records:
            reported.setdefault(record["agent_id"], set()).update(s["step"] for s in record["steps"])
        crashed = {nodeid.split("@", 1)[0]: nodeid for nodeid in self.crashed}
        for agent in sorted(chains):
            missing = [s for s in chains[agent] if s.interaction_count not in reported.get(agent, set())]
            if not missing:
                continue
            if agent in crashed:
                outcome, note = (
                    "crashed",
                    "its xdist worker died during the test; these steps are from the store",
                )
            else:
                outcome, note = "unreported", "steps in the run's store that no test reported"
            record = build_test_record(crashed.get(agent, agent), agent, missing, outcome=outcome)
            self.add({**record, "incomplete": True, "note": note})

    def sorted_records(self) -> list[dict[str, Any]]:
        # Sorting makes -n 0 and -n N reports identical whatever order the workers finished in.
        return sorted(self.records, key=lambda r: (r["nodeid"], json.dumps(r["steps"], sort_keys=True)))

    def totals(self) -> dict[str, Any]:
        records = self.records
        sessions = {sid for r in records for sid in r["session_ids"]}
        # Each part summed on its own: live as total minus replayed can come out as -0.0 (float error).
        replayed = sum(s["cost_usd"] or 0.0 for r in records for s in r["steps"] if s.get("replayed"))
        live = sum(s["cost_usd"] or 0.0 for r in records for s in r["steps"] if not s.get("replayed"))
        total = sum(r["cost_usd"] for r in records)
        return {
            "tests": len(records),
            "calls": sum(r["calls"] for r in records),
            "sessions": len(sessions),
            "cost_usd": round(total, 10),
            "cost_live_usd": round(float(live), 10) + 0.0,  # + 0.0 turns a -0.0 into 0.0
            "cost_replayed_usd": round(float(replayed), 10) + 0.0,
            "replayed_calls": sum(1 for r in records for s in r["steps"] if s.get("replayed")),
            "turns": sum(r["turns"] for r in records),
            "errors": sum(r["errors"] for r in records),
            "failed_calls": sum(len(r.get("failed_calls") or []) for r in records),
            "continuity_failures": sum(
                1 for r in records if r.get("continuity") and not r["continuity"].get("ok")
            ),
            "budget_failures": sum(1 for r in records if r.get("budget") and not r["budget"].get("ok")),
            "failed_tests": sum(1 for r in records if r["outcome"] in ("failed", "crashed")),
            "weak_continuity_checks": sum(
                1 for r in records if r.get("continuity") and r["continuity"].get("strength") == "weak"
            ),
            "incomplete_tests": sum(1 for r in records if r.get("incomplete")),
        }

    def slowest_calls(self, n: int = SLOWEST_CALLS) -> list[dict[str, Any]]:
        """The ``n`` calls with the longest CLI ``duration_ms``.

        Ranked by the CLI's own figure, not by the wall time of the subprocess: it is what the agent took
        (model and tools), it is the same whether a call ran live or was replayed from a cassette (a
        replayed call reports its recorded duration and takes almost no wall time), so the list stays
        stable from run to run. Replayed calls are flagged.
        """
        calls = [
            {"nodeid": r["nodeid"], **s} for r in self.records for s in r["steps"] if s.get("duration_ms")
        ]
        calls.sort(key=lambda c: (-c["duration_ms"], c["nodeid"], c["step"]))
        return calls[:n]

    def summary_lines(self, level: str) -> list[str]:
        """Terminal summary lines for the level (``none`` gives nothing)."""
        if level == "none" or not self.records:
            return []
        t = self.totals()
        cost = money(t["cost_usd"])
        if t["replayed_calls"]:
            # Replayed calls cost nothing now: their figure is what the recording cost.
            cost += f" ({money(t['cost_live_usd'])} live, {money(t['cost_replayed_usd'])} replayed)"
        raised = f" ({t['failed_calls']} raised)" if t["failed_calls"] else ""
        lines = [
            f"{_plural(t['tests'], 'test')}, {_plural(t['calls'], 'call')}, "
            f"{_plural(t['sessions'], 'distinct session')}, total cost {cost}, "
            f"{_plural(t['turns'], 'turn')}, {_plural(t['errors'], 'error')}{raised}, "
            f"{_plural(t['continuity_failures'], 'continuity failure')}, "
            f"{_plural(t['budget_failures'], 'budget failure')}"
            + (
                f", {_plural(t['weak_continuity_checks'], 'weak continuity check')}"
                if t["weak_continuity_checks"]
                else ""
            )
        ]
        for r in self.sorted_records():
            if r.get("incomplete"):
                lines.append(
                    f"{r['outcome']}: {r['nodeid']}: {_plural(r['calls'], 'step')} ({r.get('note')})"
                )
            cont = r.get("continuity")
            if cont and cont.get("ok") and cont.get("strength") == "weak":
                lines.append(f"weak continuity check: {r['nodeid']}: {cont.get('weak_reason')}")
        slow = self.slowest_calls()
        if slow:
            lines.append(SLOWEST_TITLE)
            lines.extend(
                f"  {c['duration_ms'] / 1000:7.2f}s  {c['nodeid']}  step {c['step']} {c['kind']} "
                f"{c['session_id']}{'  (replayed: recorded duration)' if c.get('replayed') else ''}"
                for c in slow
            )
        if level == "full":
            lines.append("per test:")
            for r in self.sorted_records():
                cont = r.get("continuity")
                flag = "" if not cont else ("  continuity ok" if cont.get("ok") else "  CONTINUITY BROKEN")
                if cont and cont.get("ok") and cont.get("strength") == "weak":
                    flag += " (weak)"
                spent = r.get("budget")
                if spent and not spent.get("ok"):
                    flag += "  BUDGET EXCEEDED: " + "; ".join(spent.get("reasons") or [])
                errors = f", {_plural(r['errors'], 'error')}" if r.get("errors") else ""
                lines.append(
                    f"  {r['nodeid']}  {r['outcome']}  {_plural(r['calls'], 'call')}, "
                    f"{_plural(len(r['session_ids']), 'session')}, {money(r['cost_usd'])}, "
                    f"{_plural(r['turns'], 'turn')}{errors}{flag}"
                )
        for down in self.workers_down:
            lines.append(f"worker {down['worker']} went down: {down['error']}")
        return lines

    def to_json(self) -> dict[str, Any]:
        """The JSON report: settings, totals, every test record sorted by node id, crashed workers."""
        return {
            "version": REPORT_VERSION,
            "run_id": self.run_id,
            "run_dir": self.run_dir,
            "started_at": self.started_at,
            "finished_at": utcnow().isoformat(),
            "settings": self.settings,
            "totals": self.totals(),
            "slowest_calls": self.slowest_calls(),
            "tests": self.sorted_records(),
            "cassettes": sorted(self.cassettes, key=lambda c: (str(c.get("nodeid")), str(c.get("path")))),
            "workers_down": self.workers_down,
        }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def json_report_problem(path: Path) -> str | None:
    """Why the JSON report could not be written to ``path`` at the end of the run, checked at start-up
    without creating anything (``None``: it can). Directories that do not exist yet are made later."""
    if path.is_dir():
        return "it is a directory"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"directory {parent} is not writable"
    return None


def write_json_report(path: Path, data: Mapping[str, Any]) -> None:
    """Write atomically (:func:`pytest_claude_sessions.fs.atomic_write`: temp, fsync, rename, fsync of the
    directory) so a reader never sees half a report; a symbolic link at ``path`` is refused, never
    written through. Raises ``OSError`` naming the path."""
    from pytest_claude_sessions.fs import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(path, text, error=OSError, what="JSON report")


def cassette_summary_lines(reports: Sequence[Mapping[str, Any]], mode: str) -> list[str]:
    """The cassette part of the summary: counts, cassettes not saved and why, removed ones."""
    if not reports:
        return []
    replayed = sum(int(r.get("replayed", 0)) for r in reports)
    recorded = sum(int(r.get("recorded", 0)) for r in reports)
    saved = sum(1 for r in reports if r.get("saved"))
    lines = [
        f"mode {mode}: {len(reports)} test(s) with cassettes, {replayed} call(s) replayed, "
        f"{recorded} recorded, {saved} cassette(s) saved"
    ]
    for r in reports:
        if r.get("recorded") and not r.get("saved"):
            lines.append(f"  not saved: {r.get('path')} ({r.get('nodeid')}): {r.get('not_saved_reason')}")
        elif r.get("removed"):
            lines.append(f"  removed: {r.get('path')} ({r.get('nodeid')}): the test passed without a call")
    return lines


def write_summary(
    terminal: Any,
    report: RunReport | None,
    settings: Any,
    json_error: str | None,
    housekeeping: Sequence[str] = (),
) -> None:
    """The terminal summary: the "claude cassettes" part (or what housekeeping did), then the "claude
    sessions" part (per the report level) and the JSON report's path or why it could not be written."""
    # The cassette part first: it says how the calls that the sessions part counts were made.
    cassette_lines = list(housekeeping) or (
        [] if report is None else cassette_summary_lines(report.cassettes, settings.record_mode)
    )
    if cassette_lines:
        terminal.write_sep("-", "claude cassettes")
        for line in cassette_lines:
            terminal.write_line(line)
    lines = [] if report is None else report.summary_lines(settings.report)
    if (
        report is not None
        and settings.json_report is not None
        and settings.report != "none"
        and not json_error
    ):
        lines.append(f"JSON report: {settings.json_report}")
    if lines or json_error:
        terminal.write_sep("-", "claude sessions")
        for line in lines:
            terminal.write_line(line)
        if json_error:
            terminal.write_line(json_error, red=True, bold=True)
