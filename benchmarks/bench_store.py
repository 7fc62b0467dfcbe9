"""Store benchmark: prints figures and ratios side by side in one run.

    python benchmarks/bench_store.py            # full run (a few minutes on 2 cores)
    python benchmarks/bench_store.py --quick    # smaller sizes, a smoke test

1. 10,000 sequential updates through SessionTracker: per-update cost near 1k steps vs near 10k (goal: flat,
   ratio <= 1.5), fsync on and off.
2. A naive baseline written here (keeps the chain in memory and rewrites the whole JSON document per update,
   like the original single-document design) at the same chain lengths; measured on a window of updates
   after pre-filling to ~1k and ~10k steps, because 10,000 naive updates take minutes. Goal: store >= 50x
   faster at 10k.
3. 8 processes x 500 updates on one agent: lost updates (goal 0), counts 1..N exactly, updates/s with fsync on
   and off (wall time from the first worker's start to the last worker's end, imports excluded).
4. Loading a 100,000-step agent (a new tracker, in a fresh process: time and that process's peak RSS) and
   one append + incremental refresh at that length.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

from _bench_common import ROOT as REPO_ROOT, machine

from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.store.session_store import SessionStore
from pytest_claude_sessions.store.tracker import SessionTracker

PROMPT = "Summarise the failing test output and propose a fix for the flaky session resume. " * 3
RESPONSE = "The resume used a stale session id; pass --resume with the id of the previous step. " * 3

WORKER = r"""
import sys, time, warnings
warnings.simplefilter("ignore")
from pytest_claude_sessions.store.tracker import SessionTracker
directory, n, fsync = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
tracker = SessionTracker("contended", directory, fsync=fsync)
start = time.time()
ids = [tracker.update_session(f"s{i % 7}", "prompt", "response").step_id for i in range(n)]
end = time.time()
sys.stdout.write(f"{start} {end}\n" + "\n".join(ids) + "\n")
"""


def window_ms(times: list[float], around: int, width: int) -> float:
    """Median per-update time (ms) of the ``width`` updates ending at step ``around``."""
    return statistics.median(times[around - width : around]) * 1000


def sequential(directory: Path, n: int, fsync: bool) -> list[float]:
    tracker = SessionTracker("sequential", directory, fsync=fsync)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        tracker.update_session(f"s{i % 5}", PROMPT, RESPONSE, {"i": i}, cost_usd=0.001)
        times.append(time.perf_counter() - t0)
    return times


def naive_per_update(directory: Path, prefill: int, measured: int, fsync: bool) -> float:
    """Seconds per update of the rewrite-everything design at a chain of ``prefill`` steps."""
    path = directory / f"naive-{prefill}-{fsync}_sessions.json"
    sessions = [
        SessionInfo(f"s{i % 5}", utcnow(), i + 1, PROMPT[:200], RESPONSE[:200], {"i": i}).to_dict()
        for i in range(prefill)
    ]
    t0 = time.perf_counter()
    for _ in range(measured):
        count = len(sessions) + 1
        sessions.append(
            SessionInfo("s", utcnow(), count, PROMPT[:200], RESPONSE[:200], {"i": count}).to_dict()
        )
        doc = {
            "agent_id": "naive",
            "current_session_id": "s",
            "interaction_count": count,
            "sessions": sessions,
        }
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc))  # the C encoder, no indent: the fastest form of the naive design
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    return (time.perf_counter() - t0) / measured


def contended(directory: Path, procs: int, per_proc: int, fsync: bool) -> tuple[float, int, bool]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    running = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(directory), str(per_proc), "1" if fsync else "0"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(procs)
    ]
    starts, ends, acked = [], [], set()
    for proc in running:
        out, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"worker failed with exit code {proc.returncode}")
        first, *ids = out.splitlines()
        start, end = map(float, first.split())
        starts.append(start)
        ends.append(end)
        acked.update(ids)
    chain = SessionTracker("contended", directory).session_chain
    stored = {s.step_id for s in chain}
    lost = len(acked - stored)
    exact = [s.interaction_count for s in chain] == list(range(1, procs * per_proc + 1))
    return procs * per_proc / (max(ends) - min(starts)), lost, exact


# VmHWM (peak RSS of this address space, in kB), not ru_maxrss: Linux carries ru_maxrss over from the
# parent across fork/exec, which would report the benchmark's own peak.
LOADER = r"""
import sys, time
from pytest_claude_sessions.store.tracker import SessionTracker
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
before = hwm()
t0 = time.perf_counter()
tracker = SessionTracker("big", sys.argv[1])
load = time.perf_counter() - t0
assert tracker.interaction_count == int(sys.argv[2])
print(load, before, hwm())
"""


def big_agent(directory: Path, steps: int) -> tuple[float, float, float, float, float, int]:
    """(load s, RSS before and peak of the loading process in MB, append s, refresh s, journal bytes).

    The load runs in a fresh process, so its peak RSS is the load's own, not this benchmark's.
    """
    store = SessionStore(directory, fsync=False)
    base = utcnow() - timedelta(days=1)
    records = [
        SessionInfo(
            f"s{i % 50}", base + timedelta(milliseconds=i), i + 1, PROMPT[:200], RESPONSE[:200], {"i": i}
        )
        for i in range(steps)
    ]
    store.merge("big", records)
    del records
    size = store.journal_path("big").stat().st_size
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    out = subprocess.run(
        [sys.executable, "-c", LOADER, str(directory), str(steps)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    load, rss_before, rss_peak = map(float, out.split())
    tracker = SessionTracker("big", directory)
    t0 = time.perf_counter()
    tracker.update_session("s-next", PROMPT, RESPONSE)
    append = time.perf_counter() - t0
    other = SessionTracker("big", directory)
    tracker.update_session("s-next", PROMPT, RESPONSE)
    t0 = time.perf_counter()
    assert other.interaction_count == steps + 2  # an incremental refresh: reads only the new line
    refresh = time.perf_counter() - t0
    return load, rss_before, rss_peak, append, refresh, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test, not the figures)")
    args = parser.parse_args()
    n_seq, n_big, procs, per_proc, naive_window = (
        (2_000, 10_000, 4, 100, 20) if args.quick else (10_000, 100_000, 8, 500, 50)
    )
    lo = n_seq // 10
    warnings.simplefilter("ignore")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        root = Path(tmp)
        print(f"store on: {root} ({'quick' if args.quick else 'full'} run)\n")

        print(
            f"1) {n_seq:,} sequential updates through SessionTracker (median of {lo // 2} updates per window)"
        )
        results = {}
        for fsync in (True, False):
            times = sequential(root / f"seq-{fsync}", n_seq, fsync)
            at_lo, at_hi = window_ms(times, lo, lo // 2), window_ms(times, n_seq, lo // 2)
            results[fsync] = at_hi
            print(
                f"   fsync={'on ' if fsync else 'off'}: {at_lo:.3f} ms/update at {lo:,} steps, "
                f"{at_hi:.3f} ms at {n_seq:,}  -> ratio {at_hi / at_lo:.2f} (goal <= 1.5); "
                f"total {sum(times):.1f} s"
            )

        print(f"\n2) naive baseline: rewrite the whole JSON document per update ({naive_window} measured)")
        for fsync in (False, True):
            naive_lo = naive_per_update(root, lo - naive_window, naive_window, fsync) * 1000
            naive_hi = naive_per_update(root, n_seq - naive_window, naive_window, fsync) * 1000
            ours = results[fsync]
            print(
                f"   fsync={'on ' if fsync else 'off'}: naive {naive_lo:.2f} ms at {lo:,} steps, "
                f"{naive_hi:.2f} ms at {n_seq:,}; store {ours:.3f} ms -> store is {naive_hi / ours:.0f}x "
                f"faster at {n_seq:,} (goal >= 50x)"
            )

        print(f"\n3) {procs} processes x {per_proc} updates on one agent")
        for fsync in (True, False):
            rate, lost, exact = contended(root / f"multi-{fsync}", procs, per_proc, fsync)
            print(
                f"   fsync={'on ' if fsync else 'off'}: {rate:,.0f} updates/s, lost {lost}, "
                f"counts exactly 1..{procs * per_proc}: {exact}"
            )

        print(f"\n4) an agent with {n_big:,} steps")
        load, rss_before, rss_peak, append, refresh, size = big_agent(root / "big", n_big)
        print(
            f"   journal {size / 1e6:.1f} MB; new tracker (full load, fresh process) {load:.2f} s "
            f"({load / n_big * 1e6:.1f} us/step), peak RSS {rss_peak:.0f} MB "
            f"(+{rss_peak - rss_before:.0f} MB over the interpreter with the package imported, "
            f"{(rss_peak - rss_before) * 1e6 / n_big / 1024:.2f} kB/step)"
        )
        print(
            f"   one append at that length {append * 1000:.2f} ms; incremental refresh of another "
            f"tracker {refresh * 1000:.2f} ms"
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"   peak RSS of this benchmark process (it builds the records itself): {rss:.0f} MB")


if __name__ == "__main__":
    main()
