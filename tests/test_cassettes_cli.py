"""Record with the real Claude CLI against the stub, replay with no binary: every mode, errors and redaction.

A module fixture records one chain (new -> resume -> fork in stream-json) once; the replay tests each copy
that cassette. Live CLI calls are kept few (~13 in this file), each ~0.5 s.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_claude_sessions.cassettes.files import atomic_write_text, dump_cassette, load_cassette_data
from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor, use_cassette
from pytest_claude_sessions.errors import (
    CassetteMismatchError,
    CassetteMissError,
    CassetteUnusedError,
    CassetteVersionWarning,
    ClaudeNotFoundError,
    ClaudeProcessError,
)
from pytest_claude_sessions.executor.executor import CallInterceptor, ClaudeExecutor
from pytest_claude_sessions.models import ClaudeResult, CliCall, CliOutcome
from pytest_claude_sessions.plugin.cassette_item import section_text
from pytest_claude_sessions.store.tracker import SessionTracker
from pytest_claude_sessions.stub.server import HttpError, MessagesStub

NOWHERE = "/nonexistent/bin/claude"


@dataclass
class Recording:
    cassette: Path
    results: list[ClaudeResult]
    events: list[str]  # event types on_event saw live
    slim: Path  # the same calls recorded with the default (slim) cassette


class _Both:
    """Records each live call into two cassettes at once (no extra CLI calls for the slim variant)."""

    def __init__(self, outer: CassetteInterceptor, inner: CassetteInterceptor) -> None:
        self.outer, self.inner = outer, inner

    def intercept(self, call: CliCall, proceed: Callable[[CliCall], CliOutcome]) -> CliOutcome:
        return self.outer.intercept(call, lambda c: self.inner.intercept(c, proceed))

    async def aintercept(
        self, call: CliCall, proceed: Callable[[CliCall], Awaitable[CliOutcome]]
    ) -> CliOutcome:
        raise NotImplementedError


def _live(claude_bin: Path, stub: MessagesStub, root: Path, cassette: CallInterceptor) -> ClaudeExecutor:
    root.mkdir(parents=True, exist_ok=True)
    return ClaudeExecutor(
        claude_bin, cwd=root, config_dir=root / "cfg", env=stub.env(), timeout=60, interceptor=cassette
    )


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory, claude_bin: Path) -> Recording:
    """One chain recorded live: new (json), resume (json), fork (stream-json)."""
    root = tmp_path_factory.mktemp("record")
    path = root / "cassettes" / "chain.json"
    events: list[str] = []
    slim_path = root / "cassettes" / "chain-slim.json"
    with MessagesStub() as stub:
        cassette = CassetteInterceptor(path, mode="once", node_id="tests/x.py::test_chain", slim=False)
        slim = CassetteInterceptor(slim_path, mode="once")  # slim is the default
        ex = _live(claude_bin, stub, root / "work", _Both(slim, cassette))
        r1 = ex.run("my name is Alice")
        r2 = ex.run("what is my name?", resume=r1.session_id)
        r3 = ex.run(
            "what is my name?",
            resume=r1.session_id,
            fork=True,
            output_format="stream-json",
            on_event=lambda e: events.append(e.type),
        )
        report = cassette.finish()
        assert slim.finish().saved
    assert report.saved and report.recorded == 3
    assert r2.result is not None and "Alice" in r2.result
    return Recording(path, [r1, r2, r3], events, slim_path)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """An environment where no claude binary, no node and no API can be reached."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("CLAUDE_BIN", NOWHERE)
    return {"PATH": str(empty), "CLAUDE_BIN": NOWHERE, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}


def _copy(recording: Recording, tmp_path: Path) -> Path:
    target = tmp_path / "cassettes" / "chain.json"
    target.parent.mkdir(parents=True)
    shutil.copy(recording.cassette, target)
    return target


def _replayer(
    tmp_path: Path, cassette: CassetteInterceptor, env: dict[str, str], **kw: Any
) -> ClaudeExecutor:
    work = tmp_path / "replay work"  # a space, and a different cwd than at record time
    work.mkdir()
    return ClaudeExecutor(NOWHERE, cwd=work, config_dir=work / "cfg", env=env, interceptor=cassette, **kw)


def _replay_chain(ex: ClaudeExecutor, on_event: Any = None) -> list[ClaudeResult]:
    r1 = ex.run("my name is Alice")
    r2 = ex.run("what is my name?", resume=r1.session_id)
    r3 = ex.run(
        "what is my name?", resume=r1.session_id, fork=True, output_format="stream-json", on_event=on_event
    )
    return [r1, r2, r3]


# --------------------------------------------------------------------------- replay without a binary


def test_replay_needs_no_binary_and_keeps_continuity(
    recording: Recording, tmp_path: Path, offline: dict[str, str]
) -> None:
    path = _copy(recording, tmp_path)
    tracker = SessionTracker("replay-agent", tmp_path / "store")
    events: list[str] = []
    cassette = CassetteInterceptor(path)  # mode "none": the default
    ex = _replayer(tmp_path, cassette, offline, tracker=tracker)
    with pytest.raises(ClaudeNotFoundError):
        _ = ex.claude_bin  # really no binary to be found here
    results = _replay_chain(ex, on_event=lambda e: events.append(e.type))

    for live, replayed in zip(recording.results, results, strict=True):
        assert replayed.replayed and not live.replayed
        assert (replayed.session_id, replayed.result, replayed.kind) == (
            live.session_id,
            live.result,
            live.kind,
        )
        assert replayed.parent_session_id == live.parent_session_id
        assert replayed.total_cost_usd == live.total_cost_usd
        assert replayed.cost_usd == pytest.approx(live.cost_usd)
        assert replayed.transcript_path is not None and replayed.transcript_path.is_relative_to(ex.config_dir)
    assert results[2].session_id != results[0].session_id  # the fork has its own id, as recorded
    assert events == recording.events and events[0] == "system" and events[-1] == "result"

    # the validator and the tracker see what a live run gives
    v = ex.validator
    assert v.check_continuity(results[0].session_id, results[1].session_id, working_dir=ex.cwd, kind="resume")
    assert v.check_continuity(results[0].session_id, results[2].session_id, working_dir=ex.cwd, kind="fork")
    steps = tracker.session_chain
    assert [s.kind for s in steps] == ["new", "resume", "fork"]
    assert [s.parent_session_id for s in steps] == [None, results[0].session_id, results[0].session_id]
    assert [s.metadata["replayed"] for s in steps if s.metadata] == [True, True, True]
    assert steps[0].cost_usd == pytest.approx(results[0].total_cost_usd)
    assert steps[1].cost_usd == pytest.approx(results[1].total_cost_usd - results[0].total_cost_usd)
    assert all(s.cost_usd is not None and s.cost_usd > 0 for s in steps)
    verdicts = v.check_chain(steps, working_dir=ex.cwd)
    assert all(verdicts), [x.reason for x in verdicts]
    assert cassette.finish().replayed == 3


def test_async_replay(recording: Recording, tmp_path: Path, offline: dict[str, str]) -> None:
    cassette = CassetteInterceptor(_copy(recording, tmp_path))
    ex = _replayer(tmp_path, cassette, offline)

    async def chain() -> list[ClaudeResult]:
        r1 = await ex.arun("my name is Alice")
        r2 = await ex.arun("what is my name?", resume=r1.session_id)
        r3 = await ex.arun("what is my name?", resume=r1.session_id, fork=True, output_format="stream-json")
        return [r1, r2, r3]

    results = asyncio.run(chain())
    assert [r.result for r in results] == [r.result for r in recording.results]
    assert cassette.finish().unused == []


def test_cassette_holds_placeholders_not_machine_paths(recording: Recording) -> None:
    text = recording.cassette.read_text(encoding="utf-8")
    work = str(recording.cassette.parent.parent / "work")
    assert work not in text
    assert "{{PCS_CWD}}" in text and "{{PCS_CWD_PROJECT}}" in text and "{{PCS_CONFIG_DIR}}" in text
    assert str(Path.home()) + "/" not in text
    data = load_cassette_data(recording.cassette)
    assert data is not None
    header = data["header"]
    assert header["cli_version"] == recording.results[0].cli_version and header["cli_version"]
    assert header["plugin_version"] and data["version"] == 1
    assert header["model"] and header["node_id"] == "tests/x.py::test_chain" and header["recorded_at"]
    kinds = [i["request"]["kind"] for i in data["interactions"]]
    assert kinds == ["new", "resume", "fork"]
    assert "lines" in data["interactions"][2]["response"]["stdout"]  # stream-json kept as events


# --------------------------------------------------------------------------- matching and misses


def test_changed_prompt_fails_with_a_diff(
    recording: Recording, tmp_path: Path, offline: dict[str, str]
) -> None:
    path = _copy(recording, tmp_path)
    cassette = CassetteInterceptor(path, record_command="pytest 'tests/x.py::test_chain'")
    ex = _replayer(tmp_path, cassette, offline)
    with pytest.raises(CassetteMismatchError) as info:
        ex.run("my name is Bob")
    message = str(info.value)
    assert str(path) in message and "call #1" in message and "differing on: prompt" in message
    assert '-  "prompt": "my name is Alice",' in message and '+  "prompt": "my name is Bob",' in message
    assert "pytest 'tests/x.py::test_chain' --claude-record-mode=rewrite" in message
    assert ex.history[-1].ok is False  # the executor saw the call fail


def test_changed_flag_fails_and_match_on_can_ignore_it(
    recording: Recording, tmp_path: Path, offline: dict[str, str]
) -> None:
    path = _copy(recording, tmp_path)
    ex = _replayer(tmp_path, CassetteInterceptor(path), offline)
    with pytest.raises(CassetteMismatchError, match="differing on: options"):
        ex.run("my name is Alice", max_turns=3)
    loose = CassetteInterceptor(path, match_on=["order", "prompt"], allow_unused=True)
    ex.interceptor = loose
    assert ex.run("my name is Alice", max_turns=3).replayed


def test_extra_call_is_a_miss_naming_the_command(
    recording: Recording, tmp_path: Path, offline: dict[str, str]
) -> None:
    cassette = CassetteInterceptor(_copy(recording, tmp_path), record_command="pytest t.py::x")
    ex = _replayer(tmp_path, cassette, offline)
    _replay_chain(ex)
    with pytest.raises(CassetteMissError, match=r"call #4 has no recorded interaction left") as info:
        ex.run("one more")
    assert "pytest t.py::x --claude-record-mode=new_episodes" in str(info.value)


def test_use_cassette_hints_name_the_mode_argument_not_the_plugin_env(
    tmp_path: Path, offline: dict[str, str]
) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(CassetteMissError) as info, use_cassette(path) as cassette:
        _replayer(tmp_path, cassette, offline).run("hello")
    message = str(info.value)
    assert "use_cassette(..., mode='once')" in message  # the env var does not apply to use_cassette
    assert "PYTEST_CLAUDE_RECORD_MODE" not in message
    assert not path.exists()


def test_missing_cassette_in_none_mode(tmp_path: Path, offline: dict[str, str]) -> None:
    path = tmp_path / "cassettes" / "absent.json"
    cassette = CassetteInterceptor(path, record_command="pytest 'a b.py::t[x]'")
    ex = _replayer(tmp_path, cassette, offline)
    with pytest.raises(CassetteMissError) as info:
        ex.run("hello")
    assert f"{path} does not exist" in str(info.value)
    assert "pytest 'a b.py::t[x]' --claude-record-mode=once" in str(info.value)
    assert not path.exists()


def test_unused_interactions_fail_at_finish(
    recording: Recording, tmp_path: Path, offline: dict[str, str]
) -> None:
    path = _copy(recording, tmp_path)
    cassette = CassetteInterceptor(path)
    _replayer(tmp_path, cassette, offline).run("my name is Alice")
    with pytest.raises(CassetteUnusedError, match=r"#2, #3 of 3 were never replayed"):
        cassette.finish()
    tolerant = CassetteInterceptor(path, allow_unused=True)
    tolerant.finish()  # nothing replayed, nothing raised


def test_swallowed_miss_still_fails_at_finish(tmp_path: Path, offline: dict[str, str]) -> None:
    cassette = CassetteInterceptor(tmp_path / "none.json")
    ex = _replayer(tmp_path, cassette, offline)
    with pytest.raises(CassetteMissError):
        ex.run("hello")
    with pytest.raises(CassetteMissError):  # the test caught it; the cassette still reports it
        cassette.finish()


# --------------------------------------------------------------------------- record modes (live)


def test_once_replays_when_the_cassette_exists(
    recording: Recording, tmp_path: Path, api_stub: MessagesStub
) -> None:
    path = _copy(recording, tmp_path)
    before = path.read_bytes()
    cassette = CassetteInterceptor(path, mode="once")
    ex = _replayer(tmp_path, cassette, api_stub.env())
    assert [r.result for r in _replay_chain(ex)] == [r.result for r in recording.results]
    assert api_stub.requests == []  # not one request reached the API
    cassette.finish()
    assert path.read_bytes() == before


def _as_if_recorded_with(path: Path, version: str) -> None:
    """Rewrite a cassette's CLI version (header and interactions) as if an older CLI had recorded it."""
    data = load_cassette_data(path)
    assert data is not None
    data["header"]["cli_version"] = version
    for interaction in data["interactions"]:
        interaction["cli_version"] = version
    atomic_write_text(path, dump_cassette(data))


def test_new_episodes_appends_and_then_replays(
    recording: Recording, tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, offline: dict[str, str]
) -> None:
    path = _copy(recording, tmp_path)
    _as_if_recorded_with(path, "2.0.0-old")
    cassette = CassetteInterceptor(path, mode="new_episodes", record_command="pytest t.py::x")
    ex = _live(claude_bin, api_stub, tmp_path / "live", cassette)
    results = _replay_chain(ex)
    with pytest.warns(CassetteVersionWarning) as warned:  # appending mixes CLI versions: say so
        extra = ex.run("list my messages", resume=results[0].session_id)  # live, after 2 replayed turns
    assert len(warned) == 1
    message = str(warned[0].message)
    assert str(path) in message and "Claude CLI 2.0.0-old" in message and "new_episodes" in message
    assert f"the installed CLI is {extra.cli_version}" in message and extra.cli_version
    assert "pytest t.py::x --claude-record-mode=rewrite" in message
    assert len(api_stub.requests) == 1 and not extra.replayed
    assert extra.result is not None and "my name is Alice" in extra.result  # the replayed history reached it
    report = cassette.finish()
    assert report.saved and (report.replayed, report.recorded) == (3, 1)
    assert report.cli_version == extra.cli_version  # the header names the newest recording CLI
    assert report.cli_versions == sorted(["2.0.0-old", extra.cli_version])
    data = load_cassette_data(path)
    assert data is not None and len(data["interactions"]) == 4

    again = CassetteInterceptor(path)
    ex2 = _replayer(tmp_path, again, offline)
    r = _replay_chain(ex2)
    assert ex2.run("list my messages", resume=r[0].session_id).result == extra.result
    assert ex2.validator.validate_session_file(r[0].session_id, working_dir=ex2.cwd) == (True, None)
    again.finish()


def test_new_episodes_heals_a_changed_call_instead_of_failing_every_later_run(
    recording: Recording, tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, offline: dict[str, str]
) -> None:
    path = _copy(recording, tmp_path)
    changed = "and what is my name in the fork?"

    def chain(ex: ClaudeExecutor) -> list[ClaudeResult]:
        r1 = ex.run("my name is Alice")
        r2 = ex.run("what is my name?", resume=r1.session_id)
        r3 = ex.run(changed, resume=r1.session_id, fork=True, output_format="stream-json")
        return [r1, r2, r3]

    cassette = CassetteInterceptor(path, mode="new_episodes", record_command="pytest t.py::x")
    live = chain(_live(claude_bin, api_stub, tmp_path / "live", cassette))
    assert [r.replayed for r in live] == [True, True, False] and len(api_stub.requests) == 1
    report = cassette.finish()  # the stale fork (#3) is superseded: not unused, dropped on save
    assert report.saved and (report.replayed, report.recorded) == (2, 1)
    assert (report.unused, report.superseded) == ([], [3])
    assert "superseded (re-recorded at the same position, dropped on save): #3" in section_text(report)
    data = load_cassette_data(path)
    assert data is not None
    prompts = [i["request"]["prompt"] for i in data["interactions"]]
    assert prompts == ["my name is Alice", "what is my name?", changed]

    again = CassetteInterceptor(path)  # every later run replays green, with no CLI
    replayed = chain(_replayer(tmp_path, again, offline))
    assert all(r.replayed for r in replayed) and replayed[2].result == live[2].result
    assert again.finish().unused == []


def _recorded_once(tmp_path: Path, claude_bin: Path, stub: MessagesStub) -> Path:
    """A cassette of one live call ("hello there"), recorded in mode ``once``."""
    path = tmp_path / "c.json"
    first = CassetteInterceptor(path, mode="once")
    _live(claude_bin, stub, tmp_path / "a", first).run("hello there")
    first.finish()
    return path


def test_all_always_calls_the_cli_and_replaces(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    path = _recorded_once(tmp_path, claude_bin, api_stub)
    old = load_cassette_data(path)
    second = CassetteInterceptor(path, mode="all")
    r = _live(claude_bin, api_stub, tmp_path / "b", second).run("hello there")
    assert not r.replayed and len(api_stub.requests) == 2
    assert second.finish().saved
    new = load_cassette_data(path)
    assert old is not None and new is not None and len(new["interactions"]) == 1
    assert new["interactions"][0]["id"] != old["interactions"][0]["id"]
    # "all" keeps the old cassette when the run fails
    third = CassetteInterceptor(path, mode="all")
    assert third.finish(failed=True).saved is False and path.exists()


def test_rewrite_keeps_the_old_cassette_until_a_passing_run_saves(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    path = _recorded_once(tmp_path, claude_bin, api_stub)
    _as_if_recorded_with(path, "2.0.0-old")
    before = path.read_bytes()

    failing = CassetteInterceptor(path, mode="rewrite")
    assert failing.interactions == [] and path.read_bytes() == before  # nothing is deleted up front
    with pytest.warns(CassetteVersionWarning):
        _live(claude_bin, api_stub, tmp_path / "b", failing).run("hello there")
    report = failing.finish(failed=True)
    assert not report.saved and report.not_saved_reason is not None
    assert "the old cassette is kept" in report.not_saved_reason and path.read_bytes() == before
    skipped = CassetteInterceptor(path, mode="rewrite").finish(skipped=True)
    assert skipped.not_saved_reason == "the test was skipped; the old cassette is kept"
    assert path.read_bytes() == before

    passing = CassetteInterceptor(path, mode="rewrite")
    with pytest.warns(CassetteVersionWarning, match=r"recorded with Claude CLI 2\.0\.0-old; record mode"):
        live = _live(claude_bin, api_stub, tmp_path / "c", passing).run("hello again")
    saved = passing.finish()
    assert saved.saved and saved.cli_version == live.cli_version
    data = load_cassette_data(path)
    assert data is not None and [i["request"]["prompt"] for i in data["interactions"]] == ["hello again"]

    # a passing test that no longer calls Claude: its stale cassette goes (rewrite = start from scratch)
    empty = CassetteInterceptor(path, mode="rewrite").finish()
    assert empty.removed and not path.exists()
    assert "the old cassette was removed" in (empty.not_saved_reason or "")
    # ...and a corrupt cassette is no error for rewrite: it is what rewrite replaces
    path.write_text("{torn")
    assert CassetteInterceptor(path, mode="rewrite").finish(failed=True).saved is False
    assert path.read_text() == "{torn"


def test_failing_test_does_not_save_unless_asked(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub
) -> None:
    path = tmp_path / "c.json"
    cassette = CassetteInterceptor(path, mode="once")
    _live(claude_bin, api_stub, tmp_path / "a", cassette).run("hello")
    report = cassette.finish(failed=True)
    assert not report.saved and "failed" in (report.not_saved_reason or "") and not path.exists()

    keep = CassetteInterceptor(path, mode="once", record_on_failure=True)
    _live(claude_bin, api_stub, tmp_path / "b", keep).run("hello")
    assert keep.finish(failed=True).saved and path.exists()


def test_async_record(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, offline: dict[str, str]
) -> None:
    path = tmp_path / "c.json"
    cassette = CassetteInterceptor(path, mode="once")
    live = asyncio.run(_live(claude_bin, api_stub, tmp_path / "a", cassette).arun("async hello"))
    cassette.finish()
    replayed = CassetteInterceptor(path)
    assert _replayer(tmp_path, replayed, offline).run("async hello").result == live.result


# --------------------------------------------------------------------------- session ids, errors, secrets


def test_supplied_session_ids_are_mapped(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, offline: dict[str, str]
) -> None:
    path = tmp_path / "c.json"
    cassette = CassetteInterceptor(path, mode="once")
    ex = _live(claude_bin, api_stub, tmp_path / "a", cassette)
    recorded_id = str(uuid.uuid4())
    ex.run("my name is Bob", session_id=recorded_id)
    ex.run("what is my name?", resume=recorded_id)
    cassette.finish()

    fresh = str(uuid.uuid4())  # the test generates a new id each run
    replay = CassetteInterceptor(path)
    tracker = SessionTracker("mapped", tmp_path / "store")
    ex2 = _replayer(tmp_path, replay, offline, tracker=tracker)
    r1 = ex2.run("my name is Bob", session_id=fresh)
    with pytest.raises(CassetteMismatchError, match="differing on: session"):
        ex2.run("what is my name?", resume=str(uuid.uuid4()))  # not the session the recording resumed
    r2 = ex2.run("what is my name?", resume=fresh)
    assert r1.session_id == r2.session_id == fresh
    assert r2.result is not None and "Bob" in r2.result
    assert r2.transcript_path is not None and r2.transcript_path.name == f"{fresh}.jsonl"
    assert recorded_id not in r2.transcript_path.read_text(encoding="utf-8")
    verdicts = ex2.validator.check_chain(tracker.session_chain, working_dir=ex2.cwd)
    assert len(verdicts) == 1 and all(verdicts), [v.reason for v in verdicts]
    with pytest.raises(CassetteMismatchError):  # the mismatch fails the test even if it was caught
        replay.finish()


def test_error_outcomes_replay_as_errors(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, offline: dict[str, str]
) -> None:
    path = tmp_path / "c.json"
    cassette = CassetteInterceptor(path, mode="once")
    ex = _live(claude_bin, api_stub, tmp_path / "a", cassette)
    api_stub.enqueue(HttpError(500))
    failed = ex.run("this one fails")
    missing = str(uuid.uuid4())
    with pytest.raises(ClaudeProcessError) as live_error:
        ex.run("resume a ghost", resume=missing)
    cassette.finish()
    assert failed.is_error and failed.api_error_status == 500

    replay = CassetteInterceptor(path)
    ex2 = _replayer(tmp_path, replay, offline)
    again = ex2.run("this one fails")
    assert (again.is_error, again.api_error_status, again.result) == (True, 500, failed.result)
    with pytest.raises(ClaudeProcessError) as replay_error:
        ex2.run("resume a ghost", resume=missing)
    assert replay_error.value.stderr == live_error.value.stderr
    assert f"No conversation found with session ID: {missing}" in replay_error.value.stderr
    replay.finish()


def test_secrets_never_reach_the_cassette(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, offline: dict[str, str]
) -> None:
    key = "sk-ant-api03-" + "Zx9" * 12
    env_secret = "env-only-secret-" + uuid.uuid4().hex
    internal = "build-host-" + uuid.uuid4().hex[:8] + ".corp.example"
    path = tmp_path / "c.json"
    cassette = CassetteInterceptor(path, mode="once", redact_patterns=[r"build-host-\w+\.corp\.example"])
    env = {**api_stub.env(), "ANTHROPIC_AUTH_TOKEN": env_secret}
    ex = ClaudeExecutor(
        claude_bin, cwd=tmp_path, config_dir=tmp_path / "cfg", env=env, interceptor=cassette, timeout=60
    )
    prompt = f"remember {key} and {env_secret} on {internal}"
    live = ex.run(prompt)
    assert live.result is not None and key in live.result  # the stub echoes the prompt: the output has it
    transcript = live.transcript_path
    assert transcript is not None and key in transcript.read_text(encoding="utf-8")
    cassette.finish()

    text = path.read_text(encoding="utf-8")
    for secret in (key, env_secret, internal, api_stub.env()["ANTHROPIC_API_KEY"]):
        assert secret not in text
    assert (
        "[REDACTED:anthropic-key]" in text and "[REDACTED:secret-env]" in text and "[REDACTED:custom]" in text
    )
    # the same prompt still finds its (redacted) recording
    replay = CassetteInterceptor(path, redact_patterns=[r"build-host-\w+\.corp\.example"])
    out = _replayer(tmp_path, replay, {**offline, "ANTHROPIC_AUTH_TOKEN": env_secret}).run(prompt)
    assert out.replayed and key not in (out.result or "")
    replay.finish()


def test_concurrent_calls_record_only_their_own_transcripts(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, offline: dict[str, str]
) -> None:
    path = tmp_path / "c.json"
    cassette = CassetteInterceptor(path, mode="once", slim=False)  # every record: line counts compared
    ex = _live(claude_bin, api_stub, tmp_path / "a", cassette)

    async def both(executor: ClaudeExecutor) -> list[ClaudeResult]:
        return list(await asyncio.gather(executor.arun("my name is Ann"), executor.arun("my name is Bo")))

    live = asyncio.run(both(ex))
    live_lines = [len(r.transcript_path.read_text().splitlines()) for r in live if r.transcript_path]
    cassette.finish()
    data = load_cassette_data(path)
    assert data is not None
    assert [i["request"]["prompt"] for i in data["interactions"]] == ["my name is Ann", "my name is Bo"]
    for interaction, result in zip(data["interactions"], live, strict=True):
        assert [c["path"].split("/")[1] for c in interaction["transcripts"]] == [f"{result.session_id}.jsonl"]

    replay = CassetteInterceptor(path)
    ex2 = _replayer(tmp_path, replay, offline)
    again = asyncio.run(both(ex2))
    assert [r.session_id for r in again] == [r.session_id for r in live]
    assert [len(r.transcript_path.read_text().splitlines()) for r in again if r.transcript_path] == live_lines
    for r in again:
        assert r.session_id is not None
        assert ex2.validator.validate_session_file(r.session_id, working_dir=ex2.cwd) == (True, None)
    replay.finish()


def test_resume_from_another_cwd_replays_into_the_first_project_dir(
    tmp_path: Path, claude_bin: Path, api_stub: MessagesStub, offline: dict[str, str]
) -> None:
    path = tmp_path / "c.json"

    def chain(ex: ClaudeExecutor, second_cwd: Path) -> list[ClaudeResult]:
        second_cwd.mkdir(exist_ok=True)
        first = ex.run("my name is Cy")
        return [first, ex.run("what is my name?", resume=first.session_id, cwd=second_cwd)]

    cassette = CassetteInterceptor(path, mode="once")
    live = chain(_live(claude_bin, api_stub, tmp_path / "rec" / "a", cassette), tmp_path / "rec" / "b")
    cassette.finish()
    text = path.read_text(encoding="utf-8")
    assert str(tmp_path / "rec") not in text and "{{PCS_CWD_2}}" in text

    replay = CassetteInterceptor(path)
    ex = _replayer(tmp_path, replay, offline)
    again = chain(ex, tmp_path / "elsewhere")
    assert again[1].result == live[1].result
    # like the live CLI, the resumed turn was appended to the first cwd's project dir
    assert again[1].transcript_path == ex.validator.project_dir(ex.cwd) / f"{again[0].session_id}.jsonl"
    assert not ex.validator.project_dir(tmp_path / "elsewhere").exists()
    assert ex.validator.validate_session_file(again[0].session_id) == (True, None)
    replay.finish()


def test_default_cassette_is_slim_and_replays_a_continuous_chain(
    recording: Recording, tmp_path: Path, offline: dict[str, str]
) -> None:
    full, slim = recording.cassette.stat().st_size, recording.slim.stat().st_size
    assert slim * 4 < full, (slim, full)
    text = recording.slim.read_text(encoding="utf-8")
    assert "api-request-shape" not in text and "[elided by pytest-claude-sessions:" in text
    tracker = SessionTracker("slim", tmp_path / "store")
    ex = _replayer(tmp_path, CassetteInterceptor(recording.slim), offline, tracker=tracker)
    results = _replay_chain(ex)
    assert [r.result for r in results] == [r.result for r in recording.results]
    assert [s.cost_usd for s in tracker.session_chain] == pytest.approx(
        [r.cost_usd for r in recording.results]
    )
    verdicts = ex.validator.check_chain(tracker.session_chain, working_dir=ex.cwd)
    assert len(verdicts) == 2 and all(verdicts), [v.reason for v in verdicts]
