"""ClaudeExecutor without the CLI: argv layout, validation, environment, binary discovery, and parsing of the
real captured outputs in the reference samples, fed through the record/replay seam (no binary needed)."""

from __future__ import annotations

import asyncio
import json
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_claude_sessions.errors import (
    BudgetExceededError,
    ClaudeEmptyOutputError,
    ClaudeNotFoundError,
    ClaudeProcessError,
    ClaudeResultError,
    ClaudeTimeoutError,
    ExecutorUsageError,
    InvalidSessionIdError,
    SessionNotFoundError,
)
from pytest_claude_sessions.executor.executor import ClaudeExecutor, StreamEvent
from pytest_claude_sessions.locate import find_claude_bin
from pytest_claude_sessions.models import CliCall, CliOutcome
from pytest_claude_sessions.store.tracker import SessionTracker

SAMPLES = Path(__file__).parent / "data" / "samples"  # real outputs of Claude Code 2.1.330

S1 = "13530587-ae0e-4e17-8473-cad43d4119bb"


def _sample(name: str) -> str:
    text = (SAMPLES / name).read_text(encoding="utf-8")  # in the repo: missing is a failure, not a skip
    if name.endswith(".json"):  # the samples are indented; the CLI prints one compact line
        return json.dumps(json.loads(text)) + "\n"
    return text


class Replay:
    """A minimal interceptor: answers every call with a fixed outcome and never calls ``proceed``."""

    def __init__(self, outcome: CliOutcome) -> None:
        self.outcome = outcome
        self.calls: list[CliCall] = []

    def intercept(self, call: CliCall, proceed: Callable[[CliCall], CliOutcome]) -> CliOutcome:
        self.calls.append(call)
        return self.outcome

    async def aintercept(self, call: CliCall, proceed: Any) -> CliOutcome:
        self.calls.append(call)
        return self.outcome


def _outcome(stdout: str, returncode: int | None = 0, stderr: str = "", **kw: Any) -> CliOutcome:
    return CliOutcome(returncode=returncode, stdout=stdout, stderr=stderr, elapsed=0.25, replayed=True, **kw)


@pytest.fixture
def no_bin_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environment where no claude binary can be found at all; returns a cwd to use."""
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    work = tmp_path / "work"
    work.mkdir()
    return work


def _executor(tmp_path: Path, **kw: Any) -> ClaudeExecutor:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    kw.setdefault("cwd", work)
    kw.setdefault("config_dir", tmp_path / "cfg")
    return ClaudeExecutor(**kw)


# --------------------------------------------------------------------------- argv and validation


def test_argv_puts_every_option_first_then_double_dash_then_the_prompt(tmp_path: Path) -> None:
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    ex = _executor(tmp_path, claude_bin=fake, model="sonnet", extra_args=["--add-dir", "/x"])
    prompt = '-x --resume foo -- "q"\nline ü'
    call = ex.build_call(
        prompt,
        resume=S1,
        fork=True,
        session_id="11111111-2222-4333-8444-555555555555",
        max_turns=3,
        allowed_tools=["Read", "Bash(git *)"],
        disallowed_tools="WebFetch",
        permission_mode="acceptEdits",
        system_prompt="-be brief\nreally",
        append_system_prompt="",
        output_format="stream-json",
        extra_args=["--effort", "low"],
    )
    assert call.argv == [
        str(fake), "-p", "--resume", S1, "--fork-session",
        "--session-id", "11111111-2222-4333-8444-555555555555", "--model", "sonnet", "--max-turns", "3",
        "--allowedTools", "Read,Bash(git *)", "--disallowedTools", "WebFetch",
        "--permission-mode", "acceptEdits",
        "--system-prompt=-be brief\nreally", "--append-system-prompt=", "--add-dir", "/x", "--effort", "low",
        "--output-format", "stream-json", "--verbose", "--", prompt,
    ]  # fmt: skip
    assert call.kind == "fork"
    assert call.prompt == prompt
    assert call.resume == S1
    assert call.fork
    assert call.options == {
        "model": "sonnet",
        "max_turns": 3,
        "allowed_tools": ["Bash(git *)", "Read"],
        "disallowed_tools": ["WebFetch"],
        "permission_mode": "acceptEdits",
        "system_prompt": "-be brief\nreally",
        "append_system_prompt": "",
        "extra_args": ["--add-dir", "/x", "--effort", "low"],
    }
    plain = ex.build_call("hi", continue_=True)
    assert plain.argv == [str(fake), "-p", "--continue", "--model", "sonnet", "--add-dir", "/x",
                          "--output-format", "json", "--", "hi"]  # fmt: skip
    assert plain.kind == "continue"
    assert ex.build_call("hi", resume=S1).kind == "resume"
    assert ex.build_call("hi").kind == "new"


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"fork": True}, ExecutorUsageError, "fork=True needs resume="),
        ({"resume": S1, "continue_": True}, ExecutorUsageError, "exclude each other"),
        (
            {"resume": S1, "session_id": "11111111-2222-4333-8444-555555555555"},
            ExecutorUsageError,
            "fork=True",
        ),
        ({"session_id": "not-a-uuid"}, InvalidSessionIdError, "not-a-uuid"),
        ({"resume": "-rf"}, ExecutorUsageError, "starts with '-'"),
        ({"resume": ""}, ExecutorUsageError, "resume is empty"),
        ({"output_format": "text"}, ExecutorUsageError, "output_format must be one of"),
        ({"on_event": print}, ExecutorUsageError, "on_event needs output_format='stream-json'"),
        ({"max_turns": 0}, ExecutorUsageError, "max_turns"),
        ({"timeout": -1}, ExecutorUsageError, "timeout must be a positive"),
        ({"extra_args": ["--resume=x"]}, ExecutorUsageError, "use resume="),
        ({"extra_args": ["--"]}, ExecutorUsageError, "may not contain '--'"),
        ({"allowed_tools": ["-Read"]}, ExecutorUsageError, "allowed_tools entry"),
        ({"model": "--x"}, ExecutorUsageError, "model"),
        ({"cwd": "/nonexistent/dir"}, ExecutorUsageError, "is not a directory"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], needle: str
) -> None:
    replay = Replay(_outcome(_sample("result_success.json")))
    ex = _executor(tmp_path, interceptor=replay)
    with pytest.raises(error, match=re.escape(needle)):
        ex.run("hello", **kwargs)
    assert replay.calls == []


@pytest.mark.parametrize("prompt", ["", "   ", "nul\x00byte"])
def test_unusable_prompts_are_refused(tmp_path: Path, prompt: str) -> None:
    with pytest.raises(ExecutorUsageError, match="prompt"):
        _executor(tmp_path).build_call(prompt)


def test_build_call_refuses_unknown_keywords_like_an_explicit_signature(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"build_call\(\) got unexpected keyword argument\(s\) 'resum'"):
        _executor(tmp_path).build_call("hi", resum=S1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="resum"):
        _executor(tmp_path).run("hi", resum=S1)  # type: ignore[call-arg]


def test_resume_and_fork_need_a_tracker_with_a_current_session(tmp_path: Path) -> None:
    with pytest.raises(ExecutorUsageError, match="no tracker is attached"):
        _executor(tmp_path).resume("hi")
    tracker = SessionTracker("agent-a", tmp_path / "sessions")
    with pytest.raises(SessionNotFoundError, match="no current session"):
        _executor(tmp_path, tracker=tracker).fork("hi")


# --------------------------------------------------------------------------- environment and isolation


def test_isolation_gives_the_cli_its_own_config_tmp_and_runtime_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INHERITED_MARKER", "kept")
    monkeypatch.setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "0")
    ex = _executor(tmp_path, env={"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "EXTRA": "1"})
    env = ex.build_env()
    assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path / "cfg")
    assert env["TMPDIR"] == str(tmp_path / "cfg-tmp")
    assert Path(env["XDG_RUNTIME_DIR"]).is_dir()
    assert stat.S_IMODE(Path(env["XDG_RUNTIME_DIR"]).stat().st_mode) == 0o700
    assert (tmp_path / "cfg").is_dir()
    assert (tmp_path / "cfg-tmp").is_dir()
    assert env["INHERITED_MARKER"] == "kept"  # laid over the inherited environment, not replacing it
    assert env["EXTRA"] == "1"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"  # a base URL override is in effect
    assert ex.config_dir == tmp_path / "cfg"
    assert ex.validator.config_dir == tmp_path / "cfg"

    # an explicit setting in env= wins over the automatic switch
    own = _executor(
        tmp_path, env={"ANTHROPIC_BASE_URL": "http://x", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "0"}
    )
    assert own.build_env()["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "0"


def test_default_isolation_uses_a_temporary_base_removed_by_close(tmp_path: Path) -> None:
    with ClaudeExecutor(cwd=tmp_path) as ex:
        base = ex.config_dir.parent
        assert base.name.startswith("claude-exec-")
        env = ex.build_env()
        assert Path(env["TMPDIR"]).parent == base
        assert Path(env["XDG_RUNTIME_DIR"]).is_dir()
    assert not base.exists()


def test_a_deep_config_dir_gets_a_short_runtime_dir_for_the_clis_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 90) / "cfg"
    ex = ClaudeExecutor(cwd=tmp_path, config_dir=deep)
    run = Path(ex.build_env()["XDG_RUNTIME_DIR"])
    assert len(str(run / "cc-socks" / "4194304.sock")) <= 107
    assert run.is_dir()
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    assert Path(ex.build_env()["TMPDIR"]) == deep.with_name("cfg-tmp")
    ex.close()
    assert not run.exists()
    assert deep.is_dir()  # a given config_dir is never removed


def test_an_unusable_config_dir_is_a_clear_error_and_leaks_no_temporary_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: Any, **kwargs: Any) -> str:
        path = str(real_mkdtemp(*args, **kwargs))
        made.append(Path(path))
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    deep = blocker / ("d" * 90) / "cfg"  # deep: the runtime dir gets a temporary stand-in first
    with pytest.raises(
        ExecutorUsageError, match=r"cannot create the CLI's isolated directories \(config .*a-file"
    ):
        ClaudeExecutor(cwd=tmp_path, config_dir=deep)
    assert len(made) == 1
    assert not made[0].exists()


def test_isolate_false_uses_the_real_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", "/tmp")
    ex = ClaudeExecutor(cwd=tmp_path, isolate=False)
    env = ex.build_env()
    assert "CLAUDE_CONFIG_DIR" not in env
    assert env["TMPDIR"] == "/tmp"
    assert ex.config_dir == Path.home() / ".claude"
    with pytest.raises(ExecutorUsageError, match="pass config_dir= instead"):
        ClaudeExecutor(cwd=tmp_path, env={"CLAUDE_CONFIG_DIR": str(tmp_path)})


# --------------------------------------------------------------------------- binary discovery


def _make_exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    path.chmod(0o755)
    return path


def test_discovery_order_argument_env_path_node_modules_sdk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    cwd = project / "src" / "pkg"
    cwd.mkdir(parents=True)
    explicit = _make_exe(tmp_path / "explicit" / "claude")
    from_env = _make_exe(tmp_path / "env" / "claude")
    on_path = _make_exe(tmp_path / "pathdir" / "claude")
    node = _make_exe(project / "node_modules" / ".bin" / "claude")
    sdk_root = tmp_path / "site"
    (sdk_root / "claude_agent_sdk").mkdir(parents=True)
    (sdk_root / "claude_agent_sdk" / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    bundled = _make_exe(sdk_root / "claude_agent_sdk" / "_bundled" / "claude")
    monkeypatch.syspath_prepend(str(sdk_root))

    env = {"CLAUDE_BIN": str(from_env), "PATH": str(on_path.parent)}
    assert find_claude_bin(explicit, env=env, cwd=cwd) == explicit
    assert find_claude_bin(None, env=env, cwd=cwd) == from_env
    assert find_claude_bin(None, env={"PATH": str(on_path.parent)}, cwd=cwd) == on_path
    assert find_claude_bin(None, env={"PATH": str(tmp_path / "none")}, cwd=cwd) == node
    node.unlink()
    assert find_claude_bin(None, env={"PATH": str(tmp_path / "none")}, cwd=cwd) == bundled
    assert "claude_agent_sdk" not in sys.modules  # found with find_spec, never imported
    bundled.unlink()
    with pytest.raises(ClaudeNotFoundError) as info:
        find_claude_bin(None, env={"PATH": str(tmp_path / "none")}, cwd=cwd)
    text = str(info.value)
    for needle in (
        "claude_bin argument: not given",
        "$CLAUDE_BIN: not set",
        f"PATH: {tmp_path / 'none'}",
        f"node_modules/.bin/claude or .claude-cli/node_modules/.bin/claude in cwd {cwd} and its parents",
        f"claude-agent-sdk bundled binary: {bundled}",
        "npm install @anthropic-ai/claude-code",
    ):
        assert needle in text
    # a bare command name is looked up on the given PATH
    assert find_claude_bin("claude", env={"PATH": str(on_path.parent)}, cwd=cwd) == on_path


def test_a_wrong_explicit_binary_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    _make_exe(tmp_path / "pathdir" / "claude")
    env = {"PATH": str(tmp_path / "pathdir")}
    with pytest.raises(ClaudeNotFoundError, match=r"claude_bin argument: .*nope \(not an executable file\)"):
        find_claude_bin(tmp_path / "nope", env=env, cwd=tmp_path)
    with pytest.raises(ClaudeNotFoundError, match=r"\$CLAUDE_BIN: .*missing \(not an executable file\)"):
        find_claude_bin(None, env={**env, "CLAUDE_BIN": str(tmp_path / "missing")}, cwd=tmp_path)


def test_binary_is_resolved_lazily_and_reported_only_by_a_live_call(no_bin_env: Path, tmp_path: Path) -> None:
    ex = ClaudeExecutor(cwd=no_bin_env, config_dir=tmp_path / "cfg")  # no error: nothing ran yet
    call = ex.build_call("hi")
    assert call.argv[0] == "claude"
    with pytest.raises(ClaudeNotFoundError, match="Searched") as info:
        ex.run("hi")
    (record,) = ex.history
    assert ex.failures == [record]
    assert (record.ok, record.raised, record.error_type) == (False, True, "ClaudeNotFoundError")
    assert record.error == f"ClaudeNotFoundError: {info.value}"
    assert record.exception is info.value
    assert (record.prompt, record.kind, record.session_id, record.result) == ("hi", "new", None, None)
    assert record.argv == call.argv
    assert record.elapsed >= 0
    assert record.started_at.tzinfo is not None
    # a tracker-less report can serialize it as it is
    dumped = json.loads(json.dumps(record.to_dict()))
    assert dumped["error_type"] == "ClaudeNotFoundError"
    assert dumped["raised"] is True
    assert dumped["prompt"] == "hi"
    assert "Searched" in dumped["error"]


def test_search_paths_find_project_local_installs_in_a_root_or_its_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    env = {"PATH": str(tmp_path / "none")}
    cwd = tmp_path / "tmp-test-dir"
    cwd.mkdir()
    project = tmp_path / "project"
    subdir = project / "tests" / "unit"
    subdir.mkdir(parents=True)
    pinned = _make_exe(project / ".claude-cli" / "node_modules" / ".bin" / "claude")
    assert find_claude_bin(None, env=env, cwd=cwd, roots=[subdir]) == pinned  # found from a subdir
    npm = _make_exe(project / "node_modules" / ".bin" / "claude")
    assert find_claude_bin(None, env=env, cwd=cwd, roots=[subdir]) == npm  # npm's wins in the same dir
    npm.unlink()
    pinned.unlink()
    other = _make_exe(tmp_path / "other" / "node_modules" / ".bin" / "claude")
    roots: list[str | Path] = [str(subdir), other.parents[2]]  # the first root with a binary wins
    assert find_claude_bin(None, env=env, cwd=cwd, roots=roots) == other
    with pytest.raises(ClaudeNotFoundError) as info:
        find_claude_bin(None, env=env, cwd=cwd, roots=[subdir])
    local = "node_modules/.bin/claude or .claude-cli/node_modules/.bin/claude"
    assert f"{local} in cwd {cwd} and its parents" in str(info.value)
    assert f"{local} in search path {subdir} and its parents" in str(info.value)
    assert info.value.searched.index(f"{local} in search path {subdir} and its parents") == 4


def test_executor_search_paths_reach_discovery_and_are_validated(no_bin_env: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    binary = _make_exe(project / ".claude-cli" / "node_modules" / ".bin" / "claude")
    ex = _executor(tmp_path, search_paths=[project / "tests"])
    assert ex.search_paths == (project / "tests",)
    assert ex.claude_bin == binary
    assert ex.cli_version() == "9.9.9"
    nowhere = _executor(tmp_path, search_paths=[tmp_path / "elsewhere"])
    with pytest.raises(ClaudeNotFoundError, match=r"in search path .*elsewhere and its parents"):
        nowhere.run("hi")
    with pytest.raises(ExecutorUsageError, match="search_paths must be a list of directories, not one path"):
        _executor(tmp_path, search_paths=str(project))
    with pytest.raises(ExecutorUsageError, match=r"search_paths\[1\] must be a non-empty path, got 3"):
        _executor(tmp_path, search_paths=[project, 3])


def test_a_guard_refusal_is_a_failure_record_of_the_resumed_session_and_no_step(
    no_bin_env: Path, tmp_path: Path
) -> None:
    tracker = SessionTracker("agent-guard", tmp_path / "sessions")
    tracker.update_session(S1, "earlier", "ok", kind="new")

    def budget(call: CliCall) -> None:
        raise BudgetExceededError(f"suite budget spent: refused {call.kind} call")

    ex = _executor(tmp_path, tracker=tracker, guards=[budget])
    with pytest.raises(BudgetExceededError):
        ex.resume("go on")
    with pytest.raises(BudgetExceededError):
        ex.fork("branch off")
    resumed, forked = ex.failures
    assert (resumed.kind, resumed.session_id, resumed.parent_session_id) == ("resume", S1, S1)
    assert (forked.kind, forked.session_id, forked.parent_session_id) == ("fork", None, S1)
    assert resumed.error == "BudgetExceededError: suite budget spent: refused resume call"
    assert resumed.argv[resumed.argv.index("--resume") :][:2] == ["--resume", S1]
    assert "--fork-session" in forked.argv
    # no step for a call that raised: the chain keeps the sessions that exist, resume() still targets S1
    assert [s.session_id for s in tracker.session_chain] == [S1]
    assert tracker.current_session_id == S1


def test_a_check_error_result_is_in_history_as_raised_with_its_result(
    no_bin_env: Path, tmp_path: Path
) -> None:
    replay = Replay(_outcome(_sample("result_error_500_no_retries.json"), returncode=1))
    ex = _executor(tmp_path, interceptor=replay, check=True)
    with pytest.raises(ClaudeResultError) as info:
        ex.run("hello")
    (record,) = ex.failures
    assert (record.raised, record.error_type, record.ok) == (True, "ClaudeResultError", False)
    assert record.result is info.value.result
    assert record.exception is info.value
    assert record.session_id is not None
    ok = _executor(tmp_path, interceptor=replay)
    ok.run("hello")  # returned, not raised: in history, not in failures
    assert [r.raised for r in ok.history] == [False]
    assert ok.failures == []


TRACEBACK_TEST = """
from pytest_claude_sessions.executor.executor import ClaudeExecutor


def test_without_a_cli(tmp_path, monkeypatch):
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    executor = ClaudeExecutor(cwd=tmp_path, config_dir=tmp_path / "cfg")
    executor.run("hello from the user's test")


def test_bad_argument(tmp_path):
    executor = ClaudeExecutor(cwd=tmp_path, config_dir=tmp_path / "cfg")
    executor.run("hi", max_turns=0)
"""


def test_a_not_found_traceback_shows_the_users_call_not_the_library(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=TRACEBACK_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            '>*executor.run("hello from the user\'s test")',
            "E*pytest_claude_sessions.errors.ClaudeNotFoundError: the claude CLI was not found. Searched:",
            "test_user.py:8: ClaudeNotFoundError",  # the user's line is the last frame shown
            '>*executor.run("hi", max_turns=0)',
            "E*pytest_claude_sessions.errors.ExecutorUsageError: max_turns must be a positive int, got 0",
            "test_user.py:13: ExecutorUsageError",
        ]
    )
    assert "in search path" not in text  # the executor got no search paths
    for internal in ("locate.py", "executor.py", "arguments.py", "raise ", "find_claude_bin(", "_spawn"):
        assert internal not in text, internal


# --------------------------------------------------------------------------- parsing real outputs via replay


def test_replayed_success_fills_every_field_without_a_binary(no_bin_env: Path, tmp_path: Path) -> None:
    replay = Replay(_outcome(_sample("result_success.json")))
    tracker = SessionTracker("agent-r", tmp_path / "sessions")
    ex = ClaudeExecutor(cwd=no_bin_env, config_dir=tmp_path / "cfg", interceptor=replay, tracker=tracker)
    result = ex.run("hello", model="claude-opus-5-5")
    assert result.ok
    assert result.replayed
    assert result.session_id == "0c7d1302-c4b6-4b31-8685-9c9c5dca1ced"
    assert result.result == "ECHO: hello [turn 1]"
    assert result.subtype == "success"
    assert result.terminal_reason == "completed"
    assert result.num_turns == 1
    assert result.duration_ms == 239
    assert result.duration_api_ms == 29
    assert result.total_cost_usd == pytest.approx(0.016716)
    assert result.cost_usd == pytest.approx(0.016716)  # a new session: its own cost is the total
    assert result.usage["input_tokens"] == 4119
    assert result.model_usage["claude-opus-5-5"]["costUSD"] == pytest.approx(0.016716)
    assert result.model == "claude-opus-5-5"
    assert result.stop_reason == "end_turn"
    assert result.kind == "new"
    assert result.parent_session_id is None
    assert result.transcript_path is None  # a replay writes no transcript
    assert result.cli_version is None  # not guessed from whatever binary happens to be installed
    assert result.argv[-2:] == ["--", "hello"]
    assert result.returncode == 0
    assert result.elapsed == 0.25
    assert result.raw["uuid"] == "219539ff-3e21-49ad-b97c-bcf663316048"
    (step,) = tracker.session_chain
    assert step.session_id == result.session_id
    assert step.kind == "new"
    assert step.cost_usd == pytest.approx(0.016716)
    assert step.metadata is not None
    assert step.metadata["replayed"] is True
    assert step.metadata["output_format"] == "json"
    assert ex.history[-1].ok
    assert ex.history[-1].replayed
    assert ex.execute_claude("hello")["session_id"] == result.session_id


def test_replayed_max_turns_has_no_result_and_check_raises(tmp_path: Path) -> None:
    replay = Replay(_outcome(_sample("result_error_max_turns.json"), returncode=1))
    ex = _executor(tmp_path, interceptor=replay)
    result = ex.run("loop")
    assert not result.ok
    assert result.is_error
    assert result.subtype == "error_max_turns"
    assert result.result is None
    assert result.errors == ["Reached maximum number of turns (2)"]
    assert result.error_message == "Reached maximum number of turns (2)"
    assert result.num_turns == 3
    with pytest.raises(ClaudeResultError, match="error_max_turns") as info:
        ex.run("loop", check=True)
    assert info.value.result.subtype == "error_max_turns"  # type: ignore[attr-defined]
    assert [h.ok for h in ex.history] == [False, False]


def test_replayed_api_error_reports_success_subtype_but_is_not_ok(tmp_path: Path) -> None:
    ex = _executor(
        tmp_path, interceptor=Replay(_outcome(_sample("result_error_500_no_retries.json"), 1)), check=True
    )
    with pytest.raises(ClaudeResultError, match="HTTP 500") as info:
        ex.run("hi")
    result = info.value.result
    assert result.subtype == "success"  # type: ignore[attr-defined]
    assert result.api_error_status == 500  # type: ignore[attr-defined]
    assert result.api_error_type == "api_error"  # type: ignore[attr-defined]
    assert result.terminal_reason == "api_error"  # type: ignore[attr-defined]


def test_replayed_stream_dispatches_events_in_order(tmp_path: Path) -> None:
    events: list[StreamEvent] = []
    ex = _executor(tmp_path, interceptor=Replay(_outcome(_sample("stream_json_tool_use.jsonl"))))
    result = ex.run("look around", output_format="stream-json", on_event=events.append)
    assert [e.type for e in events] == [e["type"] for e in result.events]
    assert events[0].type == "system"
    assert events[0].subtype == "init"
    assert events[-1].type == "result"
    assert [e.index for e in events] == list(range(len(events)))
    tool_events = [e for e in events if e.tool_names]
    assert tool_events
    assert tool_events[0].type == "assistant"
    assert result.cli_version == "2.1.330"  # from the init event
    assert result.session_id == "f27061bb-5a94-4749-b13f-844e72f79633"
    assert result.ok


@pytest.mark.parametrize(
    ("outcome", "error", "needle"),
    [
        (_outcome("", 0), ClaudeEmptyOutputError, "exited 0 but printed nothing"),
        (
            _outcome("", 1, "No conversation found with session ID: 99999999-2222-4333-8444-555555555555\n"),
            ClaudeProcessError,
            "No conversation found with session ID",
        ),
        (_outcome("Error: not json", 1), ClaudeProcessError, "without a JSON result"),
        (
            _outcome('{"type":"system"}', None, "partial", timed_out=True),
            ClaudeTimeoutError,
            "did not finish",
        ),
    ],
)
def test_replayed_failures_raise_the_same_errors_as_live_ones(
    tmp_path: Path, outcome: CliOutcome, error: type[Exception], needle: str
) -> None:
    ex = _executor(tmp_path, interceptor=Replay(outcome))
    with pytest.raises(error, match=needle) as info:
        ex.run("hi")
    assert info.value.stderr == outcome.stderr  # type: ignore[attr-defined]
    assert info.value.stdout == outcome.stdout  # type: ignore[attr-defined]
    assert ex.history[-1].ok is False


def test_fork_cost_is_the_delta_over_the_parents_total_from_the_tracker(tmp_path: Path) -> None:
    tracker = SessionTracker("agent-f", tmp_path / "sessions")
    tracker.update_session(S1, "earlier", "answer", kind="new", total_cost_usd=0.036304, cost_usd=0.036304)
    fork_line = json.loads(_sample("result_success.json"))
    fork_line.update(session_id="a02b54dc-67cc-4d65-b03f-94324021454f", total_cost_usd=0.054824)
    ex = _executor(tmp_path, tracker=tracker, interceptor=Replay(_outcome(json.dumps(fork_line))))
    result = ex.fork("what is my name?")
    assert result.kind == "fork"
    assert result.parent_session_id == S1
    assert result.cost_usd == pytest.approx(0.054824 - 0.036304)
    step = tracker.session_chain[-1]
    assert step.kind == "fork"
    assert step.parent_session_id == S1
    assert step.cost_usd == pytest.approx(0.01852)
    assert step.total_cost_usd == pytest.approx(0.054824)


def test_an_interceptor_is_used_even_when_it_is_falsy(no_bin_env: Path, tmp_path: Path) -> None:
    class Empty(Replay):
        def __len__(self) -> int:  # e.g. a cassette with no interactions recorded yet
            return 0

    replay = Empty(_outcome(_sample("result_success.json")))
    ex = ClaudeExecutor(cwd=no_bin_env, config_dir=tmp_path / "cfg", interceptor=replay)
    assert ex.run("hi").ok
    assert asyncio.run(ex.arun("hi")).ok
    assert len(replay.calls) == 2


def test_guards_run_before_a_live_spawn_only(tmp_path: Path) -> None:
    seen: list[CliCall] = []

    def budget(call: CliCall) -> None:
        seen.append(call)
        raise BudgetExceededError("suite budget spent")

    fake = _make_exe(tmp_path / "bin" / "claude")
    live = _executor(tmp_path, claude_bin=fake, guards=[budget])
    with pytest.raises(BudgetExceededError):
        live.run("hi")
    assert len(seen) == 1
    assert seen[0].prompt == "hi"
    replayed = _executor(
        tmp_path, guards=[budget], interceptor=Replay(_outcome(_sample("result_success.json")))
    )
    assert replayed.run("hi").ok
    assert len(seen) == 1


def test_a_result_with_an_odd_session_id_is_parsed_not_looked_up(tmp_path: Path) -> None:
    payload = json.loads(_sample("result_success.json"))
    payload["session_id"] = "../../etc/passwd"
    ex = _executor(tmp_path, interceptor=Replay(_outcome(json.dumps(payload))))
    result = ex.run("hi")
    assert result.session_id == "../../etc/passwd"
    assert result.transcript_path is None
