"""A replayed Claude call vs the real CLI against the loopback stub, side by side.

Records one call (``json``) and one ``stream-json`` call with the real CLI, each into a default (slim)
cassette and a full one (``slim=False``), then alternates, so that machine noise hits every variant alike:
  live               ClaudeExecutor.run(prompt) running the real CLI against the stub
  replay             the same call answered by a CassetteInterceptor (loaded), transcripts written back
  replay+load        the same, including reading and parsing the cassette file (once per test in practice)
  replay stream      a stream-json call replayed, its events dispatched to on_event
  replay full        the json call from a full cassette (every transcript record kept: slim=False)
  replay stream full the stream-json call from a full cassette
Each replay is the first call of a fresh cassette (its paths resolved for the first time), as in a test.
Prints medians with the speed-up over live and the machine's load (goal: replay <= 1.0 ms median and
>= 100x faster than live, for the default and the stream-json replay). ``--profile N`` then replays the
json call N more times under cProfile and prints where the time goes.

    .venv/bin/python benchmarks/bench_replay.py [--runs 15] [--profile 300]
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _bench_common import LOCAL_CLI, machine

from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor
from pytest_claude_sessions.executor.executor import ClaudeExecutor
from pytest_claude_sessions.stub.server import MessagesStub

PROMPT = "my name is Alice"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="runs per variant (default 15)")
    parser.add_argument("--claude-bin", default=os.environ.get("CLAUDE_BIN") or str(LOCAL_CLI))
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N more replays")
    args = parser.parse_args()
    if not Path(args.claude_bin).is_file():
        print(f"claude CLI not found at {args.claude_bin}; run: bash scripts/install-claude-cli.sh")
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp, MessagesStub() as stub:
        base = Path(tmp)
        paths = {
            ("json", True): base / "one.json",
            ("stream-json", True): base / "stream.json",
            ("json", False): base / "full.json",
            ("stream-json", False): base / "stream-full.json",
        }
        counter = iter(range(10**9))

        def fresh_dir() -> Path:
            path = base / f"w{next(counter)}"
            path.mkdir()
            return path

        def executor(
            interceptor: CassetteInterceptor | None, binary: str = args.claude_bin
        ) -> ClaudeExecutor:
            work = fresh_dir()
            return ClaudeExecutor(
                binary,
                cwd=work,
                config_dir=work / "cfg",
                env=stub.env(),
                timeout=120,
                interceptor=interceptor,
            )

        for (fmt, slim), path in paths.items():
            recorder = CassetteInterceptor(path, mode="once", slim=slim)
            executor(recorder).run(PROMPT, output_format=fmt)
            recorder.finish()

        events: list[object] = []
        timings: dict[str, list[float]] = {
            "live": [],
            "replay": [],
            "replay+load": [],
            "replay stream": [],
            "replay full": [],
            "replay stream full": [],
        }

        def timed(name: str, fn: Callable[[], object]) -> None:
            t0 = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - t0)

        def replayer(fmt: str, slim: bool) -> Callable[[], object]:
            ex = executor(CassetteInterceptor(paths[(fmt, slim)]), "/nonexistent/claude")
            if fmt == "json":
                return lambda: ex.run(PROMPT)
            return lambda: ex.run(PROMPT, output_format=fmt, on_event=events.append)

        loads_before = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        for _ in range(args.runs):
            timed("live", functools.partial(executor(None).run, PROMPT))
            timed("replay", replayer("json", True))

            loader = executor(None, "/nonexistent/claude")

            def load_and_run(ex: ClaudeExecutor = loader) -> None:
                ex.interceptor = CassetteInterceptor(paths[("json", True)])
                ex.run(PROMPT)

            timed("replay+load", load_and_run)
            timed("replay stream", replayer("stream-json", True))
            timed("replay full", replayer("json", False))
            timed("replay stream full", replayer("stream-json", False))
        sizes = {key: path.stat().st_size / 1024 for key, path in paths.items()}
        if args.profile:
            profile_replays(args.profile, [replayer("json", True) for _ in range(args.profile)])
        for leftover in base.glob("w*"):
            shutil.rmtree(leftover, ignore_errors=True)

    live_median = statistics.median(timings["live"])
    print(f"machine: {machine()} (load avg at start {loads_before[0]:.2f})")
    print(
        f"runs per variant: {args.runs}; one new-session call; "
        f"cassettes: json {sizes[('json', True)]:.0f} KB "
        f"(full {sizes[('json', False)]:.0f} KB), stream-json {sizes[('stream-json', True)]:.0f} KB "
        f"(full {sizes[('stream-json', False)]:.0f} KB)"
    )
    print(f"{'variant':<19} {'median ms':>10} {'p90 ms':>9} {'speed-up vs live':>17}")
    for name, values in timings.items():
        ordered = sorted(values)
        median = statistics.median(ordered)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        print(f"{name:<19} {median * 1000:>10.2f} {p90 * 1000:>9.2f} {live_median / median:>16.0f}x")
    for name in ("replay", "replay stream"):
        median = statistics.median(timings[name])
        goal = median <= 0.001 and live_median / median >= 100
        print(
            f"goal for {name} (<= 1.0 ms median and >= 100x faster than live): {'met' if goal else 'NOT met'}"
        )
    return 0


def profile_replays(count: int, calls: list[Callable[[], object]]) -> None:
    """Run the prepared replays under cProfile and print the top functions by cumulative time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        call()
    profiler.disable()
    print(f"cProfile of {count} json replays (cumulative time, top 25):")
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(25)
    if os.environ.get("BENCH_CALLERS"):
        stats.print_callers(os.environ["BENCH_CALLERS"])


if __name__ == "__main__":
    raise SystemExit(main())
