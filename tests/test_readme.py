"""The README's quick start runs as written: the real CLI against the stub, through the plugin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Quick start has no python block"
    return match.group(1)


@pytest.mark.parametrize("dist", [[], ["-n", "2"]], ids=["no_xdist", "xdist_two"])
def test_quick_start_passes_as_written(pytester: pytest.Pytester, claude_bin: Path, dist: list[str]) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_quick_start=_quick_start())
    result = pytester.runpytest_subprocess(
        f"--claude-bin={claude_bin}", "--strict-markers", "-p", "no:cacheprovider", "-rA", *dist
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*Captured claude sessions call*",
            "*continuity: ok*",
            "*1 test, 3 calls, 2 distinct sessions*, 0 continuity failures, 0 budget failures*",
        ]
    )
