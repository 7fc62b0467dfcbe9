"""Helpers shared by the benchmark scripts: the machine line, alternating runs, percentiles, the CLI path.

Import it from a script in this folder (``from _bench_common import ...``): Python puts the script's own
folder first on ``sys.path``. Importing it also puts the repository root on ``sys.path``, so the scripts run
from a checkout without installing the package.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
LOCAL_CLI = ROOT / ".claude-cli" / "node_modules" / ".bin" / "claude"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

T = TypeVar("T")


def machine() -> str:
    """One line for the report: OS, architecture, CPU model and count, load average, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs, "
        f"load avg {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, Python {platform.python_version()}"
    )


def alternating(
    variants: Mapping[str, Callable[[int], T]], runs: int, *, warm_up: bool = True
) -> dict[str, list[T]]:
    """Run every variant ``runs`` times, interleaved and in reversed order every other round, so that
    machine noise (other processes, CPU frequency) hits every variant alike. Each call gets the round
    number and returns its measurement. ``warm_up`` first calls each variant once with round ``-1``
    (first start of a binary, page cache, threads) and drops that result."""
    if warm_up:
        for fn in variants.values():
            fn(-1)
    samples: dict[str, list[T]] = {name: [] for name in variants}
    for i in range(runs):
        order = list(variants.items())
        if i % 2:
            order.reverse()
        for name, fn in order:
            samples[name].append(fn(i))
    return samples


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes (``perf_counter``)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``samples``."""
    if not samples:
        raise ValueError("percentile() of no samples")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * (len(ordered) - 1) + 0.5))]


def summary(samples: Sequence[float]) -> tuple[float, float, float, float]:
    """``(median, p95, min, max)`` of ``samples``."""
    return statistics.median(samples), percentile(samples, 0.95), min(samples), max(samples)


def add_claude_bin_option(parser: argparse.ArgumentParser) -> None:
    """``--claude-bin``, defaulting to ``$CLAUDE_BIN`` or the project-local pinned CLI."""
    parser.add_argument(
        "--claude-bin",
        default=os.environ.get("CLAUDE_BIN") or str(LOCAL_CLI),
        help="the claude CLI to run (default: $CLAUDE_BIN or .claude-cli/node_modules/.bin/claude)",
    )


def missing_claude_bin(path: str) -> str | None:
    """A message saying how to install the CLI when ``path`` is not an executable file, else ``None``."""
    if Path(path).is_file() and os.access(path, os.X_OK):
        return None
    return f"claude CLI not found at {path}; run: bash scripts/install-claude-cli.sh"
