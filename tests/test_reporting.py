"""Report building blocks (records, table, junit properties, summary, JSON) and run directories."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.plugin.reporting import (
    json_report_problem,
    junit_properties,
    section_text,
    write_json_report,
)
from pytest_claude_sessions.redact import Redactor
from pytest_claude_sessions.report.records import RunReport, build_test_record, failure_record
from pytest_claude_sessions.store import runs
from pytest_claude_sessions.store.tracker import SessionTracker
from pytest_claude_sessions.tables import excerpt, format_table

SID = "00000000-0000-4000-8000-{:012d}"


def step(n: int, sid: int, kind: str = "new", **kw: object) -> SessionInfo:
    return SessionInfo(
        session_id=SID.format(sid),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        interaction_count=n,
        last_prompt=kw.pop("prompt", f"prompt {n}\nwith a second line"),  # type: ignore[arg-type]
        last_response="r",
        kind=kind,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_record_sums_per_call_costs_and_is_json_safe() -> None:
    steps = [
        step(
            1,
            1,
            cost_usd=0.02,
            total_cost_usd=0.02,
            num_turns=1,
            duration_ms=900,
            metadata={"leaf_uuid": "L1"},
            transcript_path="/t/1.jsonl",
        ),
        step(
            2, 1, "resume", parent_session_id=SID.format(1), cost_usd=0.03, total_cost_usd=0.05, num_turns=2
        ),
        step(3, 2, "fork", parent_session_id=SID.format(1), cost_usd=None, is_error=True, error="HTTP 500"),
    ]
    record = build_test_record("t.py::x[a b]", "t.py::x[a b]", steps, outcome="failed")
    assert json.loads(json.dumps(record)) == record
    assert (record["calls"], record["cost_usd"], record["turns"], record["errors"]) == (3, 0.05, 3, 1)
    assert record["session_ids"] == [SID.format(1), SID.format(2)]
    assert record["steps"][0]["leaf_uuid"] == "L1"
    assert record["steps"][0]["prompt"] == "prompt 1 with a second line"

    props = dict(junit_properties(record))
    assert props["claude_session_ids"] == f"{SID.format(1)},{SID.format(2)}"
    assert props["claude_cost_usd"] == "0.050000"
    assert props["claude_transcripts"] == "/t/1.jsonl"
    assert "claude_continuity" not in props

    text = section_text(record)
    lines = text.splitlines()
    assert lines[0] == "agent: t.py::x[a b]"
    assert lines[1].split()[:4] == ["#", "kind", "session", "id"]
    assert lines[4].split()[:4] == ["3", "fork", SID.format(2), SID.format(1)]
    assert "HTTP 500" in lines[4]
    assert lines[-1] == "calls: 3, sessions: 2, cost: $0.0500, turns: 3, errors: 1"


def test_table_and_excerpt_are_one_line_each() -> None:
    assert excerpt("a\nb\tc   d", 40) == "a b c d"
    assert excerpt("x" * 50, 10) == "x" * 9 + "…"
    table = format_table([{"step": 1, "kind": "new", "session_id": "s", "prompt": "p\n" * 30}])
    assert len(table.splitlines()) == 2


def records() -> list[dict[str, object]]:
    return [
        build_test_record(
            "b.py::t",
            "b.py::t",
            [step(1, 2, cost_usd=0.5, num_turns=1, duration_ms=3000)],
            continuity={"checked": True, "ok": False, "reason": "disjoint"},
        ),
        build_test_record(
            "a.py::t",
            "a.py::t",
            [
                step(1, 1, cost_usd=0.25, num_turns=2, duration_ms=100),
                step(2, 1, "resume", cost_usd=0.25, duration_ms=5000),
            ],
            budget={"ok": False, "reasons": ["calls 2 > max_calls 1"]},
            outcome="failed",
        ),
    ]


def test_run_report_is_independent_of_arrival_order(tmp_path: Path) -> None:
    forward, backward = RunReport("r", "/d"), RunReport("r", "/d")
    for rec in records():
        forward.add(rec)
    for rec in reversed(records()):
        backward.add(rec)
    assert forward.summary_lines("full") == backward.summary_lines("full")
    fj, bj = forward.to_json(), backward.to_json()
    for data in (fj, bj):
        data.pop("finished_at")
        data.pop("started_at")
    assert fj == bj
    assert fj["totals"] == {
        "tests": 2,
        "calls": 3,
        "sessions": 2,
        "cost_usd": 1.0,
        "cost_live_usd": 1.0,
        "cost_replayed_usd": 0.0,
        "replayed_calls": 0,
        "turns": 3,
        "errors": 0,
        "failed_calls": 0,
        "continuity_failures": 1,
        "budget_failures": 1,
        "failed_tests": 1,
        "weak_continuity_checks": 0,
        "incomplete_tests": 0,
    }
    lines = forward.summary_lines("summary")
    assert lines[0] == (
        "2 tests, 3 calls, 2 distinct sessions, total cost $1.0000, 3 turns, 0 errors, "
        "1 continuity failure, 1 budget failure"
    )
    assert lines[1] == "slowest calls (by the CLI's duration_ms, not wall time):"
    assert lines[2].split() == ["5.00s", "a.py::t", "step", "2", "resume", SID.format(1)]
    assert "per test:" not in lines
    full = forward.summary_lines("full")
    assert full[full.index("per test:") + 1].split()[:2] == ["a.py::t", "failed"]
    # The full per-test line names what failed: the budget figures and a broken chain.
    assert full[full.index("per test:") + 1].endswith("BUDGET EXCEEDED: calls 2 > max_calls 1")
    assert full[full.index("per test:") + 2].endswith("CONTINUITY BROKEN")
    assert forward.summary_lines("none") == []
    assert RunReport("r", "/d").summary_lines("full") == []

    target = tmp_path / "deep" / "report.json"
    write_json_report(target, forward.to_json())
    assert json.loads(target.read_text())["totals"]["tests"] == 2
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]  # no temp file left


def test_slowest_calls_rank_by_cli_duration_and_flag_replayed_calls() -> None:
    report = RunReport("r", "/d")
    replayed = step(1, 7, duration_ms=9000, metadata={"replayed": True})
    report.add(build_test_record("c.py::t", "c.py::t", [replayed, step(2, 7, "resume", duration_ms=None)]))
    for rec in records():
        report.add(rec)
    ranked = report.slowest_calls(3)
    assert [(c["nodeid"], c["step"], c["duration_ms"]) for c in ranked] == [
        ("c.py::t", 1, 9000),
        ("a.py::t", 2, 5000),
        ("b.py::t", 1, 3000),
    ]
    assert [c["replayed"] for c in ranked] == [True, False, False]
    assert all(c["duration_ms"] for c in report.slowest_calls(10))  # calls without a figure are left out
    lines = report.summary_lines("summary")
    slow = lines[lines.index("slowest calls (by the CLI's duration_ms, not wall time):") + 1 :]
    assert slow[0].split() == [
        "9.00s",
        "c.py::t",
        "step",
        "1",
        "new",
        SID.format(7),
        "(replayed:",
        "recorded",
        "duration)",
    ]
    assert "replayed" not in slow[1]
    assert len(slow) == 4  # every call with a duration, at most SLOWEST_CALLS


# --------------------------------------------------------------------------- run directories


def test_run_ids_sort_by_time_and_are_unique() -> None:
    ids = [runs.new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(runs.is_run_id(i) for i in ids)
    assert ids == sorted(ids)
    assert not runs.is_run_id("../etc") and not runs.is_run_id("2026")


def test_prune_keeps_newest_and_current_and_skips_foreign_names(tmp_path: Path) -> None:
    made = []
    for _ in range(5):
        run = runs.create_run(tmp_path)
        run.release()
        made.append(run.path)
        time.sleep(0.001)
    (tmp_path / "runs" / "notes").mkdir()
    current = runs.create_run(tmp_path)
    deleted = runs.prune_runs(tmp_path, 3, current=current.path)
    assert deleted == made[:3]
    assert runs.list_runs(tmp_path) == [*made[3:], current.path]
    assert (tmp_path / "runs" / "notes").is_dir()
    assert runs.prune_runs(tmp_path, 0, current=current.path) == []
    current.release()


def test_prune_skips_a_run_another_process_still_holds(tmp_path: Path) -> None:
    old = runs.create_run(tmp_path)
    old.release()
    lock = old.path / runs.ACTIVE_LOCK_NAME
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); "
            "print('held', flush=True); time.sleep(30)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        current = runs.create_run(tmp_path)
        assert runs.prune_runs(tmp_path, 1, current=current.path) == []
        assert old.path.is_dir()
    finally:
        holder.kill()
        holder.wait()
    assert runs.prune_runs(tmp_path, 1, current=current.path) == [old.path]
    current.release()


def test_node_agent_id_strips_only_the_xdist_group_suffix() -> None:
    assert runs.node_agent_id("t.py::x[a@b]@grp", "grp") == "t.py::x[a@b]"
    assert runs.node_agent_id("t.py::x[a@b]", "c") == "t.py::x[a@b]"
    assert runs.node_agent_id("t.py::x[a@b]", None) == "t.py::x[a@b]"


def test_session_history_newest_first(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        run = runs.create_run(tmp_path)
        if i != 1:  # the node did not touch Claude in the middle run
            SessionTracker("t.py::x", run.path).update_session(SID.format(i), f"p{i}", "r")
        run.release()
        paths.append(run.path)
    history = runs.SessionHistory(tmp_path, "t.py::x", exclude=paths[2])
    assert [(rid, [s.session_id for s in chain]) for rid, chain in history.runs()] == [
        (paths[0].name, [SID.format(0)])
    ]
    prev = history.previous()
    assert prev is not None and prev[0].last_prompt == "p0"
    assert [rid for rid, _ in runs.session_history(tmp_path, "t.py::x")] == [paths[2].name, paths[0].name]
    assert runs.SessionHistory(tmp_path / "none", "t.py::x").previous() is None


def test_keep_runs_and_history_fixture_through_pytest(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_inner="""
        import os

        def test_node(session_tracker, claude_session_history):
            previous = claude_session_history.previous()
            n = 0 if previous is None else int(previous[-1].last_prompt) + 1
            session_tracker.update_session("00000000-0000-4000-8000-00000000000%d" % n, str(n), "r")
            print("RUN", n, len(claude_session_history.runs()))
        """
    )
    seen = []
    for _ in range(4):
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "--strict-markers", "-s", "--claude-keep-runs=2"
        )
        result.assert_outcomes(passed=1)
        seen.append(next(line[line.index("RUN") :] for line in result.stdout.lines if "RUN " in line))
    # keep=2: each run sees only the one run kept before it, and counts on from it.
    assert seen == ["RUN 0 0", "RUN 1 1", "RUN 2 1", "RUN 3 1"]
    assert len(os.listdir(pytester.path / ".claude_sessions" / "runs")) == 2


def test_an_empty_run_is_discarded_and_a_used_one_kept(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh" / "store"
    run = runs.create_run(fresh)
    assert run.discard_if_empty()
    assert not fresh.exists() and (tmp_path / "fresh").is_dir()  # only what create_run made goes

    existing = tmp_path / "existing"
    existing.mkdir()
    kept = runs.create_run(existing)
    (kept.path / "chains").mkdir()
    assert not kept.discard_if_empty()
    empty = runs.create_run(existing)
    assert empty.discard_if_empty()
    assert runs.list_runs(existing) == [kept.path]  # runs/ holds the other run: it stays


def test_calls_that_raised_are_rows_errors_and_junit_but_no_steps() -> None:
    """A timeout or an unknown session made no step: it shows in the section, the errors and junit."""
    secret = "sk-ant-api03-" + "x" * 40
    raised = {
        "prompt": f"use key {secret} now",
        "kind": "resume",
        "session_id": SID.format(9),
        "parent_session_id": SID.format(9),
        "error_type": "ClaudeTimeoutError",
        "error": "ClaudeTimeoutError: the claude CLI did not finish within 1s",
        "stderr": "e" * 2000 + " tail",
        "elapsed": 1.23456,
        "started_at": "2026-01-01T00:00:00+00:00",
        "argv": ["claude", "-p", secret],
    }
    redactor = Redactor()
    row = failure_record(raised, redactor.redact)
    assert secret not in json.dumps(row) and "argv" not in row
    assert row["stderr"].endswith(" tail") and len(row["stderr"]) <= 501
    assert row["elapsed"] == 1.235
    steps = [step(1, 1, cost_usd=0.1, num_turns=1), step(2, 1, "resume", is_error=True, error="HTTP 500")]
    record = build_test_record("t.py::x", "t.py::x", steps, failures=[row])
    assert (record["calls"], record["errors"]) == (2, 2)  # one error step + one raised call, no overlap
    assert dict(junit_properties(record))["claude_errors"] == "2"
    text = section_text(record)
    assert "calls that raised (1, no step recorded):" in text
    assert re.search(
        rf"resume\s+{SID.format(9)}\s+'use key \[REDACTED[^']*'\s+ClaudeTimeoutError: the claude", text
    )
    # A test whose only call raised still gets a section.
    alone = build_test_record("t.py::y", "t.py::y", [], failures=[{**row, "session_id": None}])
    assert section_text(alone).splitlines()[1] == "(no step recorded)"
    assert re.search(r"^resume\s+-\s+'use key", section_text(alone), re.M)

    report = RunReport("r", "/d")
    report.add(record)
    report.add(alone)
    totals = report.totals()
    assert (totals["errors"], totals["failed_calls"], totals["calls"]) == (3, 2, 2)
    assert "3 errors (2 raised)" in report.summary_lines("summary")[0]


def test_summary_splits_live_and_replayed_cost() -> None:
    report = RunReport("r", "/d")
    live = step(1, 1, cost_usd=0.25)
    replayed = step(1, 2, cost_usd=0.5, metadata={"replayed": True})
    report.add(build_test_record("a.py::t", "a.py::t", [live]))
    report.add(build_test_record("b.py::t", "b.py::t", [replayed]))
    t = report.totals()
    assert (t["cost_usd"], t["cost_live_usd"], t["cost_replayed_usd"], t["replayed_calls"]) == (
        0.75,
        0.25,
        0.5,
        1,
    )
    assert "total cost $0.7500 ($0.2500 live, $0.5000 replayed)," in report.summary_lines("summary")[0]
    # Everything replayed: live is exactly $0 (not total minus replayed, which float error makes -0.0).
    only = RunReport("r", "/d")
    only.add(build_test_record("c.py::t", "c.py::t", [relabel_replayed(0.1, 1), relabel_replayed(0.2, 2)]))
    assert only.totals()["cost_live_usd"] == 0.0
    assert "($0.0000 live, $0.3000 replayed)" in only.summary_lines("summary")[0]


def relabel_replayed(cost: float, n: int) -> SessionInfo:
    return step(n, 3, "new" if n == 1 else "resume", cost_usd=cost, metadata={"replayed": True})


def test_json_report_problems_are_found_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "file").write_text("x")
    assert json_report_problem(tmp_path / "taken") == "it is a directory"
    assert json_report_problem(tmp_path / "file" / "r.json") == f"{tmp_path / 'file'} is not a directory"
    assert json_report_problem(tmp_path / "new" / "deep" / "r.json") is None
    assert not (tmp_path / "new").exists()  # checked, not created
    assert json_report_problem(tmp_path / "file") is None  # an existing file is replaced
    assert sorted(tmp_path.iterdir()) == [tmp_path / "file", tmp_path / "taken"]  # probes leave nothing


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_report_place_that_takes_no_file_is_found_although_permission_bits_allow_it() -> None:
    # root passes every permission check; /proc still takes no new file or directory
    assert (json_report_problem(Path("/proc/x/y.json")) or "").startswith("nothing can be created in /proc")
    assert (json_report_problem(Path("/proc/y.json")) or "").startswith("nothing can be created in /proc")


def test_a_report_that_cannot_be_written_at_the_end_fails_the_run(pytester: pytest.Pytester) -> None:
    """The place was fine at start-up and is gone at the end: the run's exit status says so."""
    pytester.makepyfile(
        test_gone="""
        import os, shutil

        def test_removes_the_report_dir(session_tracker):
            session_tracker.update_session("11111111-2222-4333-8444-555555555555", "p", "r")
            shutil.rmtree("out")
            open("out", "w").close()  # a file where the report's directory was
        """
    )
    (pytester.path / "out").mkdir()
    result = pytester.runpytest_subprocess("--claude-json-report=out/r.json", "-p", "no:asyncio")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    (pytester.path / "out").unlink()
    (pytester.path / "out").mkdir()
    pytester.makepyfile(test_gone="def test_fine(session_tracker):\n    pass\n")
    written = pytester.runpytest_subprocess("--claude-json-report=out/r.json", "-p", "no:asyncio")
    assert written.ret == pytest.ExitCode.OK and (pytester.path / "out" / "r.json").is_file()
    result.stdout.fnmatch_lines(["*could not write the JSON report to *out/r.json*"])


def test_store_gets_gitignore_and_cachedir_tag_only_when_it_is_ours(tmp_path: Path) -> None:
    store = tmp_path / "store"
    kept = runs.create_run(store)
    (kept.path / "chains").mkdir()
    kept.release()
    assert (store / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (store / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55\n")
    # An empty run in a fresh store leaves nothing, markers included.
    fresh = tmp_path / "fresh"
    assert runs.create_run(fresh).discard_if_empty()
    assert not fresh.exists()
    # A store pointed at a directory with other files is not marked: a '*' .gitignore would hide them.
    project = tmp_path / "project"
    project.mkdir()
    (project / "setup.cfg").write_text("")
    runs.create_run(project).discard_if_empty()
    assert sorted(p.name for p in project.iterdir()) == ["setup.cfg"]
    # A user's own .gitignore is never replaced.
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / ".gitignore").write_text("runs/\n")
    runs.create_run(custom).discard_if_empty()
    assert (custom / ".gitignore").read_text() == "runs/\n"


@pytest.mark.parametrize("dist", [[], ["-n", "2"]], ids=["no_xdist", "xdist_two"])
def test_a_claude_test_that_errors_at_setup_is_a_row_of_the_reports(
    pytester: pytest.Pytester, dist: list[str]
) -> None:
    pytester.makepyfile(
        test_rows="""
        import pytest

        SID = "11111111-2222-4333-8444-555555555555"

        def test_calls(session_tracker):
            session_tracker.update_session(SID, "p", "r")

        @pytest.mark.claude_session(agnet="typo")
        def test_session_typo(session_tracker):
            pass

        @pytest.mark.claude_cassette(directory="typo")
        def test_cassette_typo(claude_executor):
            pass

        def test_unrelated():
            pass
        """
    )
    result = pytester.runpytest_subprocess(*dist, "--claude-json-report=r.json", "-p", "no:asyncio")
    result.assert_outcomes(passed=2, errors=2)
    report = json.loads((pytester.path / "r.json").read_text())
    outcomes = {t["nodeid"].split("::")[1]: (t["outcome"], t["calls"]) for t in report["tests"]}
    assert outcomes == {
        "test_calls": ("passed", 1),
        "test_session_typo": ("failed", 0),
        "test_cassette_typo": ("failed", 0),
    }
    assert report["totals"]["tests"] == 3 and report["totals"]["failed_tests"] == 2
