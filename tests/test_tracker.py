"""SessionTracker: the original API, kinds, redaction, sharing state through the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.redact import Redactor
from pytest_claude_sessions.store.tracker import SessionTracker, default_persistence_dir


def test_original_api_round_trip(tmp_path: Path) -> None:
    tracker = SessionTracker("agent-1", tmp_path)
    assert tracker.agent_id == "agent-1"
    assert tracker.current_session_id is None
    assert tracker.session_chain == []
    assert tracker.interaction_count == 0
    assert tracker.get_current_session() is None
    assert tracker.get_chain_summary() == {
        "agent_id": "agent-1",
        "total_sessions": 0,
        "total_interactions": 0,
    }
    assert tracker.persistence_dir == tmp_path.resolve()
    assert tracker.persistence_file.parent == tmp_path.resolve()

    first = tracker.update_session("sess-a", "hello", "hi there", {"k": "v"})
    assert isinstance(first, SessionInfo)
    assert (first.session_id, first.interaction_count, first.kind) == ("sess-a", 1, "new")
    assert first.metadata == {"k": "v"}
    assert first.created_at.tzinfo is not None
    assert first.agent_id == "agent-1" and first.step_id and len(first.step_id) == 32

    second = tracker.update_session("sess-a", "again", "yes")
    assert (second.kind, second.parent_session_id, second.interaction_count) == ("resume", "sess-a", 2)
    third = tracker.update_session("sess-b", "fresh", "ok")
    assert (third.kind, third.parent_session_id) == ("new", None)

    assert tracker.current_session_id == "sess-b"
    assert tracker.interaction_count == 3
    summary = tracker.get_chain_summary()
    assert summary["total_sessions"] == 3
    assert summary["total_interactions"] == 3
    assert summary["first_session"] == "sess-a"
    assert summary["current_session"] == "sess-b"
    assert summary["session_ids"] == ["sess-a", "sess-a", "sess-b"]
    assert summary["distinct_sessions"] == 2
    json.dumps(summary)


def test_a_new_tracker_sees_what_earlier_ones_wrote(tmp_path: Path) -> None:
    one = SessionTracker("a", tmp_path)
    one.update_session("s1", "p", "r")
    two = SessionTracker("a", tmp_path)
    assert two.current_session_id == "s1"
    two.update_session("s2", "p", "r")
    # and the first one sees the second's write without being told
    assert one.current_session_id == "s2"
    assert one.interaction_count == 2
    assert [s.session_id for s in one.session_chain] == ["s1", "s2"]


def test_validate_session(tmp_path: Path) -> None:
    tracker = SessionTracker("a", tmp_path)
    tracker.update_session("s1", "p", "r")
    assert tracker.validate_session("s1")
    assert not tracker.validate_session("s2")
    assert not tracker.validate_session("")
    assert not tracker.validate_session(None)
    assert not SessionTracker("b", tmp_path).validate_session("s1")


def test_get_session_chain_is_a_copy(tmp_path: Path) -> None:
    tracker = SessionTracker("a", tmp_path)
    tracker.update_session("s1", "p", "r", {"n": 1})
    chain = tracker.get_session_chain()
    chain[0].metadata["n"] = 99  # type: ignore[index]
    chain.clear()
    assert tracker.session_chain[0].metadata == {"n": 1}
    tracker.session_chain.clear()
    assert len(tracker.session_chain) == 1


def test_reset_clears_memory_and_disk(tmp_path: Path) -> None:
    tracker = SessionTracker("a", tmp_path)
    tracker.update_session("s1", "p", "r")
    other = SessionTracker("a", tmp_path)
    tracker.reset()
    assert tracker.session_chain == [] and tracker.current_session_id is None
    assert other.interaction_count == 0  # sees the rewrite
    assert SessionTracker("a", tmp_path).session_chain == []
    assert tracker.update_session("s2", "p", "r").interaction_count == 1


def test_explicit_kinds_and_extra_fields(tmp_path: Path) -> None:
    tracker = SessionTracker("a", tmp_path, run_id="run-7")
    tracker.update_session("s1", "p", "r")
    fork = tracker.update_session(
        "s2",
        "p",
        "r",
        kind="fork",
        cost_usd=0.25,
        total_cost_usd=0.5,
        num_turns=2,
        duration_ms=1500,
        usage={"input_tokens": 10},
        cli_version="2.1.330",
        cwd="/w",
        model="claude-x",
        transcript_path=Path("/t/s2.jsonl"),
    )
    assert fork.kind == "fork" and fork.parent_session_id == "s1"
    assert fork.transcript_path == "/t/s2.jsonl"
    assert fork.run_id == "run-7"
    stored = SessionTracker("a", tmp_path).session_chain[-1]
    assert stored.to_dict() == fork.to_dict()
    cont = tracker.update_session("s2", "p", "r", kind="continue", parent_session_id="x", run_id="other")
    assert (cont.kind, cont.parent_session_id, cont.run_id) == ("continue", "x", "other")
    err = tracker.update_session("s3", "p", "", is_error=True, error="API 500 with sk-ant-abcdefghijklmn")
    assert err.is_error and err.error == "API 500 with [REDACTED:anthropic-key]"
    assert tracker.get_chain_summary()["total_cost_usd"] == 0.25


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="agent_id must be a str"):
        SessionTracker(None, tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_text_length"):
        SessionTracker("a", tmp_path, max_text_length=-1)
    tracker = SessionTracker("a", tmp_path)
    with pytest.raises(ValueError, match="kind must be one of new, resume, continue, fork"):
        tracker.update_session("s", "p", "r", kind="jump")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="session id must be a str"):
        tracker.update_session(123, "p", "r")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metadata must be a dict"):
        tracker.update_session("s", "p", "r", ["x"])  # type: ignore[arg-type]
    assert tracker.interaction_count == 0


def test_text_is_redacted_then_cut(tmp_path: Path) -> None:
    tracker = SessionTracker("a", tmp_path)
    secret = "sk-ant-api03-" + "A" * 80
    info = tracker.update_session("s", f"use {secret} please " + "x" * 500, "Bearer abcdefgh12345678")
    assert len(info.last_prompt) == 200
    assert info.last_prompt.startswith("use [REDACTED:anthropic-key] please")
    assert info.last_response == "Bearer [REDACTED:bearer-token]"
    on_disk = tracker.persistence_file.read_text()
    assert "sk-ant-api03" not in on_disk and "abcdefgh12345678" not in on_disk


def test_secret_split_by_the_cut_is_still_redacted(tmp_path: Path) -> None:
    # redaction runs before the cut: a key straddling character 200 never leaves a readable prefix
    tracker = SessionTracker("a", tmp_path)
    prompt = "x" * 190 + "sk-ant-api03-" + "B" * 40
    assert "sk-ant" not in tracker.update_session("s", prompt, "r").last_prompt


def test_text_length_and_redactor_are_configurable(tmp_path: Path) -> None:
    tracker = SessionTracker(
        "a", tmp_path, max_text_length=None, redactor=Redactor([r"secret-\w+"], defaults=False)
    )
    info = tracker.update_session("s", "y" * 1000 + " secret-abc sk-ant-abcdefghijkl", "r")
    assert len(info.last_prompt) > 1000
    assert "[REDACTED:custom]" in info.last_prompt and "sk-ant-abcdefghijkl" in info.last_prompt
    assert SessionTracker("b", tmp_path, max_text_length=5).update_session(
        "s", "abcdefgh", "r"
    ).last_prompt == ("abcde")


def test_default_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_persistence_dir() == tmp_path / "home" / ".claude-agent" / "sessions"
    monkeypatch.setenv("CLAUDE_SESSIONS_DIR", str(tmp_path / "env"))
    assert default_persistence_dir() == tmp_path / "env"
    tracker = SessionTracker("a")
    assert tracker.persistence_dir == (tmp_path / "env").resolve()
    tracker.update_session("s", "p", "r")
    assert tracker.persistence_file.exists()


def test_hostile_agent_ids_are_tracked_inside_the_directory(tmp_path: Path) -> None:
    ids = ["../../escape", "/etc/passwd", "\0", "", "ü" * 3000]
    for agent in ids:
        SessionTracker(agent, tmp_path / "s").update_session("x", "p", "r")
    escaped = [p for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "s")]
    assert escaped == []
    for agent in ids:
        chain = SessionTracker(agent, tmp_path / "s").session_chain
        assert [(s.agent_id, s.session_id) for s in chain] == [(agent, "x")]


HOSTILE_SESSION_IDS = [
    "../..",
    "/",
    "../../etc/passwd",
    "a\0b",
    "x" * 10_000,
    "ünïcødé 🚀 сессия",
    "",
    "line\nbreak\u2028sep",
    "\ud800lone-surrogate",
]


def test_hostile_session_ids_are_data_never_names(tmp_path: Path) -> None:
    store_dir = tmp_path / "s"
    tracker = SessionTracker("agent", store_dir, max_text_length=None)
    for sid in HOSTILE_SESSION_IDS:
        tracker.update_session(sid, f"prompt for {sid}", "r")
    # nothing but the agent's journal and its lock, and one line per step: no id split a record
    assert sorted(p.name for p in tmp_path.rglob("*") if p != store_dir) == sorted(
        [tracker.persistence_file.name, tracker.persistence_file.name + ".lock"]
    )
    assert len(tracker.persistence_file.read_bytes().splitlines()) == 1 + len(HOSTILE_SESSION_IDS)
    fresh = SessionTracker("agent", store_dir, max_text_length=None)
    chain = fresh.session_chain
    assert [s.session_id for s in chain] == HOSTILE_SESSION_IDS
    assert [s.last_prompt for s in chain] == [f"prompt for {sid}" for sid in HOSTILE_SESSION_IDS]
    assert fresh.get_chain_summary()["session_ids"] == HOSTILE_SESSION_IDS
    assert all(fresh.validate_session(sid) for sid in HOSTILE_SESSION_IDS if sid)
    assert fresh.validate_session("") is False  # the empty id is stored, but never a session to resume
    assert fresh.validate_session("../x") is False


def test_a_secret_in_an_agent_id_reaches_neither_the_file_name_nor_the_journal(tmp_path: Path) -> None:
    secret = "sk-ant-api03-" + "S" * 40
    tracker = SessionTracker(f"agent-{secret}", tmp_path)
    tracker.update_session("00000000-0000-4000-8000-000000000001", "p", "r")
    assert secret not in tracker.agent_id and tracker.agent_id.startswith("agent-[REDACTED:anthropic-key]~")
    (journal,) = [p for p in tmp_path.iterdir() if p.suffix == ".jsonl"]
    assert "SSSS" not in journal.name and "SSSS" not in journal.read_text()
    again = SessionTracker(f"agent-{secret}", tmp_path)  # the same id finds the same chain
    assert [s.session_id for s in again.session_chain] == ["00000000-0000-4000-8000-000000000001"]
