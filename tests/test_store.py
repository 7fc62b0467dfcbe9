"""SessionStore: journal layout, hostile ids, torn and damaged files, rewrites, legacy migration, locks."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from locking import lock_held

from pytest_claude_sessions.errors import LockTimeoutError, StoreError
from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.redact import Redactor
from pytest_claude_sessions.store.journal import (
    StoreWarning,
    journal_name,
    parse_journal,
    record_key,
    resolve_fsync,
    resolve_lock_timeout,
)
from pytest_claude_sessions.store.session_store import SessionStore

HOSTILE_IDS = [
    "../..",
    "../../etc/passwd",
    "/",
    "/abs/path",
    "a\0b",
    "",
    ".",
    "..",
    "x" * 10_000,
    "ünïcødé 🚀 агент",
    "\ud800lone-surrogate",
    "tests/test_a.py::test_x[param-1]",
    "C:\\windows\\system32",
    "name with spaces\nand newline",
    ".hidden",
]


def append(store: SessionStore, agent: str, sid: str, prompt: str = "p", **kw: object) -> SessionInfo:
    def build(count: int, last: SessionInfo | None) -> SessionInfo:
        return SessionInfo(
            session_id=sid,
            created_at=kw.get("created_at", utcnow()),  # type: ignore[arg-type]
            interaction_count=count,
            last_prompt=prompt,
            last_response="r",
            agent_id=agent,
            step_id=kw.get("step_id") or os.urandom(8).hex(),  # type: ignore[arg-type]
        )

    return store.append(agent, build)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("agent", HOSTILE_IDS, ids=lambda a: repr(a)[:30])
def test_any_agent_id_maps_inside_the_directory_and_round_trips(tmp_path: Path, agent: str) -> None:
    store = SessionStore(tmp_path / "store")
    path = store.journal_path(agent)
    assert path.parent == store.directory
    assert len(path.name.encode()) <= 255
    append(store, agent, "s1")
    append(store, agent, "s2")
    assert [p.name for p in store.directory.iterdir() if not p.name.endswith(".lock")] == [path.name]
    assert [r.session_id for r in store.load(agent)] == ["s1", "s2"]
    assert store.agent_ids() == [agent]
    assert store.load(agent)[0].agent_id == agent
    assert not list(tmp_path.glob("*")) or {p.name for p in tmp_path.iterdir()} == {"store"}


def test_distinct_ids_get_distinct_files_with_a_readable_slug() -> None:
    names = {journal_name(a) for a in HOSTILE_IDS}
    assert len(names) == len(HOSTILE_IDS)
    assert journal_name("tests/test_a.py::test_x[1]").startswith("tests_test_a.py_test_x_1-")
    assert journal_name("../..").startswith("agent-")
    with pytest.raises(TypeError, match="agent_id must be a str"):
        journal_name(42)  # type: ignore[arg-type]


def test_legacy_path_only_for_safe_ids(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    assert store.legacy_path("agent-1") == store.directory / "agent-1_sessions.json"
    for bad in ["../x", "a/b", "", "..", ".hidden", "a\0b", "x" * 300, "\ud800"]:
        assert store.legacy_path(bad) is None


# --------------------------------------------------------------------------- appends and reads


def test_appends_number_steps_and_write_one_line_each(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    infos = [append(store, "a", f"s{i}") for i in range(5)]
    assert [i.interaction_count for i in infos] == [1, 2, 3, 4, 5]
    lines = store.journal_path("a").read_bytes().splitlines()
    assert len(lines) == 6
    header = json.loads(lines[0])
    assert header["__journal__"] == "pytest-claude-sessions.journal"
    assert header["agent_id"] == "a"
    assert [json.loads(x)["interaction_count"] for x in lines[1:]] == [1, 2, 3, 4, 5]


def test_build_sees_the_previous_step(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    seen: list[tuple[int, str | None]] = []

    def build(count: int, last: SessionInfo | None) -> SessionInfo:
        seen.append((count, last.session_id if last else None))
        return SessionInfo(f"s{count}", utcnow(), 0, "", "")

    store.append("a", build)
    store.append("a", build)
    assert seen == [(1, None), (2, "s1")]


def test_incremental_read_returns_only_new_steps(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    first = store.read("a")
    assert first.full and [r.session_id for r in first.records] == ["s1"]
    same = store.read("a", first.cursor)
    assert not same.full and same.records == []
    append(store, "a", "s2")
    append(store, "a", "s3")
    inc = store.read("a", first.cursor)
    assert not inc.full
    assert [r.session_id for r in inc.records] == ["s2", "s3"]
    assert inc.cursor.offset == store.journal_path("a").stat().st_size


def test_incremental_read_falls_back_to_full_after_rewrite(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    append(store, "a", "s2")
    cursor = store.read("a").cursor
    store.compact("a")
    again = store.read("a", cursor)
    assert again.full and [r.session_id for r in again.records] == ["s1", "s2"]


def test_incremental_read_detects_a_new_generation_in_place(tmp_path: Path) -> None:
    # Even if a replaced file reused the inode, a different header (generation) forces a full read.
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    cursor = store.read("a").cursor
    path = store.journal_path("a")
    other = tmp_path / "other"
    other_store = SessionStore(other)
    for sid in ["x1", "x2", "x3"]:
        append(other_store, "a", sid)
    data = other_store.journal_path("a").read_bytes()
    with path.open("r+b") as fh:  # same inode, new content
        fh.write(data)
        fh.truncate()
    result = store.read("a", cursor)
    assert result.full
    assert [r.session_id for r in result.records] == ["x1", "x2", "x3"]


def test_partial_tail_is_invisible_to_incremental_reads(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    cursor = store.read("a").cursor
    path = store.journal_path("a")
    with path.open("ab") as fh:
        fh.write(b'{"session_id":"half')
    result = store.read("a", cursor)
    assert result.records == [] and result.cursor.offset == cursor.offset


def test_missing_journal_reads_empty(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    assert store.load("nobody") == []
    assert store.agent_ids() == []


def test_store_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(StoreError, match="cannot create the session store directory"):
        SessionStore(target / "sub")
    with pytest.raises(StoreError, match="exists and is not a directory"):
        SessionStore(target, create=False)


# --------------------------------------------------------------------------- torn and damaged files


def test_torn_last_line_is_skipped_with_a_warning_and_cut_at_the_next_write(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    append(store, "a", "s2")
    path = store.journal_path("a")
    good = path.read_bytes()
    path.write_bytes(good + b'{"session_id":"s3","created_at":"2026-')
    with pytest.warns(StoreWarning, match="torn last line"):
        assert [r.session_id for r in store.load("a")] == ["s1", "s2"]
    assert path.read_bytes().startswith(good)  # reading changed nothing
    with pytest.warns(StoreWarning, match="dropped a torn last line.*kept at .*torn-"):
        info = append(store, "a", "s3")
    assert info.interaction_count == 3
    assert path.read_bytes().startswith(good)
    assert [r.interaction_count for r in store.load("a")] == [1, 2, 3]
    # the cut bytes were copied aside first: nothing damaged is ever lost
    (kept,) = store.torn_tails()
    assert kept.read_bytes() == b'{"session_id":"s3","created_at":"2026-'
    assert store.quarantined_files() == []  # an unfinished write is not damage


def test_a_journal_that_is_one_unterminated_line_without_a_header_is_kept_whole(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    path = store.journal_path("a")
    original = b'{"session_id": "s1", "created_at": "2026-11-24T03:00:00+00:00", "interaction_count": 1}'
    path.write_bytes(original)
    with pytest.warns(StoreWarning, match="torn last line"):
        assert store.load("a") == []
    assert path.read_bytes() == original  # a read never writes
    with pytest.warns(StoreWarning, match="kept at .*corrupt-"):
        append(store, "a", "s2")
    (kept,) = store.quarantined_files()
    assert kept.read_bytes() == original
    assert [r.session_id for r in store.load("a")] == ["s2"]


def test_torn_header_only_file_restarts_the_journal(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    path = store.journal_path("a")
    path.write_bytes(b'{"__journal__":"pytest-cl')
    with pytest.warns(StoreWarning):
        assert store.load("a") == []
    with pytest.warns(StoreWarning, match="dropped a torn last line"):
        append(store, "a", "s1")
    assert [r.session_id for r in store.load("a")] == ["s1"]


def test_a_damaged_middle_line_is_read_without_a_write_then_quarantined_by_the_next_write(
    tmp_path: Path,
) -> None:
    store = SessionStore(tmp_path)
    for i in range(1, 5):
        append(store, "a", f"s{i}")
    path = store.journal_path("a")
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = b"".join([*lines[:3], b"this is not json\n", *lines[3:]])
    path.write_bytes(damaged)
    with pytest.warns(StoreWarning, match=r"line 4: invalid JSON.*4 recoverable records.*next write"):
        chain = store.load("a")
    assert [r.session_id for r in chain] == ["s1", "s2", "s3", "s4"]
    assert [r.interaction_count for r in chain] == [1, 2, 3, 4]
    assert path.read_bytes() == damaged and store.quarantined_files() == []  # a read never writes
    with pytest.warns(StoreWarning, match=r"original is kept at .*corrupt-") as rec:
        assert append(store, "a", "s5").interaction_count == 5
    quarantined = store.quarantined_files()
    assert len(quarantined) == 1
    assert quarantined[0].read_bytes() == damaged  # the original bytes, never overwritten
    assert str(path) in str(rec[0].message) and str(quarantined[0]) in str(rec[0].message)
    assert parse_journal(path.read_bytes()).ok
    assert [r.session_id for r in store.load("a")] == ["s1", "s2", "s3", "s4", "s5"]


@pytest.mark.parametrize(
    "bad_line",
    [
        b"[1, 2, 3]",
        b'{"no_session_id": true}',
        b'{"session_id": "x", "created_at": "not a date"}',
        b'{"session_id": "x", "interaction_count": "three"}',
        b'{"session_id": "x", "cost_usd": "cheap"}',
        b'{"session_id": "x", "metadata": [1]}',
        b'{"session_id": "x", "kind": "teleport"}',
        b"\xff\xfe invalid utf-8",
        b'{"__journal__": "pytest-claude-sessions.journal", "version": 1, "agent_id": "a"}',
    ],
)
def test_each_kind_of_bad_line_is_damage_not_a_crash(tmp_path: Path, bad_line: bytes) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    path = store.journal_path("a")
    path.write_bytes(path.read_bytes() + bad_line + b"\n")
    parsed = parse_journal(path.read_bytes())
    assert not parsed.ok and parsed.damaged[0][0] == 3
    with pytest.warns(StoreWarning, match="damaged"):
        assert [r.session_id for r in store.load("a")] == ["s1"]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b'"interaction_count":2,', b'"interaction_count":7,', "interaction_count 7, expected 2"),
        (b'"interaction_count":2,', b'"interaction_kount":2,', "interaction_count missing, expected 2"),
    ],
)
def test_a_misnumbered_step_is_kept_and_renumbered_to_its_position(
    tmp_path: Path, old: bytes, new: bytes, reason: str
) -> None:
    store = SessionStore(tmp_path)
    for i in range(1, 4):
        append(store, "a", f"s{i}")
    path = store.journal_path("a")
    damaged = path.read_bytes().replace(old, new, 1)
    path.write_bytes(damaged)
    with pytest.warns(StoreWarning, match=rf"line 3: {reason}.*3 recoverable records"):
        chain = store.load("a")
    assert [(r.session_id, r.interaction_count) for r in chain] == [("s1", 1), ("s2", 2), ("s3", 3)]
    assert store.quarantined_files() == []  # a read never writes
    with pytest.warns(StoreWarning, match="original is kept at"):
        assert append(store, "a", "s4").interaction_count == 4
    [quarantined] = store.quarantined_files()
    assert quarantined.read_bytes() == damaged


def test_damaged_last_line_is_repaired_by_an_append(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    path = store.journal_path("a")
    path.write_bytes(path.read_bytes() + b"garbage\n")
    with pytest.warns(StoreWarning, match="damaged"):
        assert append(store, "a", "s2").interaction_count == 2
    assert [r.session_id for r in store.load("a")] == ["s1", "s2"]
    assert len(store.quarantined_files()) == 1


def test_missing_header_is_damage_but_records_are_recovered(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    append(store, "a", "s2")
    path = store.journal_path("a")
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[1:]))
    with pytest.warns(StoreWarning, match="header is missing"):
        assert [r.session_id for r in store.load("a")] == ["s1", "s2"]
    assert store.agent_ids() == ["a"]


def test_journal_of_another_agent_is_refused(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    store.journal_path("a").rename(store.journal_path("b"))
    with pytest.raises(StoreError, match="belongs to agent 'a', not 'b'"):
        store.load("b")
    with pytest.raises(StoreError, match="belongs to agent 'a', not 'b'"):
        append(store, "b", "s2")
    with pytest.warns(StoreWarning, match="copied or renamed"):
        assert store.agent_ids() == []


def test_check_files_reports_damage_without_changing_anything(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "good", "s1")
    append(store, "bad", "s1")
    bad = store.journal_path("bad")
    bad.write_bytes(bad.read_bytes() + b"{oops\n")
    before = bad.read_bytes()
    checks = {c.path: c for c in store.check_files()}
    assert checks[store.journal_path("good")].ok
    assert not checks[bad].ok and "line 3" in checks[bad].detail
    assert bad.read_bytes() == before
    assert store.quarantined_files() == []


# --------------------------------------------------------------------------- rewrites


def test_reset_compact_and_remove_older_than(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    old = utcnow() - timedelta(days=30)
    append(store, "a", "old1", created_at=old)
    append(store, "a", "old2", created_at=old)
    append(store, "a", "new1")
    assert store.remove_older_than("a", utcnow() - timedelta(days=7)) == 2
    chain = store.load("a")
    assert [(r.session_id, r.interaction_count) for r in chain] == [("new1", 1)]
    assert store.remove_older_than("a", utcnow() - timedelta(days=7)) == 0
    assert store.compact("a") == 1
    store.reset("a")
    assert store.load("a") == []
    assert store.agent_ids() == ["a"]
    assert append(store, "a", "again").interaction_count == 1


def test_removing_every_step_deletes_the_journal(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s", created_at=utcnow() - timedelta(days=10))
    assert store.remove_older_than("a", utcnow()) == 1
    assert not store.journal_path("a").exists()
    assert store.agent_ids() == []


def test_rewrites_leave_no_temp_files(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    for i in range(3):
        append(store, "a", f"s{i}")
    store.compact("a")
    store.reset("a")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_merge_is_a_sorted_idempotent_union(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, redactor=Redactor())
    t0 = utcnow()
    append(store, "a", "s2", created_at=t0 + timedelta(seconds=2), step_id="k2")
    incoming = [
        SessionInfo("s1", t0 + timedelta(seconds=1), 7, "key sk-ant-abcdefghijkl", "r", step_id="k1"),
        SessionInfo("s3", t0 + timedelta(seconds=3), 9, "p3", "r"),  # no step id: derived key
        SessionInfo("s2", t0 + timedelta(seconds=2), 1, "dup", "r", step_id="k2"),
    ]
    snapshot = [i.to_dict() for i in incoming]
    assert store.merge("a", incoming) == 2
    assert [i.to_dict() for i in incoming] == snapshot  # caller's objects untouched
    chain = store.load("a")
    assert [(r.session_id, r.interaction_count) for r in chain] == [("s1", 1), ("s2", 2), ("s3", 3)]
    assert chain[0].last_prompt == "key [REDACTED:anthropic-key]"
    assert chain[2].step_id == record_key(incoming[1])
    assert all(r.agent_id == "a" for r in chain)
    mtime = store.journal_path("a").stat().st_mtime_ns
    assert store.merge("a", incoming) == 0
    assert store.merge("a", chain) == 0
    assert store.journal_path("a").stat().st_mtime_ns == mtime  # nothing new: no rewrite


def test_record_key_prefers_step_id_and_is_deterministic() -> None:
    t = utcnow()
    a = SessionInfo("s", t, 1, "p", "r")
    b = SessionInfo("s", t, 5, "p", "other response")
    assert record_key(a) == record_key(b)
    assert record_key(SessionInfo("s", t, 1, "p2", "r")) != record_key(a)
    assert record_key(SessionInfo("s", t, 1, "p", "r", step_id="abc")) == "abc"


# --------------------------------------------------------------------------- legacy format


def write_legacy(directory: Path, agent: str, sessions: list[dict[str, object]]) -> Path:
    path = directory / f"{agent}_sessions.json"
    path.write_text(
        json.dumps(
            {
                "agent_id": agent,
                "current_session_id": sessions[-1].get("session_id") if sessions else None,
                "interaction_count": len(sessions),
                "sessions": sessions,
            }
        )
    )
    return path


LEGACY_SESSIONS: list[dict[str, object]] = [
    {
        "session_id": "aaa",
        "created_at": "2026-01-01T10:00:00",
        "interaction_count": 1,
        "last_prompt": "hi",
        "last_response": "hello",
        "metadata": {"k": 1},
    },
    {
        "session_id": "aaa",
        "created_at": "2026-01-01T10:05:00",
        "interaction_count": 2,
        "last_prompt": "again",
        "last_response": "yes",
        "metadata": None,
        "custom_old_field": [1, 2],
    },
]


def test_legacy_file_is_migrated_without_loss(tmp_path: Path) -> None:
    legacy = write_legacy(tmp_path, "old-agent", LEGACY_SESSIONS)
    original = legacy.read_bytes()
    store = SessionStore(tmp_path)
    chain = store.load("old-agent")  # read in memory: nothing is written
    assert legacy.read_bytes() == original and not list(tmp_path.glob("*.jsonl"))
    assert store.agent_ids() == ["old-agent"]
    with pytest.warns(StoreWarning, match="migrated 2 steps"):
        assert store.compact("old-agent") == 2  # a write migrates
    assert [r.step_id for r in store.load("old-agent")] == [r.step_id for r in chain]
    assert [(r.session_id, r.interaction_count, r.last_prompt) for r in chain] == [
        ("aaa", 1, "hi"),
        ("aaa", 2, "again"),
    ]
    assert chain[0].metadata == {"k": 1}
    assert chain[1].extra == {"custom_old_field": [1, 2]}
    assert chain[0].created_at.tzinfo is not None
    assert not legacy.exists()
    backup = tmp_path / "old-agent_sessions.json.migrated"
    assert backup.read_bytes() == original
    # a second store sees the same and migrates nothing twice
    assert [r.step_id for r in SessionStore(tmp_path).load("old-agent")] == [r.step_id for r in chain]
    assert append(store, "old-agent", "bbb").interaction_count == 3


def test_legacy_migration_keeps_identical_entries_and_every_field(tmp_path: Path) -> None:
    twin = {**LEGACY_SESSIONS[0], "usage": {"input_tokens": 5}, "cost_usd": 0.25, "kind": "resume"}
    legacy = write_legacy(tmp_path, "twins", [twin, dict(twin), LEGACY_SESSIONS[1]])
    store = SessionStore(tmp_path)
    chain = store.load("twins")
    with pytest.warns(StoreWarning, match="migrated 3 steps"):
        store.compact("twins")
    assert [r.interaction_count for r in chain] == [1, 2, 3]
    expected = {k: v for k, v in twin.items() if k not in ("created_at", "interaction_count")}
    for step in chain[:2]:
        stored = step.to_dict()
        assert {k: stored[k] for k in expected} == expected
    assert len({r.step_id for r in chain}) == 3
    # migrating the same file again (restored from its backup) adds nothing
    (tmp_path / "twins_sessions.json.migrated").rename(legacy)
    assert [r.step_id for r in store.load("twins")] == [r.step_id for r in chain]
    with pytest.warns(StoreWarning, match="migrated 3 steps"):
        store.compact("twins")
    assert [r.step_id for r in store.load("twins")] == [r.step_id for r in chain]


def test_legacy_files_are_found_by_a_directory_scan(tmp_path: Path) -> None:
    write_legacy(tmp_path, "x1", LEGACY_SESSIONS[:1])
    write_legacy(tmp_path, "x2", LEGACY_SESSIONS)
    store = SessionStore(tmp_path)
    everything = store.load_all()
    assert {k: len(v) for k, v in everything.items()} == {"x1": 1, "x2": 2}
    assert len(store.legacy_files()) == 2  # listing is a read: nothing migrated


def test_legacy_entries_that_cannot_be_read_stay_in_the_backup(tmp_path: Path) -> None:
    write_legacy(tmp_path, "x", [*LEGACY_SESSIONS, {"no": "session id"}])
    store = SessionStore(tmp_path)
    assert len(store.load("x")) == 2
    with pytest.warns(StoreWarning, match=r"1 entries could not be read.*sessions\[2\]"):
        store.compact("x")
    assert "no" in (tmp_path / "x_sessions.json.migrated").read_text()


def test_unreadable_legacy_file_is_quarantined_not_deleted(tmp_path: Path) -> None:
    legacy = tmp_path / "y_sessions.json"
    legacy.write_text("{broken")
    store = SessionStore(tmp_path)
    assert store.load("y") == []
    assert legacy.exists()  # a read moves nothing
    with pytest.warns(StoreWarning, match="unreadable"):
        append(store, "y", "s1")
    [moved] = store.quarantined_files()
    assert moved.read_text() == "{broken"


def test_legacy_file_merges_into_an_existing_journal(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "z", "new-one")
    write_legacy(tmp_path, "z", LEGACY_SESSIONS)
    chain = store.load("z")
    assert [r.session_id for r in chain] == ["aaa", "aaa", "new-one"]  # interleaved by time
    assert [r.interaction_count for r in chain] == [1, 2, 3]
    with pytest.warns(StoreWarning, match="migrated"):
        store.compact("z")
    assert [r.to_dict() for r in store.load("z")] == [r.to_dict() for r in chain]  # as the read showed it


# --------------------------------------------------------------------------- settings and locks


def test_fsync_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_SESSIONS_FSYNC", raising=False)
    assert resolve_fsync(None) is True
    for off in ["0", "false", "No", "off "]:
        monkeypatch.setenv("CLAUDE_SESSIONS_FSYNC", off)
        assert resolve_fsync(None) is False
    monkeypatch.setenv("CLAUDE_SESSIONS_FSYNC", "1")
    assert resolve_fsync(None) is True
    assert resolve_fsync(False) is False


def test_lock_timeout_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_SESSIONS_LOCK_TIMEOUT", raising=False)
    assert resolve_lock_timeout(None) == 30.0
    monkeypatch.setenv("CLAUDE_SESSIONS_LOCK_TIMEOUT", "2.5")
    assert resolve_lock_timeout(None) == 2.5
    monkeypatch.setenv("CLAUDE_SESSIONS_LOCK_TIMEOUT", "soon")
    with pytest.raises(StoreError, match=r"\$CLAUDE_SESSIONS_LOCK_TIMEOUT='soon'"):
        resolve_lock_timeout(None)
    for bad in [-1.0, float("inf"), float("nan")]:
        with pytest.raises(StoreError, match="finite"):
            resolve_lock_timeout(bad)


def test_lock_timeout_names_the_lock_file(tmp_path: Path) -> None:
    waiter = SessionStore(tmp_path, lock_timeout=0.2)
    with lock_held(tmp_path, "a") as lock_file, pytest.raises(LockTimeoutError) as info:
        append(waiter, "a", "s1")
    assert info.value.lock_path == lock_file == Path(str(waiter.journal_path("a")) + ".lock")
    assert str(info.value.lock_path) in str(info.value)
    assert append(waiter, "a", "s1").interaction_count == 1


def test_symlinked_directory_uses_the_same_lock(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert SessionStore(link).journal_path("a") == SessionStore(real).journal_path("a")


def test_a_rewrite_removes_temp_files_left_by_a_killed_rewrite(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    path = store.journal_path("a")
    stale = tmp_path / f".{path.name}.abc123.tmp"
    stale.write_bytes(b"half a rewrite")
    unrelated = tmp_path / ".other.jsonl.abc123.tmp"
    unrelated.write_bytes(b"x")
    store.compact("a")
    assert not stale.exists()
    assert unrelated.exists()


def test_damaged_file_in_a_store_that_cannot_be_written_is_read_not_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores directory permissions, so a read-only filesystem is simulated where the store writes.
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    append(store, "a", "s2")
    path = store.journal_path("a")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\nnot json\n", 1))
    before = path.read_bytes()

    def refuse(*_args: object, **_kw: object) -> None:
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(os, "link", refuse)
    monkeypatch.setattr("shutil.copy2", refuse)
    store = SessionStore(tmp_path)
    with pytest.warns(StoreWarning, match="2 recoverable records"):
        assert [r.session_id for r in store.load("a")] == ["s1", "s2"]
    with pytest.raises(StoreError, match="Read-only"):
        append(store, "a", "s3")  # the write that would quarantine it fails, naming why
    assert path.read_bytes() == before
    assert SessionStore(tmp_path).quarantined_files() == []


def test_a_rewrite_or_a_removal_keeps_a_torn_tail_aside(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1", created_at=utcnow() - timedelta(days=3))
    path = store.journal_path("a")
    with path.open("ab") as f:
        f.write(b'{"session_id": "half')
    with pytest.warns(StoreWarning, match="torn last line"):
        assert store.compact("a") == 1
    assert [p.read_bytes() for p in store.torn_tails()] == [b'{"session_id": "half']
    with path.open("ab") as f:
        f.write(b'{"session_id": "again')
    with pytest.warns(StoreWarning, match="torn last line"):
        assert store.remove_older_than("a", utcnow() - timedelta(days=1)) == 1
    assert not path.exists()
    assert sorted(p.read_bytes() for p in store.torn_tails()) == [
        b'{"session_id": "again',
        b'{"session_id": "half',
    ]


def test_a_merge_keeps_each_chains_own_order_when_the_clock_stepped_back(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    t0 = utcnow()
    # the existing chain was written while the clock stepped back: s2 carries an earlier time than s1
    append(store, "a", "s1", created_at=t0 + timedelta(seconds=10), step_id="k1")
    append(store, "a", "s2", created_at=t0, step_id="k2")
    incoming = [
        SessionInfo("n1", t0 + timedelta(seconds=5), 1, "p", "r", step_id="m1"),
        SessionInfo("n2", t0 + timedelta(seconds=20), 2, "p", "r", step_id="m2"),
    ]
    assert store.merge("a", incoming) == 2
    order = [r.session_id for r in store.load("a")]
    assert order.index("s1") < order.index("s2")  # never re-sorted by wall-clock time
    assert order.index("n1") < order.index("n2")
    assert sorted(order) == ["n1", "n2", "s1", "s2"]


def test_a_merge_refuses_records_of_another_agent_and_writes_nothing(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    append(store, "a", "s1")
    before = store.journal_path("a").read_bytes()
    stranger = SessionInfo("x", utcnow(), 1, "p", "r", agent_id="b", step_id="kx")
    with pytest.raises(StoreError, match=r"name another agent .*'b'"):
        store.merge("a", [stranger])
    assert store.journal_path("a").read_bytes() == before
    assert append(store, "a", "s2").interaction_count == 2  # the target is not poisoned


def test_a_legacy_entry_naming_another_agent_stays_in_the_backup(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    legacy = tmp_path / "a_sessions.json"
    entry = {"session_id": "s1", "created_at": utcnow().isoformat(), "interaction_count": 1}
    legacy.write_text(
        json.dumps({"agent_id": "a", "sessions": [entry, {**entry, "session_id": "s2", "agent_id": "b"}]})
    )
    with pytest.warns(StoreWarning, match=r"1 entries could not be read .*names another agent, 'b'"):
        assert store.migrate_legacy(legacy) == "a"
    assert [r.session_id for r in store.load("a")] == ["s1"]
    assert append(store, "a", "s3").interaction_count == 2
