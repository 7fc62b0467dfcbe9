"""Wall-time overhead of the plugin on a suite that does not use Claude (goal: <= 2 %).

Generates 2,000 trivial tests, then runs pytest in rotation with the plugin (autoloaded; record/replay
is part of it) and with ``-p no:claude_sessions``, several rounds each, and prints medians and minima
side by side with the ratio to the run without the plugin.

It measures two interpreter setups, because pytest rewrites the asserts of every module of a ``pytest11``
package (this whole package) on import and caches the result as ``.pyc``:

* ``cached``: bytecode caching on (a private ``PYTHONPYCACHEPREFIX``), as on a developer machine;
* ``no-bytecode``: ``PYTHONDONTWRITEBYTECODE=1``, as in many CI containers: every run re-parses and
  re-compiles each imported module of the package, so import size shows up directly.

    .venv/bin/python benchmarks/bench_plugin_overhead.py [--tests 2000] [--rounds 9] [--mode both]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench_common import machine

PER_FILE = 100
MODES = ("cached", "no-bytecode")
# name -> extra pytest arguments; the last one is the baseline.
CONFIGS = {
    "plugin on": [],
    "-p no:claude_sessions": ["-p", "no:claude_sessions"],
}


def make_suite(root: Path, n_tests: int) -> None:
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    for f in range((n_tests + PER_FILE - 1) // PER_FILE):
        count = min(PER_FILE, n_tests - f * PER_FILE)
        body = "".join(f"def test_{i}():\n    assert {i} + 1 == {i + 1}\n\n" for i in range(count))
        (root / f"test_gen_{f:03d}.py").write_text(body)


def environment(mode: str, pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_CLAUDE_", "PYTEST_XDIST_"))}
    for name in ("PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"):
        env.pop(name, None)
    if mode == "cached":
        env["PYTHONPYCACHEPREFIX"] = str(pycache)  # keeps the rewritten .pyc out of the source tree
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_once(root: Path, extra: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys of the pytest process)."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"pytest failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, cpu


def measure(root: Path, mode: str, rounds: int, pycache: Path) -> dict[str, list[tuple[float, float]]]:
    env = environment(mode, pycache)
    for extra in CONFIGS.values():
        run_once(root, extra, env)  # warm the filesystem cache (and, when cached, the .pyc files)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in CONFIGS}
    names = list(CONFIGS)
    for i in range(rounds):
        # Rotate the order so drifts in machine load hit every configuration equally.
        for name in names[i % len(names) :] + names[: i % len(names)]:
            results[name].append(run_once(root, CONFIGS[name], env))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    opts = parser.parse_args()
    modes = MODES if opts.mode == "both" else (opts.mode,)
    print(f"machine: {machine()}")
    print(f"{opts.tests} tests without Claude, {opts.rounds} alternating rounds, seconds per pytest run")
    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as tmp:
        root = Path(tmp) / "suite"
        root.mkdir()
        make_suite(root, opts.tests)
        for mode in modes:
            results = measure(root, mode, opts.rounds, Path(tmp) / "pycache")
            base = list(CONFIGS)[-1]
            print(f"\n[{mode}]")
            print(
                f"{'':16}"
                + "".join(f"{name:>24}" for name in CONFIGS)
                + "".join(f"{'ratio ' + str(i + 1):>10}" for i in range(len(CONFIGS) - 1))
            )
            for label, idx in (("wall", 0), ("cpu", 1)):
                for stat_name, stat in (("median", statistics.median), ("min", min)):
                    figures = {name: stat([r[idx] for r in results[name]]) for name in CONFIGS}
                    ratios = [figures[name] / figures[base] for name in list(CONFIGS)[:-1]]
                    print(
                        f"{label + ' ' + stat_name:16}"
                        + "".join(f"{figures[name]:24.3f}" for name in CONFIGS)
                        + "".join(f"{r:10.3f}" for r in ratios)
                    )
            for name in list(CONFIGS)[:-1]:
                wall = statistics.median(r[0] for r in results[name]) / statistics.median(
                    r[0] for r in results[base]
                )
                cpu = min(r[1] for r in results[name]) / min(r[1] for r in results[base])
                print(
                    f"overhead [{mode}] {name}: median wall {(wall - 1) * 100:+.1f} %, "
                    f"min cpu {(cpu - 1) * 100:+.1f} %  (goal <= +2 %)"
                )


if __name__ == "__main__":
    main()
