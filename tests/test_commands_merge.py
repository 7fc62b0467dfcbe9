"""``claude-sessions merge``: idempotent and order-free byte for byte (a hypothesis property over
synthetic shards), and the CI recipe end to end: three real shard runs in separate directories merged into
one store whose totals equal a single unsharded run's."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from inner_runs import SUITE, run_pytest

from pytest_claude_sessions.commands.main import main
from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.plugin.reporting import write_json_report
from pytest_claude_sessions.report.model import REPORT_NAME, find_run, load_run
from pytest_claude_sessions.report.records import RunReport, build_test_record
from pytest_claude_sessions.store import runs as run_dirs
from pytest_claude_sessions.store.session_store import SessionStore

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def make_shard(base: Path, shard: int, tests: list[tuple[str, str, int]]) -> Path:
    """A store with one run: ``(nodeid, outcome, steps)`` per test, steps with distinct step ids."""
    run = run_dirs.create_run(base)
    store = SessionStore(run.path, fsync=False)
    report = RunReport(run.run_id, str(run.path))
    for t, (nodeid, outcome, n) in enumerate(tests):
        chain = []
        for k in range(n):
            info = SessionInfo(
                session_id=f"00000000-0000-4000-8000-{shard:04d}{t:04d}{0 if k == 0 else 1:04d}",
                created_at=T0 + timedelta(seconds=shard * 100 + t * 10 + k),
                interaction_count=k + 1,
                last_prompt=f"prompt {shard}/{t}/{k}",
                last_response="r",
                kind="new" if k == 0 else "resume",
                cost_usd=0.01 * (k + 1),
                num_turns=k + 1,
                duration_ms=100 * (k + 1),
                agent_id=nodeid,
                step_id=f"s{shard}-{t}-{k}",
            )
            chain.append(store.append(nodeid, lambda count, prev, info=info: info))
        cont = {
            "checked": True,
            "ok": outcome != "failed",
            "reason": None if outcome != "failed" else "broken",
        }
        report.add(build_test_record(nodeid, nodeid, chain, outcome=outcome, continuity=cont))
    write_json_report(run.path / REPORT_NAME, report.to_json())
    run.release()
    return base


def tree_bytes(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


SHARDS = [
    [("t.py::a", "passed", 2), ("t.py::b", "failed", 1)],
    [("t.py::c", "passed", 3)],
    [("t.py::d", "passed", 1), ("t.py::b", "passed", 1)],  # b ran in two shards: the failure wins
    [("t.py::e", "skipped", 0), ("t.py::f", "passed", 2)],
]


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("shards")
    return [make_shard(root / f"shard{i}", i, tests) for i, tests in enumerate(SHARDS)]


@pytest.fixture(scope="module")
def reference(shards: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    into = tmp_path_factory.mktemp("ref") / "merged"
    assert main(["merge", *map(str, shards), "--into", str(into)]) == 0
    return tree_bytes(into)


def test_merged_store_content(shards: list[Path], reference: dict[str, bytes], tmp_path: Path) -> None:
    names = sorted(reference)
    assert names[:2] == [".gitignore", "CACHEDIR.TAG"]
    runs = {n.split("/")[1] for n in names if n.startswith("runs/")}
    assert len(runs) == 1
    report = json.loads(reference[f"runs/{runs.pop()}/report.json"])
    by_node = {t["nodeid"]: t for t in report["tests"]}
    assert sorted(by_node) == ["t.py::a", "t.py::b", "t.py::c", "t.py::d", "t.py::e", "t.py::f"]
    assert by_node["t.py::b"]["outcome"] == "failed" and by_node["t.py::b"]["calls"] == 2
    assert by_node["t.py::b"]["continuity"]["ok"] is False
    assert report["totals"]["tests"] == 6 and report["totals"]["calls"] == 10
    assert by_node["t.py::e"]["outcome"] == "skipped" and by_node["t.py::e"]["calls"] == 0
    assert len(report["merged_from"]) == 4


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_merge_is_idempotent_and_order_free(
    shards: list[Path], reference: dict[str, bytes], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(range(len(shards))))
    # split the ordered sources into consecutive batches merged one after the other, some sources twice
    cuts = sorted(data.draw(st.sets(st.integers(1, len(shards) - 1), max_size=len(shards) - 1)))
    batches = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, len(shards)], strict=True)]
    repeat = data.draw(st.lists(st.sampled_from(range(len(shards))), max_size=2))
    with tempfile.TemporaryDirectory() as tmp:
        into = Path(tmp) / "merged"
        for batch in [*batches, repeat]:
            if batch:
                assert main(["merge", *(str(shards[i]) for i in batch), "--into", str(into)]) == 0
        assert tree_bytes(into) == reference


def test_merge_refuses_a_store_with_several_runs(shards: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "busy"
    make_shard(target, 7, [("x.py::y", "passed", 1)])
    make_shard(target, 8, [("x.py::z", "passed", 1)])
    assert main(["merge", str(shards[0]), "--into", str(target)]) == 2
    assert len(run_dirs.list_runs(target)) == 2  # untouched


def test_merge_refuses_a_pytest_store_or_a_directory_with_other_files(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a store of one plain pytest run: its run would be replaced by the merged one
    plain = tmp_path / "plain"
    make_shard(plain, 9, [("x.py::y", "passed", 1)])
    before = tree_bytes(plain)
    assert main(["merge", str(shards[0]), "--into", str(plain)]) == 2
    assert "which no merge made" in capsys.readouterr().err
    assert tree_bytes(plain) == before
    # a directory holding something else
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("mine")
    assert main(["merge", str(shards[0]), "--into", str(other)]) == 2
    assert "holds files no merge made (x.txt)" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["x.txt"]
    # ...while a store made by merge takes the next merge
    merged = tmp_path / "merged"
    assert main(["merge", str(shards[0]), "--into", str(merged)]) == 0
    assert main(["merge", str(shards[1]), "--into", str(merged)]) == 0
    assert len(run_dirs.list_runs(merged)) == 1


# --------------------------------------------------------------------------- the CI recipe, end to end


def test_ci_recipe_three_shards_merge_to_the_unsharded_totals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import find_claude_bin

    claude = find_claude_bin()
    if claude is None:
        pytest.skip("the Claude Code CLI is not installed (bash scripts/install-claude-cli.sh)")
    # Directory names of one length: the stub's token estimate (so the cost) depends on the path length.
    jobs = {"shard1": "chain", "shard2": "fails or plain", "shard3": "raises or gone", "single": ""}
    for name, expr in jobs.items():
        args = [f"--claude-bin={claude}", f"--basetemp={tmp_path / name / 'bt'}"]
        if expr:
            args += ["-k", expr]
        run_pytest(tmp_path / name, *args, suite=SUITE)
    # the final job: download each shard's store (a copy elsewhere), merge, report
    artifacts = tmp_path / "artifacts"
    for name in ("shard1", "shard2", "shard3"):
        shutil.copytree(tmp_path / name / ".claude_sessions", artifacts / name)
    merged = tmp_path / "merged"
    assert (
        main(["merge", *(str(artifacts / n) for n in ("shard1", "shard2", "shard3")), "--into", str(merged)])
        == 0
    )
    capsys.readouterr()
    whole = load_run(find_run(tmp_path / "single" / ".claude_sessions", None))
    combined = load_run(find_run(merged, None))
    assert combined.totals() == whole.totals()
    assert whole.totals()["tests"] == 4 and whole.totals()["failed_tests"] == 1
    assert [r["nodeid"] for r in combined.records] == [r["nodeid"] for r in whole.records]
    assert [r["outcome"] for r in combined.records] == [r["outcome"] for r in whole.records]
