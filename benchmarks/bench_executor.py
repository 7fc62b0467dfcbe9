"""Executor overhead over calling the claude binary directly, against the same loopback stub.

Runs, alternating so that machine noise hits every variant alike:
  direct    subprocess.run(argv, env=..., stdin=DEVNULL) + json.loads(stdout), argv/env from the executor
  executor  ClaudeExecutor.run(prompt)  (parse, transcript lookup, history)
  +tracker  ClaudeExecutor.run(prompt) with a SessionTracker attached (a journal append per call)
and prints the medians side by side with the ratio to direct (goal: executor <= 1.05 x direct).
On a busy machine the wall-clock ratio is dominated by noise (one call is ~0.45 s of CLI start-up), so it
also prints the time each variant spends in Python outside the child process ("in-process ms"): wall
time minus the process's own lifetime, which is the executor's real cost.

    .venv/bin/python benchmarks/bench_executor.py [--runs 15] [--format json|stream-json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _bench_common import add_claude_bin_option, alternating, machine, missing_claude_bin, summary

from pytest_claude_sessions.executor.executor import ClaudeExecutor
from pytest_claude_sessions.store.tracker import SessionTracker
from pytest_claude_sessions.stub.server import MessagesStub


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=25, help="runs per variant (default 25)")
    parser.add_argument("--format", default="json", choices=["json", "stream-json"])
    add_claude_bin_option(parser)
    args = parser.parse_args()
    problem = missing_claude_bin(args.claude_bin)
    if problem:
        print(problem)
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-exec-") as tmp, MessagesStub() as stub:
        base = Path(tmp)
        work = base / "work"
        work.mkdir()
        plain = ClaudeExecutor(
            args.claude_bin, cwd=work, config_dir=base / "cfg", env=stub.env(), timeout=120
        )
        tracked = ClaudeExecutor(
            args.claude_bin,
            cwd=work,
            config_dir=base / "cfg",
            env=stub.env(),
            timeout=120,
            tracker=SessionTracker("bench", base / "sessions"),
        )

        def direct(prompt: str) -> float:
            call = plain.build_call(prompt, output_format=args.format)
            start = time.perf_counter()
            done = subprocess.run(
                call.argv,
                cwd=call.cwd,
                env=call.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            process = time.perf_counter() - start
            lines = done.stdout.strip().splitlines()
            payload = json.loads(lines[-1])
            assert done.returncode == 0, done.stderr
            assert payload["type"] == "result"
            return process

        def via(ex: ClaudeExecutor) -> Callable[[str], float]:
            def run(prompt: str) -> float:
                result = ex.run(prompt, output_format=args.format)
                assert result.ok, result.error_message
                return result.elapsed

            return run

        def measured(name: str, fn: Callable[[str], float]) -> Callable[[int], tuple[float, float]]:
            """(wall seconds, seconds spent outside the child process) of one call."""

            def once(i: int) -> tuple[float, float]:
                start = time.perf_counter()
                process = fn(f"benchmark prompt {i} {name}")
                wall = time.perf_counter() - start
                return wall, wall - process

            return once

        variants = {"direct": direct, "executor": via(plain), "+tracker": via(tracked)}
        samples = alternating({n: measured(n, fn) for n, fn in variants.items()}, args.runs)

    times = {name: [wall for wall, _ in values] for name, values in samples.items()}
    inside = {name: [own for _, own in values] for name, values in samples.items()}
    base_median = statistics.median(times["direct"])
    print(f"machine: {machine()}")
    print(f"claude: {args.claude_bin}; format {args.format}; {args.runs} alternating runs per variant")
    print(
        f"{'variant':<10} {'median s':>9} {'p95 s':>7} {'min s':>7} {'max s':>7} {'ratio':>7} "
        f"{'in-process ms':>14}"
    )
    for name, values in times.items():
        median, p95, low, high = summary(values)
        print(
            f"{name:<10} {median:>9.3f} {p95:>7.3f} {low:>7.3f} {high:>7.3f} "
            f"{median / base_median:>7.3f} {1000 * statistics.median(inside[name]):>14.2f}"
        )
    ratio = statistics.median(times["executor"]) / base_median
    extra = statistics.median(inside["executor"]) - statistics.median(inside["direct"])
    share = extra / base_median
    print(
        f"wall-clock executor/direct = {ratio:.3f} (noisy); executor's own extra cost = "
        f"{1000 * extra:.2f} ms per call = {100 * share:.2f}% of a direct call (goal <= 5%): "
        f"{'OK' if share <= 0.05 else 'ABOVE GOAL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
