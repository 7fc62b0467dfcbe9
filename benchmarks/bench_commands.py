"""The command and the HTML report at scale (figures and ratios side by side):

* ``merge``: 20 shard stores of 500 tests each (2 steps per test) into one store;
* ``html``: the report of a run of 2,000 tests (goal <= 2 s), and its size;
* ``show``: a store of 100,000 steps (1,000 tests with chains of 100 steps, a fork every 10).

    .venv/bin/python benchmarks/bench_commands.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _bench_common import machine, summary, timed

from pytest_claude_sessions.commands.main import main
from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.report.merge import _journal_lines
from pytest_claude_sessions.report.model import REPORT_NAME
from pytest_claude_sessions.report.records import RunReport, build_test_record
from pytest_claude_sessions.store import runs as run_dirs
from pytest_claude_sessions.store.journal import journal_name

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def chain(test: str, n: int, seed: int) -> list[SessionInfo]:
    steps = []
    main_sid = f"{seed:08x}-0000-4000-8000-000000000000"
    sid = main_sid
    for k in range(n):
        kind = "new" if k == 0 else ("fork" if k % 10 == 0 else "resume")
        parent = None if k == 0 else sid
        if kind == "fork":
            sid = f"{seed:08x}-0000-4000-8000-{k:012d}"
        steps.append(
            SessionInfo(
                session_id=sid,
                created_at=T0 + timedelta(seconds=seed * 1000 + k),
                interaction_count=k + 1,
                last_prompt=f"prompt {k} of {test}",
                last_response="a reply of a realistic length " * 4,
                metadata={"leaf_uuid": None, "replayed": False},
                kind=kind,  # type: ignore[arg-type]
                parent_session_id=parent,
                cost_usd=0.0123,
                num_turns=1 + k % 3,
                duration_ms=900 + k,
                agent_id=test,
                step_id=f"{seed}-{k}",
                model="claude-opus-5-5",
                cli_version="2.1.330",
            )
        )
    return steps


def make_run(store: Path, tests: int, steps: int, seed0: int, prefix: str) -> Path:
    run = run_dirs.create_run(store)
    report = RunReport(run.run_id, str(run.path))
    for t in range(tests):
        nodeid = f"tests/test_{prefix}.py::test_{t:05d}"
        c = chain(nodeid, steps, seed0 + t)
        (run.path / journal_name(nodeid)).write_bytes(b"".join(_journal_lines(nodeid, c)))
        report.add(build_test_record(nodeid, nodeid, c, outcome="failed" if t % 50 == 0 else "passed"))
    (run.path / REPORT_NAME).write_text(json.dumps(report.to_json(), indent=2, sort_keys=True))
    run.release()
    return store


def cpu_timed(fn: object) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a loaded machine the CPU figure is the steadier."""
    import time

    wall, cpu = time.perf_counter(), time.process_time()
    fn()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def quiet(argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(argv)
    quiet.last = out.getvalue()  # type: ignore[attr-defined]
    return code


def _fig(samples: list[tuple[float, float]]) -> str:
    wall, _, lo, hi = summary([w for w, _ in samples])
    cpu = summary([c for _, c in samples])[0]
    return f"median {wall:.2f} s wall (min {lo:.2f}, max {hi:.2f}), {cpu:.2f} s CPU"


def main_bench() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shards = [make_run(root / f"shard{i:02d}", 500, 2, i * 1000, f"s{i:02d}") for i in range(20)]
        merge_times = []
        for r in range(args.rounds):
            argv = ["merge", *map(str, shards), "--into", str(root / f"merged{r}")]
            merge_times.append(cpu_timed(lambda argv=argv: quiet(argv)))
        again = timed(lambda: quiet(["merge", *map(str, shards), "--into", str(root / "merged0")]))
        print(
            f"merge 20 shards x 500 tests (20,000 steps): {_fig(merge_times)}; "
            f"merging the same again into the result: {again:.2f} s wall"
        )

        html_store = make_run(root / "html", 2000, 3, 900000, "h")
        out = root / "report.html"
        html_argv = ["html", "--store", str(html_store), "-o", str(out), "-q"]
        html_times = [cpu_timed(lambda: quiet(html_argv)) for _ in range(args.rounds)]
        wall = summary([w for w, _ in html_times])[0]
        cpu = summary([c for _, c in html_times])[0]
        size = out.stat().st_size
        met = "met" if min(wall, cpu) <= 2 else "MISSED"
        print(
            f"html for 2,000 tests (6,000 steps): {_fig(html_times)}; goal <= 2 s: {met} "
            f"(wall {wall / 2:.2f}, CPU {cpu / 2:.2f} of the goal); "
            f"size {size / 1e6:.2f} MB ({size / 2000 / 1e3:.1f} kB per test)"
        )

        big = make_run(root / "big", 1000, 100, 500000, "b")
        show_times = [cpu_timed(lambda: quiet(["show", "--store", str(big)])) for _ in range(args.rounds)]
        lines = quiet.last.count("\n")  # type: ignore[attr-defined]
        cpu = summary([c for _, c in show_times])[0]
        runs_time = timed(lambda: quiet(["runs", "--store", str(big)]))
        print(
            f"show on 100,000 steps (1,000 tests x 100): {_fig(show_times)}, {lines:,} lines, "
            f"{cpu / 100000 * 1e6:.1f} µs CPU per step; runs on the same store {runs_time:.2f} s wall"
        )


if __name__ == "__main__":
    main_bench()
