"""The interposed ``claude`` in front of a hostile CLI: a flood is relayed whole to the agent but kept as a
capped head and tail (the dropped bytes counted), deep nesting is a typed parse error, not a crash."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

FLOOD_MB = 40  # more than the capture's head and tail (24 + 8 MiB)

FAKE = """#!{python}
import sys
kind = sys.argv[sys.argv.index("-p") + 1]
if kind == "flood":
    line = b"x" * 1023 + b"\\n"
    for _ in range({mb} * 1024):
        sys.stdout.buffer.write(line)
elif kind == "nest":
    sys.stdout.write("[" * 200000 + "]" * 200000 + "\\n")
sys.stdout.flush()
"""

SUITE = f"""
import subprocess


def test_flood(claude_cli):
    done = subprocess.run(["claude", "-p", "flood", "--output-format", "json"], capture_output=True)
    assert len(done.stdout) == {FLOOD_MB} * 1024 * 1024  # the agent gets every byte


def test_nest(claude_cli):
    done = subprocess.run(["claude", "-p", "nest", "--output-format", "json"], capture_output=True)
    assert done.returncode == 0
"""


def test_a_flood_and_deep_nesting_through_the_interposed_claude(pytester: pytest.Pytester) -> None:
    fake = pytester.path / "hostile-claude"
    fake.write_text(FAKE.format(python=sys.executable, mb=FLOOD_MB))
    fake.chmod(0o755)
    pytester.makepyfile(test_inner=SUITE)
    result = pytester.runpytest_subprocess(
        f"--claude-bin={fake}", "--claude-json-report=r.json", "-p", "no:asyncio"
    )
    result.assert_outcomes(passed=2)
    report = json.loads(Path(pytester.path / "r.json").read_text())
    failed = {t["nodeid"].split("::")[1]: t["failed_calls"] for t in report["tests"]}
    (flood,) = failed["test_flood"]
    dropped = FLOOD_MB * 1024 * 1024 - (24 + 8) * 1024 * 1024
    assert f"{dropped} bytes of stdout dropped" in flood["error"], flood
    (nest,) = failed["test_nest"]
    assert "cannot be parsed safely" in nest["error"] and "nest" in nest["error"], nest
