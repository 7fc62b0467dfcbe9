"""ClaudeExecutor against the real Claude Code CLI talking to the loopback Messages API stub."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_claude_sessions.errors import (
    ClaudeEmptyOutputError,
    ClaudeProcessError,
    ClaudeResultError,
    ClaudeTimeoutError,
)
from pytest_claude_sessions.executor.executor import ClaudeExecutor, StreamEvent
from pytest_claude_sessions.store.tracker import SessionTracker
from pytest_claude_sessions.stub.server import HttpError, MessagesStub, Stall, ToolUse


def _make(tmp_path: Path, claude_bin: Path, stub: MessagesStub, **kw: Any) -> ClaudeExecutor:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    kw.setdefault("cwd", work)
    kw.setdefault("config_dir", tmp_path / "cfg")
    kw.setdefault("timeout", 300)  # the product default: a loaded machine must never hit it
    env = {**stub.env(), **kw.pop("env", {})}
    return ClaudeExecutor(claude_bin, env=env, **kw)


# A timed-out call is killed at its timeout + at most 2 x TERM_GRACE + DRAIN_TIME (1.5 s); the bound
# checked is far above that, so a loaded machine (load 9 on 2 cores) never fails it, while a kill that
# never comes (the call running on to the stub's end) still does. The stall tests give the CLI STALL
# seconds, so even a slow start reaches the stub (and prints its init event) before the kill.
KILL_SLACK = 20.0
STALL = 8


def _gone(marker: str, within: float = 10.0) -> bool:
    """True once no process carries ``marker`` (a SIGKILLed process takes a moment to disappear)."""
    deadline = time.monotonic() + within
    while _pids_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _pids_with(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (the CLI and every child it spawned inherit it)."""
    needle = marker.encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_new_resume_continue_fork_and_session_id_keep_a_true_chain(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    tracker = SessionTracker("agent-chain", tmp_path / "sessions")
    ex = _make(tmp_path, claude_bin, api_stub, tracker=tracker)

    # --continue in a cwd without sessions: the CLI silently starts a new one
    first = ex.run("my name is Alice", continue_=True)
    assert first.ok
    assert first.kind == "continue"
    assert first.parent_session_id is None
    assert first.cost_usd == first.total_cost_usd
    assert first.total_cost_usd is not None
    assert first.total_cost_usd > 0
    s1 = first.session_id
    assert s1 is not None
    assert first.transcript_path == ex.validator.find_transcript(s1)
    assert first.transcript_path is not None
    assert first.cli_version == "2.1.330"

    # resume through the legacy entry point: same id, and the earlier turn went over the wire
    raw = ex.execute_claude("what is my name?", session_id=s1)
    assert raw["session_id"] == s1
    assert raw["result"].startswith("Your name is Alice.")
    assert api_stub.requests[-1].prompts == ("my name is Alice", "what is my name?")
    assert api_stub.requests[-1].session_id == s1
    second = ex.history[-1].result
    assert second is not None
    assert second.kind == "resume"
    assert second.parent_session_id == s1
    assert second.total_cost_usd is not None
    assert second.cost_usd == pytest.approx(second.total_cost_usd - first.total_cost_usd)

    third = ex.run("list my messages", continue_=True)
    assert third.session_id == s1
    assert third.kind == "continue"
    assert third.parent_session_id == s1
    assert third.result is not None
    assert "1. my name is Alice | 2. what is my name?" in third.result
    assert third.total_cost_usd is not None
    assert second.total_cost_usd is not None
    assert third.cost_usd == pytest.approx(third.total_cost_usd - second.total_cost_usd)

    fork = ex.fork("what is my name?")
    assert fork.kind == "fork"
    assert fork.session_id not in (None, s1)
    assert fork.parent_session_id == s1
    assert fork.result is not None
    assert fork.result.startswith("Your name is Alice.")
    assert fork.total_cost_usd is not None
    # cumulative: the fork's total includes the parent's; its own cost is only the new turn
    assert fork.total_cost_usd > third.total_cost_usd
    assert fork.cost_usd == pytest.approx(fork.total_cost_usd - third.total_cost_usd)
    assert api_stub.requests[-1].session_id == fork.session_id

    chosen = str(uuid.uuid4())
    named = ex.run("my name is Bob", session_id=chosen)
    assert named.session_id == chosen
    assert named.kind == "new"
    with pytest.raises(ClaudeProcessError, match="already in use") as reused:
        ex.run("again", session_id=chosen)
    assert reused.value.returncode == 1

    steps = tracker.session_chain
    assert [s.kind for s in steps] == ["new", "resume", "continue", "fork", "new"]
    assert [s.parent_session_id for s in steps] == [None, s1, s1, s1, None]
    assert [s.session_id for s in steps] == [s1, s1, s1, fork.session_id, chosen]
    for step, result in zip(steps, [first, second, third, fork, named], strict=True):
        assert step.cost_usd == pytest.approx(result.cost_usd)
        assert step.total_cost_usd == pytest.approx(result.total_cost_usd)
        assert step.cli_version == "2.1.330"
        assert step.transcript_path == str(result.transcript_path)
        assert step.metadata is not None
        assert step.metadata["leaf_uuid"]
    assert steps[0].metadata is not None
    assert steps[0].metadata["requested_kind"] == "continue"
    assert sum(s.cost_usd or 0 for s in steps[:4]) == pytest.approx(fork.total_cost_usd)

    # the CLI's own transcripts agree: each step continued the one before it
    for prev, nxt in itertools.pairwise(steps[:4]):
        assert prev.metadata is not None
        verdict = ex.validator.check_continuity(
            prev.session_id,
            nxt.session_id,
            working_dir=ex.cwd,
            previous_leaf_uuid=prev.metadata["leaf_uuid"],
            kind=nxt.kind,
        )
        assert verdict.ok, verdict.reason
    assert [h.ok for h in ex.history] == [True, True, True, True, True, False]


def test_resume_and_fork_follow_the_trackers_current_session_sync_and_async(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    tracker = SessionTracker("agent-follow", tmp_path / "sessions")
    ex = _make(tmp_path, claude_bin, api_stub, tracker=tracker)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # the legacy entry point with working_dir: a new session in that directory's project
    raw = ex.execute_claude("my name is Eve", working_dir=elsewhere)
    s1 = raw["session_id"]
    assert raw["result"] == "Nice to meet you, Eve! [turn 1]"
    first = ex.history[-1].result
    assert first is not None
    assert first.transcript_path is not None
    assert first.transcript_path.parent == ex.validator.project_dir(elsewhere)

    resumed = ex.resume("what is my name?", cwd=elsewhere)
    assert (resumed.kind, resumed.session_id, resumed.parent_session_id) == ("resume", s1, s1)
    assert resumed.result == "Your name is Eve. [turn 2]"

    async def follow() -> tuple[Any, Any]:
        forked = await ex.afork("list my messages", cwd=elsewhere)
        again = await ex.aresume("what is my name?", cwd=elsewhere)  # the fork is now current
        return forked, again

    forked, again = asyncio.run(follow())
    assert (forked.kind, forked.parent_session_id) == ("fork", s1)
    assert forked.session_id not in (None, s1)
    assert forked.result == "Earlier messages: 1. my name is Eve | 2. what is my name? [turn 3]"
    assert (again.kind, again.session_id, again.parent_session_id) == (
        "resume",
        forked.session_id,
        forked.session_id,
    )
    assert again.result == "Your name is Eve. [turn 4]"
    assert [s.kind for s in tracker.session_chain] == ["new", "resume", "fork", "resume"]


def test_missing_and_invalid_sessions_raise_with_the_clis_stderr(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    ex = _make(tmp_path, claude_bin, api_stub)
    missing = "99999999-2222-4333-8444-555555555555"
    with pytest.raises(ClaudeProcessError, match=f"No conversation found with session ID: {missing}") as info:
        ex.run("hi", resume=missing)
    assert info.value.returncode == 1
    assert info.value.stdout == ""
    assert "No conversation found" in info.value.stderr
    with pytest.raises(ClaudeProcessError, match="is not a UUID and does not match any session title"):
        ex.run("hi", resume="not-a-session")
    assert api_stub.message_requests == []
    # both calls are in the history a report reads, with what was asked and why it failed
    assert ex.failures == ex.history
    unknown, by_title = ex.history
    assert (unknown.ok, unknown.raised, unknown.error_type) == (False, True, "ClaudeProcessError")
    assert (unknown.kind, unknown.session_id, unknown.parent_session_id) == ("resume", missing, missing)
    assert unknown.prompt == "hi"
    assert unknown.argv[unknown.argv.index("--resume") + 1] == missing
    assert "No conversation found" in unknown.stderr
    assert unknown.error is not None
    assert unknown.error.startswith("ClaudeProcessError: the claude CLI exited with code 1")
    assert 0 < unknown.elapsed < 60
    assert (by_title.session_id, by_title.parent_session_id) == (None, "not-a-session")  # not an id


@pytest.mark.parametrize(
    ("status", "check"),
    [(401, False), (500, True), (529, False)],
)
def test_api_errors_are_results_with_is_error_and_raise_with_check(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, status: int, check: bool
) -> None:
    api_stub.enqueue(HttpError(status))
    tracker = SessionTracker("agent-err", tmp_path / "sessions")
    ex = _make(tmp_path, claude_bin, api_stub, check=check, tracker=tracker)
    if check:
        with pytest.raises(ClaudeResultError, match=f"HTTP {status}") as info:
            ex.run("hello")
        result: Any = info.value.result
    else:
        result = ex.run("hello")
    assert not result.ok
    assert result.is_error
    assert result.returncode == 1
    assert result.subtype == "success"  # API errors say "success": only is_error tells the truth
    assert result.api_error_status == status
    assert result.terminal_reason == "api_error"
    assert result.session_id is not None
    assert len(api_stub.message_requests) == 1  # CLAUDE_CODE_MAX_RETRIES=0
    assert ex.history[-1].ok is False
    # the failed call is still a step of the chain, marked as an error with its figures
    (step,) = tracker.session_chain
    assert (step.session_id, step.kind, step.is_error) == (result.session_id, "new", True)
    assert step.error == result.error_message
    assert step.error
    assert step.metadata is not None
    assert step.metadata["api_error_status"] == status
    assert step.cli_version == "2.1.330"
    assert step.num_turns == result.num_turns
    assert step.duration_ms == result.duration_ms


def test_max_turns_hit_in_a_tool_loop(tmp_path: Path, claude_bin: Path, api_stub: MessagesStub) -> None:
    ex = _make(tmp_path, claude_bin, api_stub)
    target = ex.cwd / "notes.txt"
    target.write_text("hello from the file\n")
    api_stub.responder = lambda conv: ToolUse("Read", {"file_path": str(target)})
    result = ex.run("keep reading", max_turns=1)
    assert not result.ok
    assert result.subtype == "error_max_turns"
    assert result.terminal_reason == "max_turns"
    assert result.result is None
    assert result.errors == ["Reached maximum number of turns (1)"]
    assert result.num_turns == 2
    assert "--max-turns" in result.argv


def test_a_stall_past_the_timeout_kills_the_whole_process_group(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    marker = f"PCS_EXECUTOR_TEST={uuid.uuid4().hex}"
    ex = _make(tmp_path, claude_bin, api_stub, env={"PCS_EXECUTOR_TEST": marker.split("=")[1]}, timeout=STALL)
    api_stub.enqueue(Stall())
    alive: list[int] = []

    def on_event(event: StreamEvent) -> None:
        if event.subtype == "init":
            alive.extend(_pids_with(marker))

    start = time.monotonic()
    with pytest.raises(ClaudeTimeoutError, match=f"did not finish within {STALL}s") as info:
        ex.run("hang please", output_format="stream-json", on_event=on_event)
    elapsed = time.monotonic() - start
    assert STALL <= elapsed < STALL + KILL_SLACK
    assert alive  # the scan does see the CLI while it runs
    assert _gone(marker)
    assert '"subtype":"init"' in info.value.stdout  # partial output is kept
    assert info.value.returncode is None
    (record,) = ex.failures
    assert (record.ok, record.raised, record.error_type, record.kind) == (
        False,
        True,
        "ClaudeTimeoutError",
        "new",
    )
    assert record.session_id is not None  # announced by the partial stream's init event
    assert f'"session_id":"{record.session_id}"' in info.value.stdout
    assert api_stub.message_requests[-1].session_id == record.session_id
    assert STALL <= record.elapsed < STALL + KILL_SLACK


def test_a_resume_that_times_out_is_a_failure_of_that_session_and_the_chain_goes_on(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    tracker = SessionTracker("agent-stall", tmp_path / "sessions")
    ex = _make(tmp_path, claude_bin, api_stub, tracker=tracker)
    first = ex.run("my name is Ada")
    api_stub.enqueue(Stall())
    with pytest.raises(ClaudeTimeoutError, match=f"did not finish within {STALL}s"):
        ex.resume("what is my name?", timeout=STALL)
    # On a loaded machine the killed CLI may not have reached the stub: its stall must not be left queued
    # for the next call (which then hung until its own timeout: the failure seen at load 5-9).
    api_stub.reset()
    (record,) = ex.failures
    assert (record.kind, record.session_id) == ("resume", first.session_id)
    assert record.parent_session_id == first.session_id
    assert record.error_type == "ClaudeTimeoutError"
    assert record.prompt == "what is my name?"
    assert [r.raised for r in ex.history] == [False, True]
    # no step for the call that raised: resume() still continues the session that exists
    assert [s.session_id for s in tracker.session_chain] == [first.session_id]
    again = ex.resume("what is my name?")
    assert again.ok
    assert again.session_id == first.session_id
    assert again.result is not None and "Ada" in again.result
    assert [s.kind for s in tracker.session_chain] == ["new", "resume"]


@pytest.mark.parametrize("local", ["node_modules/.bin", ".claude-cli/node_modules/.bin"])
def test_search_paths_find_the_real_cli_in_a_projects_local_install(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, monkeypatch: pytest.MonkeyPatch, local: str
) -> None:
    # The test runs in a temporary cwd; the CLI sits in the project, found only through search_paths.
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    monkeypatch.setenv("PATH", os.pathsep.join(d for d in dirs if d and not (Path(d) / "claude").exists()))
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    linked = project / local / "claude"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(claude_bin)
    ex = ClaudeExecutor(
        cwd=tmp_path, config_dir=tmp_path / "cfg", env=api_stub.env(), timeout=60,
        search_paths=[project / "tests"],
    )  # fmt: skip
    assert ex.claude_bin == linked
    result = ex.run("hello")
    assert result.ok
    assert result.cli_version == "2.1.330"
    assert result.argv[0] == str(linked)


def test_sigint_exits_0_but_the_call_is_never_a_success(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    marker = uuid.uuid4().hex
    ex = _make(tmp_path, claude_bin, api_stub, env={"PCS_EXECUTOR_TEST": marker}, check=True)
    api_stub.enqueue(Stall(before_headers=True))
    sent: list[int] = []

    def interrupt() -> None:
        # the CLI is our direct child (a single binary): interrupt it once its request hangs in the stub
        api_stub.wait_for_requests(1, timeout=30)
        for pid in _pids_with(f"PCS_EXECUTOR_TEST={marker}"):
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                os.kill(pid, signal.SIGINT)
                sent.append(pid)

    helper = threading.Thread(target=interrupt)
    helper.start()
    try:
        with pytest.raises((ClaudeEmptyOutputError, ClaudeResultError)) as info:
            ex.run("hang until interrupted")
    finally:
        helper.join(timeout=30)
    assert len(sent) == 1
    # CLI 2.1.330 exits 0 either way; which of the two it prints is a race inside the CLI
    if isinstance(info.value, ClaudeEmptyOutputError):
        assert "exited 0 but printed nothing" in str(info.value)
        assert (info.value.returncode, info.value.stdout) == (0, "")
    else:
        assert isinstance(info.value, ClaudeResultError)
        result: Any = info.value.result
        assert (result.returncode, result.is_error, result.ok) == (0, True, False)
        assert result.terminal_reason == "aborted_streaming"
    assert ex.history[-1].ok is False


@pytest.mark.parametrize(
    "prompt",
    [
        "-x foo",
        "--output-format text --resume 1 -- \"double\" 'single' `tick` $HOME \\n",
        "line one\nline two\n\n  indented ünïcødé 😀 中文 -- end",
    ],
)
def test_prompts_reach_the_api_verbatim(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, prompt: str
) -> None:
    ex = _make(tmp_path, claude_bin, api_stub)
    result = ex.run(
        prompt,
        model="claude-test-model",
        append_system_prompt="-be terse\nsecond line",
        disallowed_tools=["Edit", "Write"],
    )
    assert result.ok, result.error_message
    request = api_stub.message_requests[-1]
    assert request.prompt == prompt
    assert request.model == "claude-test-model"
    assert result.model == "claude-test-model"
    assert request.body is not None
    system_text = "\n".join(block.get("text", "") for block in request.body["system"])
    assert system_text.endswith("-be terse\nsecond line")
    tools = {tool.get("name") for tool in request.body["tools"]}
    assert "Read" in tools
    assert not tools & {"Edit", "Write"}
    assert result.result == f"ECHO: {prompt} [turn 1]"


def test_stream_json_hands_events_to_on_event_as_they_arrive(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    ex = _make(tmp_path, claude_bin, api_stub)
    target = ex.cwd / "data.txt"
    target.write_text("forty-two\n")
    api_stub.add_rule("read the data", ToolUse("Read", {"file_path": str(target)}, text="Reading."))
    events: list[StreamEvent] = []
    result = ex.run("please read the data", output_format="stream-json", on_event=events.append)
    assert result.ok
    assert result.result is not None
    assert "forty-two" in result.result
    assert (events[0].type, events[0].subtype) == ("system", "init")
    assert events[-1].type == "result"
    assert [e.raw for e in events] == result.events
    assert [e.index for e in events] == list(range(len(events)))
    elapsed = [e.elapsed for e in events]
    assert elapsed == sorted(elapsed)
    assert elapsed[-1] <= result.elapsed
    kinds = [e.type for e in events]
    tool_at = next(i for i, e in enumerate(events) if e.tool_names == ("Read",))
    assert events[tool_at].type == "assistant"
    assert "user" in kinds[tool_at:]  # the tool result came back after the call
    assert result.num_turns == 2
    assert "--verbose" in result.argv


def test_arun_runs_calls_concurrently_without_blocking_the_loop(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    ex = _make(tmp_path, claude_bin, api_stub)
    gaps: list[float] = []
    seen: list[str] = []

    async def on_event(event: StreamEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event.type)

    async def main() -> tuple[Any, ...]:
        stop = asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        try:
            return await asyncio.gather(
                ex.arun("my name is Ann"),
                ex.arun("my name is Ben", output_format="stream-json", on_event=on_event),
                ex.arun("my name is Cy"),
            )
        finally:
            stop.set()
            await tick

    start = time.monotonic()
    results = asyncio.run(main())
    wall = time.monotonic() - start
    assert [r.result.split("!")[0] for r in results] == [
        "Nice to meet you, Ann",
        "Nice to meet you, Ben",
        "Nice to meet you, Cy",
    ]
    assert len({r.session_id for r in results}) == 3
    assert seen[0] == "system"
    assert seen[-1] == "result"
    assert results[1].events[-1]["type"] == "result"
    # the loop kept ticking while three CLIs ran: a blocking call would leave a gap as long as a whole call
    assert len(gaps) > 10
    assert max(gaps) < min(r.elapsed for r in results)
    assert max(gaps) < wall / 2


def test_sync_run_works_inside_a_running_event_loop(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    ex = _make(tmp_path, claude_bin, api_stub)

    async def agent_code() -> str | None:
        asyncio.get_running_loop()  # a sync call from async code must not try to start another loop
        return ex.run("my name is Dee").result

    assert asyncio.run(agent_code()) == "Nice to meet you, Dee! [turn 1]"


def test_arun_timeout_kills_the_process_group(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    marker = uuid.uuid4().hex
    ex = _make(tmp_path, claude_bin, api_stub, env={"PCS_EXECUTOR_TEST": marker}, timeout=3)
    api_stub.enqueue(Stall())
    start = time.monotonic()
    with pytest.raises(ClaudeTimeoutError):
        asyncio.run(ex.arun("hang please"))
    assert time.monotonic() - start < 3 + KILL_SLACK
    assert _gone(f"PCS_EXECUTOR_TEST={marker}")
    (record,) = ex.failures  # the async path records a call that raised just like run()
    assert (record.prompt, record.kind, record.error_type) == ("hang please", "new", "ClaudeTimeoutError")
    assert record.session_id is None  # json format: nothing announced the new session before the stall
    assert 3 <= record.elapsed < 3 + KILL_SLACK


def test_isolation_keeps_the_real_home_untouched(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "w"
    work.mkdir()
    with ClaudeExecutor(claude_bin, cwd=work, env=api_stub.env(), timeout=60) as ex:
        env = ex.build_env()
        result = ex.run("hello", output_format="stream-json")
        assert result.ok
        init = result.events[0]
        assert init["subtype"] == "init"
        # the messaging socket lives in our runtime dir, not in the shared /tmp/cc-socks-<uid>
        assert init["messaging_socket_path"].startswith(env["XDG_RUNTIME_DIR"] + "/")
        assert result.transcript_path is not None
        assert result.transcript_path.is_relative_to(ex.config_dir)
        assert (ex.config_dir / ".claude.json").is_file()
        assert any(Path(env["TMPDIR"]).iterdir())  # the CLI's temp files went to our TMPDIR
        base = ex.config_dir.parent
    assert sorted(p.name for p in home.iterdir()) == []  # nothing written to the "real" ~/.claude
    assert list(work.iterdir()) == []  # nor into the cwd
    assert not base.exists()


def test_without_a_transcript_the_version_comes_from_the_binary(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    tracker = SessionTracker("agent-np", tmp_path / "sessions")
    ex = _make(tmp_path, claude_bin, api_stub, tracker=tracker)
    result = ex.run("hello", extra_args=["--no-session-persistence"])
    assert result.ok
    assert result.session_id is not None
    assert result.transcript_path is None  # the CLI wrote nothing
    assert result.cli_version == "2.1.330"  # from `claude --version`, run once
    assert ex.cli_version() == "2.1.330"
    (step,) = tracker.session_chain
    assert step.transcript_path is None
    assert step.metadata is not None
    assert step.metadata["leaf_uuid"] is None
