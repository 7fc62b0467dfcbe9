"""The JSON record model: a test's record (its steps, the calls that raised, its verdicts) and the run's
aggregate :class:`RunReport` (totals, slowest calls, the summary lines, the JSON report's shape).

Plain data in, JSON-safe dicts (or text lines) out, so records cross xdist on report objects unchanged,
and the plugin, the merge, the HTML report and the ``claude-sessions`` command all build and read the
same records. Below the plugin: nothing here imports pytest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.tables import excerpt, money, step_record

REPORT_VERSION = 1
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
