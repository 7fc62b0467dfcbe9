"""The plugin end to end: inner pytest runs (pytester) using the real CLI against the loopback stub.

Each key behaviour runs without xdist, with ``-n 0`` and with ``-n 2``. Inner runs always use
``--strict-markers`` and ``-p no:cacheprovider``. Real CLI calls are kept few (about 0.5 s CPU each).
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import hide_every_claude

from pytest_claude_sessions.store.session_store import SessionStore

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture(params=[[], ["-n", "0"], ["-n", "2"]], ids=["no_xdist", "xdist_zero", "xdist_two"])
def dist(request: pytest.FixtureRequest) -> list[str]:
    """The xdist matrix (syrupy style)."""
    return list(request.param)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    if not (pytester.path / "pytest.ini").exists():
        pytester.makeini(INI)
    return pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", *args)


def only_run_dir(pytester: pytest.Pytester) -> Path:
    runs = sorted((pytester.path / ".claude_sessions" / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def junit_properties(path: Path) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        out[case.get("name", "")] = props
    return out


CHAIN_SUITE = """
import pytest

@pytest.mark.claude_session(expect_continuity=True)
def test_chain(claude_api_stub, claude_executor, claude_transcripts, tmp_path):
    assert claude_executor.config_dir == tmp_path / ".claude" and claude_executor.cwd == tmp_path
    first = claude_executor.run("my name is Alice")
    second = claude_executor.resume("what is my name?")
    assert first.ok and second.ok
    assert "Alice" in second.result
    assert claude_transcripts.config_dir == claude_executor.config_dir
    assert claude_transcripts.find_transcript(first.session_id) == second.transcript_path

def test_fails_after_a_call(claude_api_stub, claude_executor):
    claude_executor.run("hello there")
    assert 1 == 2, "deliberate"

def test_plain():
    pass
"""


def test_chain_section_junit_summary_json_and_store(
    pytester: pytest.Pytester, claude_bin: Path, dist: list[str]
) -> None:
    pytester.makepyfile(test_inner=CHAIN_SUITE)
    result = run(
        pytester,
        *dist,
        f"--claude-bin={claude_bin}",
        "-rA",
        "--junitxml=junit.xml",
        "--claude-json-report=report.json",
        # junit_family defaults to xunit2, where record_property warns: the properties must not.
        "-W",
        "error::pytest.PytestWarning",
    )
    result.assert_outcomes(passed=2, failed=1)

    # The failing test's section sits under FAILURES; the passing chain's under PASSES (-rA).
    out = result.stdout.str()
    failures = out[out.index("= FAILURES =") : out.index("= PASSES =")]
    assert "Captured claude sessions call" in failures
    assert re.search(rf"1\s+new\s+{UUID}\s+-\s+'hello there'\s+\$0\.\d+\s+1\s+-\s+\S+\.jsonl", failures)
    passes = out[out.index("= PASSES =") :]
    assert re.search(rf"2\s+resume\s+({UUID})\s+\1\s+'what is my name\?'", passes)
    assert "continuity: ok" in passes
    result.stdout.fnmatch_lines(
        [
            "*- claude sessions -*",
            "2 tests, 3 calls, 2 distinct sessions, total cost $0.*, 3 turns, 0 errors, "
            "0 continuity failures, 0 budget failures",
            "slowest calls (by the CLI's duration_ms, not wall time):",
            "  * test_inner.py::test_* step * new *",
        ]
    )
    result.stdout.no_fnmatch_line("*test_plain*step*")
    assert "warnings summary" not in out
    assert ET.parse(pytester.path / "junit.xml").getroot().tag == "testsuites"

    # The store: one journal per node that touched Claude, with the steps as recorded.
    chains = SessionStore(only_run_dir(pytester), create=False).load_all()
    assert sorted(chains) == ["test_inner.py::test_chain", "test_inner.py::test_fails_after_a_call"]
    chain = chains["test_inner.py::test_chain"]
    assert [s.kind for s in chain] == ["new", "resume"]
    assert chain[0].session_id == chain[1].session_id
    assert all(s.cost_usd and s.cost_usd > 0 for s in chain)

    # junit properties (default xunit2 family, no record_property warning).
    props = junit_properties(pytester.path / "junit.xml")
    assert props["test_chain"]["claude_session_ids"] == chain[0].session_id
    assert props["test_chain"]["claude_calls"] == "2"
    assert props["test_chain"]["claude_turns"] == "2"
    assert float(props["test_chain"]["claude_cost_usd"]) == pytest.approx(
        sum(s.cost_usd or 0 for s in chain), abs=1e-6
    )
    assert props["test_chain"]["claude_continuity"] == "ok"
    assert props["test_fails_after_a_call"]["claude_calls"] == "1"
    assert props["test_plain"] == {}
    assert "record_property" not in out

    # The JSON report, written by the controller only.
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["totals"] == {
        "tests": 2,
        "calls": 3,
        "sessions": 2,
        "cost_usd": report["totals"]["cost_usd"],
        "cost_live_usd": report["totals"]["cost_usd"],
        "cost_replayed_usd": 0.0,
        "replayed_calls": 0,
        "turns": 3,
        "errors": 0,
        "failed_calls": 0,
        "continuity_failures": 0,
        "budget_failures": 0,
        "failed_tests": 1,
        "weak_continuity_checks": 0,
        "incomplete_tests": 0,
    }
    assert [t["nodeid"] for t in report["tests"]] == sorted(chains)
    assert [t["outcome"] for t in report["tests"]] == ["passed", "failed"]
    assert report["run_dir"] == str(only_run_dir(pytester))


CONTINUITY_BROKEN_SUITE = """
import pytest
from pytest_claude_sessions.executor.executor import ClaudeExecutor
from pytest_claude_sessions.store.tracker import SessionTracker

@pytest.mark.claude_session(expect_continuity=True)
def test_resume_that_is_a_new_session(claude_api_stub, claude_executor, session_tracker, tmp_path):
    claude_executor.run("my name is Alice")
    # A second, independent new session, then recorded in the test's chain as if it resumed the first.
    scratch = SessionTracker("scratch", tmp_path / "scratch")
    other = ClaudeExecutor(claude_executor.claude_bin, cwd=claude_executor.cwd,
                           config_dir=claude_executor.config_dir, env=claude_api_stub.env(), tracker=scratch)
    other.run("what is my name?")
    step = scratch.session_chain[-1]
    first = session_tracker.session_chain[0]
    session_tracker.update_session(step.session_id, step.last_prompt, step.last_response, step.metadata,
                                   kind="resume", parent_session_id=first.session_id, cost_usd=step.cost_usd,
                                   num_turns=step.num_turns)
"""


def test_broken_continuity_fails_the_test_with_chain_and_reason(
    pytester: pytest.Pytester, claude_bin: Path, dist: list[str]
) -> None:
    pytester.makepyfile(test_inner=CONTINUITY_BROKEN_SUITE)
    result = run(pytester, *dist, f"--claude-bin={claude_bin}", "--claude-json-report=r.json")
    result.assert_outcomes(failed=1)  # failed, not errored
    chain = SessionStore(only_run_dir(pytester), create=False).load(
        "test_inner.py::test_resume_that_is_a_new_session"
    )
    s1, s2 = chain[0].session_id, chain[1].session_id
    assert s1 != s2
    result.stdout.fnmatch_lines(
        [
            "session chain is not continuous:",
            f"  resume {s1[:8]} -> {s2[:8]}: *",
            "chain of agent test_inner.py::test_resume_that_is_a_new_session:",
            "#  kind * session id * parent *",
            f"1  new * {s1} *",
            f"2  resume * {s2} * {s1} *",
        ]
    )
    result.stdout.fnmatch_lines(["*continuity: BROKEN: *", "*1 continuity failure*"])
    report = json.loads((pytester.path / "r.json").read_text())
    assert report["totals"]["continuity_failures"] == 1
    (record,) = report["tests"]
    assert record["continuity"]["ok"] is False and s2[:8] in record["continuity"]["reason"]


BUDGET_SUITE = """
import pytest

# Sum of per-call costs of two calls is ~0.099; summing the CLI's cumulative totals would give ~0.149.
@pytest.mark.claude_budget(max_cost_usd=0.12, max_turns=2)
def test_within(claude_api_stub, claude_executor):
    claude_executor.run("my name is Bob")
    claude_executor.resume("what is my name?")

@pytest.mark.claude_budget(max_calls=1, max_cost_usd=0.01)
def test_over(claude_api_stub, claude_executor):
    claude_executor.run("my name is Eve")
    claude_executor.resume("what is my name?")
"""


def test_budget_marker_uses_per_call_costs(
    pytester: pytest.Pytester, claude_bin: Path, dist: list[str]
) -> None:
    pytester.makepyfile(test_inner=BUDGET_SUITE)
    result = run(pytester, *dist, f"--claude-bin={claude_bin}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "claude_budget exceeded: cost $0.0* > max_cost_usd $0.010000; calls 2 > max_calls 1",
            "chain of agent test_inner.py::test_over:",
        ]
    )
    result.stdout.fnmatch_lines(["*1 budget failure*"])


SUITE_BUDGET_SUITE = """
import time
import pytest
from pytest_claude_sessions import BudgetExceededError

def test_a_spends(claude_api_stub, claude_executor, request):
    try:
        claude_executor.run("my name is Ann")
        claude_executor.resume("what is my name?")
    finally:
        (request.config.rootpath / "a-spent").write_text("done")  # test_b waits for this file

def test_b_is_refused(claude_api_stub, claude_executor, session_manager, request):
    # Under xdist test_a may run on the other worker: wait for the file it writes once its spend is in
    # the shared store (a file, not a time: under load the other worker may take minutes). On one worker
    # test_a runs first (collection order), so this never waits for a test that cannot run. The deadline
    # only turns a dead worker into a failure instead of a hang.
    done = request.config.rootpath / "a-spent"
    deadline = time.monotonic() + 1800
    while not done.exists():
        assert time.monotonic() < deadline, "test_a never finished (its worker died?)"
        time.sleep(0.05)
    assert len(session_manager.all_sessions()["test_inner.py::test_a_spends"]) == 2
    claude_executor.run("one more")
"""


def test_suite_budget_stops_live_calls_across_workers(
    pytester: pytest.Pytester, claude_bin: Path, dist: list[str]
) -> None:
    pytester.makepyfile(test_inner=SUITE_BUDGET_SUITE)
    result = run(pytester, *dist, f"--claude-bin={claude_bin}", "--claude-budget-usd=0.08")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*BudgetExceededError: suite budget spent: this run has spent $0.0* of its $0.080000 limit "
            "(--claude-budget-usd) over 2 call(s); refusing the live call 'one more'",
        ]
    )
    chains = SessionStore(only_run_dir(pytester), create=False).load_all()
    assert list(chains) == ["test_inner.py::test_a_spends"]  # the refused call never ran


INTEGRATION_SUITE = """
import pytest

@pytest.mark.claude_integration
def test_real():
    pass

def test_other():
    pass
"""


def test_integration_gating_names_what_is_missing(
    pytester: pytest.Pytester, dist: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No CLI anywhere (a --claude-bin pointing nowhere is a start-up error: test_settings.py).
    hide_every_claude(monkeypatch, tmp_path)
    pytester.makepyfile(test_inner=INTEGRATION_SUITE)
    result = run(pytester, *dist, "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * claude_integration needs --claude-integration (or ini claude_integration / env "
            "PYTEST_CLAUDE_INTEGRATION=1); the claude CLI (not on PATH nor in node_modules/.bin under the "
            "rootdir; set --claude-bin or $CLAUDE_BIN); "
            "an API key ($ANTHROPIC_API_KEY or $ANTHROPIC_AUTH_TOKEN)",
        ]
    )


def test_integration_runs_when_everything_is_there(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch, dist: list[str]
) -> None:
    pytester.makepyfile(test_inner=INTEGRATION_SUITE)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-dummy-for-gating-only")
    monkeypatch.setenv("CLAUDE_BIN", str(claude_bin))
    monkeypatch.setenv("PYTEST_CLAUDE_INTEGRATION", "1")
    result = run(pytester, *dist, "-rs")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"*integration=on (env)*bin={claude_bin} (env)*"])


def test_async_test_uses_the_same_fixture(pytester: pytest.Pytester, claude_bin: Path) -> None:
    pytester.makepyfile(
        test_inner="""
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.claude_session(expect_continuity=True)
        async def test_async(claude_api_stub, claude_executor):
            first = await claude_executor.arun("my name is Zoe")
            second = await claude_executor.arun("what is my name?", resume=first.session_id)
            assert "Zoe" in second.result
        """
    )
    result = run(pytester, f"--claude-bin={claude_bin}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 test, 2 calls, 1 distinct session, *"])


def test_marker_agent_names_the_chain_and_bad_marker_args_fail(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_inner="""
        import os
        import pytest

        SID = "11111111-2222-4333-8444-555555555555"

        @pytest.mark.claude_session(agent="billing-bot")
        def test_named(session_tracker):
            assert session_tracker.agent_id == "billing-bot"
            session_tracker.update_session(SID, "hi", "hello", cost_usd=0.01)

        @pytest.mark.claude_session(cwd="/")
        def test_cwd(claude_executor, tmp_path):
            assert str(claude_executor.cwd) == "/"
            assert claude_executor.config_dir == tmp_path / ".claude"
            assert claude_executor.timeout == 42.5
            assert str(claude_executor.claude_bin) == os.environ["EXPECTED_BIN"]

        @pytest.mark.claude_session(agnet="typo")
        def test_typo(session_tracker):
            pass

        @pytest.mark.claude_budget(max_turns=-1)
        def test_bad_budget(session_tracker):
            pass

        @pytest.mark.claude_session(expect_continuity=True)
        def test_no_fixture():
            pass

        def test_ids_repr():
            a = ["11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-555555555556"]
            b = ["11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-555555555557"]
            assert a == b
        """
    )
    monkeypatch.setenv("EXPECTED_BIN", str(claude_bin))
    result = run(pytester, "--claude-timeout=42.5", f"--claude-bin={claude_bin}")
    # a bad marker value is a set-up error (before any call could spend money)
    result.assert_outcomes(passed=2, failed=2, errors=2)
    result.stdout.fnmatch_lines(["*claude_session: unknown argument(s) agnet*"])
    assert "During handling of the above exception" not in result.stdout.str()  # each message once
    result.stdout.fnmatch_lines(["*ERROR at setup of test_bad_budget*"])
    result.stdout.fnmatch_lines(["*claude_budget: max_turns must be an integer >= 0, got -1*"])
    # claude_session turns interception on (plugin/intercept.py), which brings claude_executor, hence a
    # tracker: the empty chain is the reason
    result.stdout.fnmatch_lines(["*the chain is empty: no Claude call was recorded*"])
    result.stdout.fnmatch_lines(
        [
            "*session id lists differ (2 vs 2 steps):",
            "*   #1: 11111111-2222-4333-8444-555555555555  |  11111111-2222-4333-8444-555555555555",
            "*!= #2: 11111111-2222-4333-8444-555555555556  |  11111111-2222-4333-8444-555555555557",
        ]
    )
    chains = SessionStore(only_run_dir(pytester), create=False).load_all()
    assert list(chains) == ["billing-bot"]


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="def test_x(session_tracker): pass")
    result = run(pytester, "-p", "no:claude_sessions")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'session_tracker' not found*"])
    assert not (pytester.path / ".claude_sessions").exists()


def test_disabled_plugin_leaves_its_markers_and_options_unknown(pytester: pytest.Pytester) -> None:
    """With ``-p no:claude_sessions`` nothing of ours is registered: pytest's own messages name the marker."""
    pytester.makepyfile(
        test_inner="""
        import pytest

        @pytest.mark.claude_session(expect_continuity=True)
        def test_marked():
            pass
        """
    )
    pytester.makeini(INI)
    # In a subprocess: an in-process run would see the markers the outer session registered.
    result = pytester.runpytest_subprocess(
        "-p", "no:claude_sessions", "-p", "no:cacheprovider", "--strict-markers"
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error, not a crash
    result.stdout.fnmatch_lines(["*'claude_session' not found in `markers` configuration option*"])
    result.stdout.no_fnmatch_line("*Traceback*pytest_claude_sessions*")
    unmarked = pytester.runpytest_subprocess("-p", "no:claude_sessions", "--claude-report=full")
    assert unmarked.ret == pytest.ExitCode.USAGE_ERROR
    unmarked.stderr.fnmatch_lines(["*unrecognized arguments: --claude-report=full*"])
    assert not (pytester.path / ".claude_sessions").exists()


@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "2"]], ids=["single", "xdist_two"])
def test_explicit_load_without_autoload(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    pytester.makepyfile(test_inner=record_suite(2))
    pytester.makeini(INI)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess(
        "-p",
        "claude_sessions",
        *workers,
        "-p",
        "no:cacheprovider",
        "--strict-markers",
        "--claude-report=full",
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["claude-sessions: store=*", "2 tests, 4 calls, 2 distinct sessions, *"])
    if workers:
        result.stdout.fnmatch_lines(["created: 2/2 workers"])
    # The cassette part is loaded with the plugin (pytest_plugins), also without autoload.
    result.stdout.fnmatch_lines(["claude-cassettes: mode=*"])


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["single", "xdist_two"])
def test_suite_without_claude_leaves_no_store(pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makepyfile(
        test_inner="""
        def test_plain():
            pass

        def test_manager_only(session_manager, session_tracker):
            assert session_tracker.session_chain == []
        """
    )
    result = run(pytester, *workers)
    result.assert_outcomes(passed=2)
    assert not (pytester.path / ".claude_sessions").exists()
    # A store that already holds runs keeps them; only this run's empty directory goes.
    pytester.makepyfile(test_rec=record_suite(1))
    run(pytester, *workers).assert_outcomes(passed=4)
    kept = only_run_dir(pytester)
    pytester.path.joinpath("test_rec.py").unlink()
    run(pytester, *workers).assert_outcomes(passed=2)
    assert only_run_dir(pytester) == kept


def test_collect_only_creates_no_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="def test_x(): pass")
    result = run(pytester, "--collect-only")
    assert result.ret == 0
    assert not (pytester.path / ".claude_sessions").exists()


def record_suite(n_tests: int = 6) -> str:
    """Tests that record fixed steps through the tracker (no CLI): cheap enough for xdist comparisons."""
    return f"""
import pytest

@pytest.mark.parametrize("i", range({n_tests}))
def test_steps(session_tracker, i):
    sid = "00000000-0000-4000-8000-%012d" % i
    session_tracker.update_session(sid, "prompt %d" % i, "r", {{"leaf_uuid": None}}, cost_usd=0.01 * (i + 1),
                                   num_turns=1, duration_ms=1000 + i)
    session_tracker.update_session(sid, "again %d" % i, "r", cost_usd=0.001, num_turns=2, duration_ms=10)
    assert i != 3

def test_untouched():
    pass
"""


def _normalised(pytester: pytest.Pytester, summary: list[str]) -> tuple[Any, Any, list[str]]:
    report = json.loads((pytester.path / "r.json").read_text())
    for key in ("run_id", "run_dir", "started_at", "finished_at"):
        report.pop(key)
    report["settings"].pop("json_report")
    chains = SessionStore(only_run_dir(pytester), create=False).load_all()
    store = {
        agent: [(s.session_id, s.kind, s.interaction_count, s.cost_usd, s.last_prompt) for s in chain]
        for agent, chain in chains.items()
    }
    return report, store, summary


@pytest.mark.parametrize("workers", ["2", "4"])
def test_xdist_gives_the_same_summary_report_and_store(pytester: pytest.Pytester, workers: str) -> None:
    results = []
    for args in (["-n", "0"], ["-n", workers]):
        pytester.makepyfile(test_inner=record_suite())
        shutil.rmtree(pytester.path / ".claude_sessions", ignore_errors=True)
        result = run(pytester, *args, "--claude-json-report=r.json", "--claude-report=full")
        result.assert_outcomes(passed=6, failed=1)
        out = result.stdout.lines
        start = next(i for i, line in enumerate(out) if "- claude sessions -" in line)
        end = next(i for i, line in enumerate(out) if line.startswith("JSON report:"))
        results.append(_normalised(pytester, out[start:end]))
    assert results[0] == results[1]
    report, store, summary = results[0]
    assert report["totals"]["tests"] == 6 and report["totals"]["calls"] == 12
    assert len(store) == 6
    assert summary[1].startswith("6 tests, 12 calls, 6 distinct sessions, total cost $0.2160")


def test_crashed_worker_does_not_lose_the_others_data(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
        import os
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_ok(session_tracker, i):
            session_tracker.update_session("00000000-0000-4000-8000-%012d" % i, "p", "r", cost_usd=0.5)

        def test_crash(session_tracker):
            session_tracker.update_session("00000000-0000-4000-8000-999999999999", "p", "r", cost_usd=0.25)
            os._exit(3)
        """
    )
    result = run(pytester, "-n", "2", "--claude-json-report=r.json")
    result.assert_outcomes(passed=4, failed=1)
    report = json.loads((pytester.path / "r.json").read_text())
    # The crashed test's own step is safe in the shared store...
    chains = SessionStore(only_run_dir(pytester), create=False).load_all()
    assert chains["test_inner.py::test_crash"][0].cost_usd == 0.25
    # ...and the report reconciles with the store: it counts that step too, marked as from a dead worker.
    by_node = {t["nodeid"]: t for t in report["tests"]}
    assert sorted(by_node) == [
        "test_inner.py::test_crash",
        *(f"test_inner.py::test_ok[{i}]" for i in range(4)),
    ]
    crashed = by_node["test_inner.py::test_crash"]
    assert (crashed["outcome"], crashed["incomplete"], crashed["calls"]) == ("crashed", True, 1)
    assert "worker died" in crashed["note"]
    assert all(not t.get("incomplete") for n, t in by_node.items() if n != "test_inner.py::test_crash")
    assert report["totals"]["cost_usd"] == 2.25
    assert report["totals"]["calls"] == sum(len(c) for c in chains.values()) == 5
    assert report["totals"]["incomplete_tests"] == 1
    assert report["workers_down"] and report["workers_down"][0]["worker"].startswith("gw")
    result.stdout.fnmatch_lines(["worker gw* went down: *"])
    result.stdout.fnmatch_lines(
        [
            "5 tests, 5 calls, 5 distinct sessions, total cost $2.2500, *",
            "crashed: test_inner.py::test_crash: 1 step (its xdist worker died during the test; *",
        ]
    )


def test_without_xdist_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=record_suite(2))
    result = run(pytester, "-p", "no:xdist", "--claude-report=full")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["2 tests, 4 calls, 2 distinct sessions, *"])


def test_report_level_none_prints_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=record_suite(2))
    result = run(pytester, "--claude-report=none")
    result.assert_outcomes(passed=3)
    result.stdout.no_fnmatch_line("*- claude sessions -*")


def test_executor_hook_lets_a_conftest_adjust_the_executor(
    pytester: pytest.Pytester, claude_bin: Path
) -> None:
    pytester.makeconftest(
        """
        def refuse(call):
            raise RuntimeError("refused by conftest: " + call.prompt)

        def pytest_claude_sessions_executor(executor, request):
            executor.guards.append(refuse)
            executor.env["FROM_HOOK"] = request.node.name
        """
    )
    pytester.makepyfile(
        test_inner="""
        import pytest

        def test_x(claude_api_stub, claude_executor, session_tracker):
            assert claude_executor.env["FROM_HOOK"] == "test_x"
            assert claude_executor.env["ANTHROPIC_BASE_URL"] == claude_api_stub.base_url
            with pytest.raises(RuntimeError, match="refused by conftest: hello"):
                claude_executor.run("hello")
            assert claude_api_stub.requests == []
            assert session_tracker.session_chain == []
        """
    )
    result = run(pytester, f"--claude-bin={claude_bin}")
    result.assert_outcomes(passed=1)
