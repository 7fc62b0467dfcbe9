"""Wall-time overhead of the plugin on a suite that does not use Claude (goal: <= 3 %).

Generates 2,000 trivial tests, then runs pytest alternately with the plugin (autoloaded) and with
``-p no:claude_sessions``, several times each, and prints the medians side by side with the ratio.

    .venv/bin/python benchmarks/bench_plugin_overhead.py [--tests 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER_FILE = 100


def make_suite(root: Path, n_tests: int) -> None:
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    for f in range((n_tests + PER_FILE - 1) // PER_FILE):
        count = min(PER_FILE, n_tests - f * PER_FILE)
        body = "".join(f"def test_{i}():\n    assert {i} + 1 == {i + 1}\n\n" for i in range(count))
        (root / f"test_gen_{f:03d}.py").write_text(body)


def run_once(root: Path, plugin: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys of the pytest process)."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    if not plugin:
        args += ["-p", "no:claude_sessions"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_CLAUDE_", "PYTEST_XDIST_"))}
    env.pop("PYTEST_ADDOPTS", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"pytest failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, cpu


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as tmp:
        root = Path(tmp)
        make_suite(root, opts.tests)
        run_once(root, True)  # warm the filesystem cache and .pyc files
        run_once(root, False)
        on: list[tuple[float, float]] = []
        off: list[tuple[float, float]] = []
        for i in range(opts.rounds):
            # Alternate the order so drifts in machine load hit both sides equally.
            for plugin in (True, False) if i % 2 == 0 else (False, True):
                (on if plugin else off).append(run_once(root, plugin))
    print(f"machine: {machine()}")
    print(f"{opts.tests} tests without Claude, {opts.rounds} alternating rounds, seconds per pytest run")
    print(f"{'':16}{'plugin on':>12}{'-p no:claude_sessions':>24}{'ratio':>9}")
    for label, idx in (("wall", 0), ("cpu", 1)):
        son = [r[idx] for r in on]
        soff = [r[idx] for r in off]
        for stat_name, stat in (("median", statistics.median), ("min", min)):
            a, b = stat(son), stat(soff)
            print(f"{label + ' ' + stat_name:16}{a:12.3f}{b:24.3f}{a / b:9.3f}")
    wall_ratio = statistics.median(r[0] for r in on) / statistics.median(r[0] for r in off)
    print(f"overhead (median wall): {(wall_ratio - 1) * 100:+.1f} %  (goal <= +3 %)")


if __name__ == "__main__":
    main()
