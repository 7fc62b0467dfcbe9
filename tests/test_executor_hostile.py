"""Hostile CLI output, planted with a fake ``claude`` script: bounded memory, typed parse errors (sync and
async), a flooding hung CLI killed on time, and no secret in any error text."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_claude_sessions.errors import ClaudeOutputError, ClaudeProcessError, ClaudeTimeoutError
from pytest_claude_sessions.executor.capture import Capture, CaptureLimits, LineSplitter
from pytest_claude_sessions.executor.executor import ClaudeExecutor
from pytest_claude_sessions.executor.process import run_async, run_sync

SID = "13530587-ae0e-4e17-8473-cad43d4119bb"
API_KEY = "sk-ant-api03-" + "Q" * 40  # a literal value: only the env-literal rule knows it is a secret
PLAIN_KEY = "plainvalue-not-shaped-like-a-key-0123456789"
BEARER = "Bearer abcdefghijklmnopqrstuvwxyz0123456789"


def _fake(tmp_path: Path, body: str, name: str = "claude") -> Path:
    """A fake ``claude``: a Python script run by this interpreter."""
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport os, sys\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def _executor(tmp_path: Path, binary: Path, **kw: object) -> ClaudeExecutor:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return ClaudeExecutor(binary, cwd=work, config_dir=tmp_path / "cfg", **kw)  # type: ignore[arg-type]


def _both(ex: ClaudeExecutor, prompt: str, **kw: object) -> list[BaseException]:
    """What ``run`` and ``arun`` raise for the same call."""
    raised: list[BaseException] = []
    for runner in (lambda: ex.run(prompt, **kw), lambda: asyncio.run(ex.arun(prompt, **kw))):  # type: ignore[arg-type]
        try:
            runner()
        except BaseException as exc:
            raised.append(exc)
    return raised


# --------------------------------------------------------------------------- capture


def test_capture_keeps_a_head_and_a_tail_and_counts_what_it_dropped() -> None:
    cap = Capture(head=10, tail=5)
    for chunk in (b"0123456789", b"abcdef", b"ghij", b"XYZ"):
        cap.feed(chunk)
    assert cap.total == 23
    assert cap.dropped == 8
    assert cap.getvalue().startswith(b"0123456789\n[... 8 bytes dropped")
    assert cap.getvalue().endswith(b"...]\nijXYZ")
    small = Capture(head=10, tail=5)
    small.feed(b"abc")
    assert (small.getvalue(), small.dropped) == (b"abc", 0)


def test_line_splitter_skips_a_line_beyond_its_limit_without_holding_it() -> None:
    split = LineSplitter(max_line=8)
    assert split.feed(b"short\nvery") == [b"short\n"]
    assert split.feed(b" long line indeed") == []
    assert split.feed(b" still\nok\n") == [b"ok\n"]
    assert split.skipped == 1
    assert split.feed(b"tail") == []
    assert split.rest() == b"tail"


# --------------------------------------------------------------------------- hostile JSON

DEEP = f"""
sid = "{SID}"
depth = 200000
sys.stdout.write('{{"type":"result","session_id":"' + sid + '","x":' + "[" * depth + "]" * depth + "}}\\n")
"""


def test_deeply_nested_json_is_a_typed_parse_error_sync_and_async(tmp_path: Path) -> None:
    ex = _executor(tmp_path, _fake(tmp_path, DEEP))
    raised = _both(ex, "hello")
    assert [type(exc) for exc in raised] == [ClaudeOutputError, ClaudeOutputError]
    for exc in raised:
        assert "cannot be parsed safely (JSON nested deeper than 64 levels)" in str(exc)
        assert isinstance(exc, ClaudeProcessError)  # code that catches process errors still does
    assert [r.error_type for r in ex.failures] == ["ClaudeOutputError", "ClaudeOutputError"]


def test_deep_nesting_that_python_could_parse_is_refused_too(tmp_path: Path) -> None:
    body = 'print(\'{"type":"result","session_id":"%s","x":\' + "[" * 500 + "]" * 500 + "}")' % SID  # noqa: UP031
    ex = _executor(tmp_path, _fake(tmp_path, body))
    with pytest.raises(ClaudeOutputError, match="nested deeper than 64"):
        ex.run("hello", output_format="stream-json")


HUGE_LINE = """
chunk = "x" * (1024 * 1024)
for _ in range(70):
    sys.stdout.write(chunk)
sys.stdout.write("\\n")
"""


def test_a_70_mb_line_is_a_typed_error_with_the_bytes_dropped_sync_and_async(tmp_path: Path) -> None:
    ex = _executor(tmp_path, _fake(tmp_path, HUGE_LINE))
    for output_format in ("json", "stream-json"):
        raised = _both(ex, "hello", output_format=output_format)
        assert [type(exc) for exc in raised] == [ClaudeOutputError, ClaudeOutputError], raised
        for exc in raised:
            assert isinstance(exc, ClaudeOutputError)
            assert "bytes of stdout dropped" in str(exc)
            assert len(exc.stdout) < 40 * 1024 * 1024  # the capture's head and tail, not 70 MB


def test_the_capture_limits_bound_the_outcome_and_say_how_much_was_dropped(tmp_path: Path) -> None:
    script = _fake(tmp_path, HUGE_LINE)
    limits = CaptureLimits(stdout_head=1000, stdout_tail=500, max_line=100)
    for outcome in (
        run_sync([str(script)], cwd=tmp_path, env=dict(os.environ), timeout=120, limits=limits),
        asyncio.run(run_async([str(script)], cwd=tmp_path, env=dict(os.environ), timeout=120, limits=limits)),
    ):
        assert outcome.returncode == 0
        assert outcome.stdout_dropped == 70 * 1024 * 1024 + 1 - 1500
        assert len(outcome.stdout) < 1600
        assert f"[... {outcome.stdout_dropped} bytes dropped" in outcome.stdout


# --------------------------------------------------------------------------- a flooding hung CLI

FLOOD = """
line = ('{"type":"assistant","message":{"content":[{"type":"text","text":"' + "y" * 4000 + '"}]}}\\n')
block = line * 64
while True:
    sys.stdout.write(block)
    sys.stdout.flush()
"""

MEASURE = """
import asyncio, json, resource, sys, time
from pytest_claude_sessions.executor.executor import ClaudeExecutor
from pytest_claude_sessions.errors import ClaudeTimeoutError
binary, work, fmt, mode = sys.argv[1:5]
ex = ClaudeExecutor(binary, cwd=work, config_dir=work + "/cfg", timeout=6)
events = [0]
def count(event):
    events[0] += 1
extra = {"on_event": count} if fmt == "stream-json" else {}
start = time.monotonic()
try:
    if mode == "async":
        asyncio.run(ex.arun("flood", output_format=fmt, **extra))
    else:
        ex.run("flood", output_format=fmt, **extra)
except ClaudeTimeoutError as exc:
    kept = len(exc.stdout)
else:
    raise SystemExit("the flood did not time out")
elapsed = time.monotonic() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"elapsed": elapsed, "peak_mb": peak_mb, "kept": kept, "events": events[0]}))
"""


@pytest.mark.parametrize(("fmt", "mode"), [("json", "sync"), ("stream-json", "async")])
def test_a_hung_cli_flooding_stdout_is_killed_on_time_in_bounded_memory(
    tmp_path: Path, fmt: str, mode: str
) -> None:
    """Measured in a fresh interpreter: its peak RSS is the executor's, not this test run's. Before the
    capture this took 16.7 s and 3.3 GB for a 6 s timeout."""
    script = _fake(tmp_path, FLOOD)
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(script), str(work), fmt, mode],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert 6 <= figures["elapsed"] < 6 + 6, figures  # killed at its timeout (+ the kill's 1.5 s)
    assert figures["peak_mb"] < 400, figures  # caps: 32 MB of stdout, one 16 MB line
    assert figures["kept"] <= 33 * 1024 * 1024, figures
    if fmt == "stream-json":
        assert figures["events"] > 0  # lines still reach on_event while it floods


# --------------------------------------------------------------------------- no secret in an error text

ECHO = """
sys.stderr.write("auth failed for key " + os.environ.get("ANTHROPIC_API_KEY", "") + "\\n")
sys.stderr.write("argv was " + " ".join(sys.argv[1:]) + "\\n")
print("token=" + os.environ.get("ANTHROPIC_AUTH_TOKEN", "") + " " + sys.argv[-1])
sys.exit(1)
"""


def _assert_clean(text: str) -> None:
    for secret in (API_KEY, PLAIN_KEY, BEARER.split()[1]):
        assert secret not in text, text


def test_error_texts_carry_no_secret_from_the_prompt_the_env_or_the_output(tmp_path: Path) -> None:
    env = {"ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_AUTH_TOKEN": PLAIN_KEY}
    ex = _executor(tmp_path, _fake(tmp_path, ECHO), env=env)
    prompt = f"use {BEARER} and {PLAIN_KEY} please"
    raised = _both(ex, prompt)
    assert [type(exc) for exc in raised] == [ClaudeProcessError, ClaudeProcessError]
    for exc in raised:
        text = str(exc)
        _assert_clean(text)
        assert "[REDACTED:" in text and "argv:" in text and "stderr: auth failed for key" in text
        assert isinstance(exc, ClaudeProcessError) and API_KEY not in exc.stderr  # attributes too
    for record in ex.failures:
        _assert_clean(record.error or "")


def test_a_timed_out_prompt_with_a_secret_is_redacted_in_the_error(tmp_path: Path) -> None:
    hang = 'sys.stderr.write("key " + os.environ["ANTHROPIC_API_KEY"] + "\\n"); sys.stderr.flush()\n'
    hang += "import time\ntime.sleep(600)\n"
    ex = _executor(tmp_path, _fake(tmp_path, hang), env={"ANTHROPIC_API_KEY": API_KEY}, timeout=2)
    start = time.monotonic()
    with pytest.raises(ClaudeTimeoutError) as info:
        ex.run(f"secret prompt {BEARER}")
    assert time.monotonic() - start < 2 + 20
    _assert_clean(str(info.value))
    assert "[REDACTED:bearer-token]" in str(info.value)
    assert "key [REDACTED:secret-env]" in str(info.value)


def test_a_check_error_result_is_redacted_in_its_message(tmp_path: Path) -> None:
    payload = {
        "type": "result",
        "subtype": "error_during_execution",
        "is_error": True,
        "session_id": SID,
        "errors": [f"upstream said: invalid x-api-key {API_KEY}"],
    }
    body = f"print({json.dumps(json.dumps(payload))})\n"
    ex = _executor(tmp_path, _fake(tmp_path, body), env={"ANTHROPIC_API_KEY": API_KEY}, check=True)
    with pytest.raises(Exception, match="returned an error result") as info:
        ex.run("hi")
    _assert_clean(str(info.value))
