"""What pytest itself shows of a failing Claude test (traceback, assertion details, locals, captured
output) passes through the test's redactor before it reaches the terminal or junit."""

from __future__ import annotations

import re

import pytest

SECRET = "sk-ant-api03-" + "Q" * 40
TOKEN_VALUE = "tok-literal-value-77"

SUITE = f"""
import os

def test_leaks(session_tracker):
    prompt = "please use {SECRET}"
    argv = ["claude", "-p", prompt, "--token", os.environ["MY_SERVICE_TOKEN"]]
    print("agent said:", prompt, os.environ["MY_SERVICE_TOKEN"])
    assert prompt == "expected", argv

def test_plain_failure_keeps_its_traceback(session_tracker):
    value = 41
    assert value == 42
"""


@pytest.mark.parametrize("dist", [[], ["-n", "2"]], ids=["no_xdist", "xdist_two"])
def test_a_secret_in_a_failure_reaches_neither_terminal_nor_junit(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, dist: list[str]
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", TOKEN_VALUE)
    pytester.makepyfile(test_leak=SUITE)
    result = pytester.runpytest_subprocess(*dist, "-l", "-rA", "--junitxml=junit.xml", "-p", "no:asyncio")
    result.assert_outcomes(failed=2)
    out = result.stdout.str() + result.stderr.str()
    junit = (pytester.path / "junit.xml").read_text()
    for where, text in (("terminal", out), ("junit", junit)):
        assert SECRET not in text and "Q" * 40 not in text, where
        assert TOKEN_VALUE not in text, where
    assert "[REDACTED:" in out and "[REDACTED:" in junit
    assert "please use" in out  # the rest of the failure is still there
    # the crash line stays: the short summary and junit's message name the assertion, redacted
    result.stdout.fnmatch_lines(["FAILED test_leak.py::test_leaks - AssertionError: ['claude', '-p', 'ple*"])
    # pytest's comparison explanation cuts its operands; built from redacted ones, no piece of the key shows
    assert "Q" * 8 not in out and "Q" * 8 not in junit
    assert re.search(r'<failure message="AssertionError: \[.claude.,[^"]*REDACTED', junit) or re.search(
        r'<failure message="AssertionError:[^"]*REDACTED', junit
    ), junit
    # a failure with nothing to hide keeps pytest's own rendering (the assertion's introspection)
    result.stdout.fnmatch_lines(["*assert 41 == 42*"])
