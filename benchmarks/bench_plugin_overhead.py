"""Wall-time overhead of the plugin on a suite that does not use Claude (goal: <= 3 %).

Generates 2,000 trivial tests, then runs pytest alternately with the plugin (autoloaded) and with
``-p no:claude_sessions``, several rounds each, and prints medians and minima side by side with the ratio.

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
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER_FILE = 100
MODES = ("cached", "no-bytecode")


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


def run_once(root: Path, plugin: bool, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys of the pytest process)."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    if not plugin:
        args += ["-p", "no:claude_sessions"]
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
    load = f", load average {os.getloadavg()[0]:.2f} at start" if hasattr(os, "getloadavg") else ""
    return f"{system}, {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}{load}"


def measure(root: Path, mode: str, rounds: int, pycache: Path) -> tuple[list[tuple[float, float]], ...]:
    env = environment(mode, pycache)
    run_once(root, True, env)  # warm the filesystem cache (and, when cached, the .pyc files)
    run_once(root, False, env)
    on: list[tuple[float, float]] = []
    off: list[tuple[float, float]] = []
    for i in range(rounds):
        # Alternate the order so drifts in machine load hit both sides equally.
        for plugin in (True, False) if i % 2 == 0 else (False, True):
            (on if plugin else off).append(run_once(root, plugin, env))
    return on, off


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
            on, off = measure(root, mode, opts.rounds, Path(tmp) / "pycache")
            print(f"\n[{mode}]")
            print(f"{'':16}{'plugin on':>12}{'-p no:claude_sessions':>24}{'ratio':>9}")
            for label, idx in (("wall", 0), ("cpu", 1)):
                son = [r[idx] for r in on]
                soff = [r[idx] for r in off]
                for stat_name, stat in (("median", statistics.median), ("min", min)):
                    a, b = stat(son), stat(soff)
                    print(f"{label + ' ' + stat_name:16}{a:12.3f}{b:24.3f}{a / b:9.3f}")
            wall = statistics.median(r[0] for r in on) / statistics.median(r[0] for r in off)
            cpu = min(r[1] for r in on) / min(r[1] for r in off)
            print(
                f"overhead [{mode}]: median wall {(wall - 1) * 100:+.1f} %, min cpu {(cpu - 1) * 100:+.1f} %"
                "  (goal <= +3 %)"
            )


if __name__ == "__main__":
    main()
