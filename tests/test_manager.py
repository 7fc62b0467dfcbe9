"""SessionManager: async and sync API, every agent on disk, cleanup, export and idempotent import."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

from pytest_claude_sessions.errors import ExportFormatError, StoreWarning
from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.store.manager import SessionManager
from pytest_claude_sessions.store.session_store import SessionStore
from pytest_claude_sessions.store.tracker import SessionTracker

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_async_api_as_in_the_original_design(tmp_path: Path) -> None:
    async def scenario() -> None:
        manager = SessionManager(tmp_path)
        tracker = await manager.get_tracker("agent-1")
        assert isinstance(tracker, SessionTracker)
        assert await manager.get_tracker("agent-1") is tracker
        info = await manager.update_session("agent-1", "s1", "hello", "hi", {"m": 1})
        assert (info.session_id, info.interaction_count, info.metadata) == ("s1", 1, {"m": 1})
        await manager.update_session("agent-1", "s1", "again", "ok")
        await manager.update_session("agent-2", "t1", "p", "r")
        assert await manager.get_current_session("agent-1") == "s1"
        assert await manager.get_current_session("nobody") is None
        everything = await manager.get_all_sessions()
        assert {k: [s.interaction_count for s in v] for k, v in everything.items()} == {
            "agent-1": [1, 2],
            "agent-2": [1],
        }

    asyncio.run(scenario())


def test_get_all_sessions_includes_other_processes_and_legacy_files(tmp_path: Path) -> None:
    code = (
        "import sys; from pytest_claude_sessions.store.tracker import SessionTracker; "
        "SessionTracker('from-subprocess', sys.argv[1]).update_session('x', 'p', 'r')"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        check=True,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    (tmp_path / "legacy-agent_sessions.json").write_text(
        json.dumps(
            {
                "agent_id": "legacy-agent",
                "current_session_id": "L",
                "interaction_count": 1,
                "sessions": [
                    {
                        "session_id": "L",
                        "created_at": "2026-01-01T00:00:00",
                        "interaction_count": 1,
                        "last_prompt": "p",
                        "last_response": "r",
                        "metadata": None,
                    }
                ],
            }
        )
    )
    manager = SessionManager(tmp_path)
    manager.update("mine", "m", "p", "r")
    everything = manager.all_sessions()  # a read: the legacy file is read in memory, not migrated
    assert sorted(everything) == ["from-subprocess", "legacy-agent", "mine"]
    assert everything["legacy-agent"][0].session_id == "L"


def test_many_tasks_and_threads_at_once(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path, fsync=False)

    async def scenario() -> list[SessionInfo]:
        jobs = [manager.update_session(f"agent-{i % 3}", f"s{i}", "p", "r") for i in range(60)]
        return list(await asyncio.gather(*jobs))

    def sync_writer() -> None:
        for i in range(30):
            manager.update("agent-0", f"t{i}", "p", "r")

    thread = threading.Thread(target=sync_writer)
    thread.start()
    infos = asyncio.run(scenario())
    thread.join()
    assert len(infos) == 60
    chains = manager.all_sessions()
    assert {k: len(v) for k, v in chains.items()} == {"agent-0": 50, "agent-1": 20, "agent-2": 20}
    for chain in chains.values():
        assert [s.interaction_count for s in chain] == list(range(1, len(chain) + 1))
    assert len(manager.trackers) == 3


def test_event_loop_is_not_blocked_by_a_held_lock(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path, lock_timeout=5)
    manager.update("a", "s0", "p", "r")
    holder = SessionStore(tmp_path)
    release = threading.Event()
    held = threading.Event()

    def hold() -> None:
        with holder.locked(holder.journal_path("a")):
            held.set()
            release.wait(10)

    async def scenario() -> int:
        ticks = 0
        task = asyncio.create_task(manager.update_session("a", "s1", "p", "r"))
        while not task.done():
            ticks += 1
            if ticks == 5:
                release.set()
            await asyncio.sleep(0.01)
        await task
        return ticks

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(10)
    ticks = asyncio.run(scenario())
    t.join()
    assert ticks >= 5  # the loop kept running while the update waited for the lock
    assert manager.current_session("a") == "s1"


def _old(manager: SessionManager, agent: str, sid: str, days: float) -> None:
    def build(count: int, last: SessionInfo | None) -> SessionInfo:
        return SessionInfo(sid, utcnow() - timedelta(days=days), count, "p", "r", agent_id=agent, step_id=sid)

    manager.store.append(agent, build)


def test_cleanup_works_on_disk_and_keeps_trackers_consistent(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    _old(manager, "a", "a-old", 30)
    manager.update("a", "a-new", "p", "r")
    _old(manager, "b", "b-old", 10)
    other_process_view = SessionTracker("a", tmp_path)
    tracker_a = manager.tracker("a")
    assert tracker_a.interaction_count == 2

    removed = asyncio.run(manager.cleanup_old_sessions(days=7))

    assert removed == 2
    assert [(s.session_id, s.interaction_count) for s in tracker_a.session_chain] == [("a-new", 1)]
    assert tracker_a.interaction_count == 1 and tracker_a.current_session_id == "a-new"
    assert other_process_view.interaction_count == 1
    assert sorted(manager.all_sessions()) == ["a"]  # b had nothing left
    assert manager.update("a", "a-next", "p", "r").interaction_count == 2
    assert manager.cleanup(days=7) == 0
    with pytest.raises(ValueError, match="days must be a number >= 0"):
        manager.cleanup(days=-1)


def test_export_then_import_is_idempotent(tmp_path: Path) -> None:
    source = SessionManager(tmp_path / "src")
    for i in range(3):
        source.update("a", f"s{i}", f"prompt {i}", "r", cost_usd=0.1)
    source.update("b/../weird", "x", "p", "r")
    out = tmp_path / "export" / "sessions.json"
    exported = asyncio.run(source.export_sessions(out))
    assert json.loads(out.read_text()) == exported
    assert exported["agents"]["a"]["total_interactions"] == 3
    assert [s["session_id"] for s in exported["agents"]["a"]["sessions"]] == ["s0", "s1", "s2"]
    assert "export_date" in exported

    target = SessionManager(tmp_path / "dst")
    target.update("a", "local", "p", "r")
    assert asyncio.run(target.import_sessions(out)) == {"a": 3, "b/../weird": 1}
    assert target.import_(exported) == {"a": 0, "b/../weird": 0}  # merging twice adds nothing
    chain = target.tracker("a").session_chain
    assert [s.session_id for s in chain] == ["s0", "s1", "s2", "local"]
    assert [s.interaction_count for s in chain] == [1, 2, 3, 4]
    # exporting the merged store and importing it back into the source adds only the new step
    assert source.import_(target.export()) == {"a": 1, "b/../weird": 0}
    assert source.import_(target.export()) == {"a": 0, "b/../weird": 0}


def test_import_of_records_without_step_ids_is_idempotent(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    doc = {
        "agents": {
            "a": {
                "sessions": [
                    {"session_id": "s1", "created_at": "2026-01-01T00:00:00Z", "last_prompt": "p"},
                    {"session_id": "s1", "created_at": "2026-01-01T00:01:00Z", "last_prompt": "q"},
                ]
            }
        }
    }
    assert manager.import_(doc) == {"a": 2}
    assert manager.import_(doc) == {"a": 0}
    assert len(manager.tracker("a").session_chain) == 2


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "expected an object with an 'agents' object"),
        ({"agents": []}, "expected an object with an 'agents' object"),
        ({"format": "other", "agents": {}}, "has format 'other'"),
        ({"agents": {"a": {}}}, r"agents\['a'\] has no 'sessions' list"),
        ({"agents": {"a": {"sessions": [{"session_id": 5}]}}}, r"agents\['a'\]\.sessions\[0\]"),
    ],
)
def test_bad_exports_are_rejected_before_anything_is_written(
    tmp_path: Path, doc: object, message: str
) -> None:
    manager = SessionManager(tmp_path)
    with pytest.raises(ExportFormatError, match=message):
        manager.import_(doc)  # type: ignore[arg-type]
    assert manager.all_sessions() == {}


def test_import_from_a_bad_file_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    manager = SessionManager(tmp_path / "store")
    with pytest.raises(ExportFormatError, match=f"the export {bad} is not valid JSON"):
        manager.import_(bad)
    with pytest.raises(ExportFormatError, match="cannot read the export"):
        manager.import_(tmp_path / "missing.json")


def test_import_redacts_incoming_text(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    manager.import_(
        {
            "agents": {
                "a": {
                    "sessions": [
                        {"session_id": "s", "created_at": 0, "last_prompt": "key sk-ant-abcdefghijkl"}
                    ]
                }
            }
        }
    )
    assert manager.tracker("a").session_chain[0].last_prompt == "key [REDACTED:anthropic-key]"


def test_damaged_file_during_get_all_sessions_is_read_then_quarantined_by_a_write(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    manager.update("a", "s1", "p", "r")
    manager.update("a", "s2", "p", "r")
    path = manager.tracker("a").persistence_file
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b"\x00\x00garbage\n" + b"".join(lines[1:]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chains = manager.all_sessions()
    assert [s.session_id for s in chains["a"]] == ["s1", "s2"]
    assert any(issubclass(w.category, StoreWarning) and "next write" in str(w.message) for w in caught)
    assert manager.store.quarantined_files() == []  # a read never writes
    with pytest.warns(StoreWarning, match="corrupt-"):
        manager.update("a", "s3", "p", "r")
    assert len(manager.store.quarantined_files()) == 1
    assert [s.session_id for s in manager.all_sessions()["a"]] == ["s1", "s2", "s3"]


def test_hostile_agent_and_session_ids_survive_export_and_import(tmp_path: Path) -> None:
    ids = ["../..", "/", "a\0b", "x" * 10_000, "ünïcødé 🚀", "", "\ud800", "line\nbreak"]
    source = SessionManager(tmp_path / "src")
    for n, agent in enumerate(ids):
        source.update(agent, ids[-1 - n], "p", "r")
    out = tmp_path / "export.json"
    source.export(out)
    target = SessionManager(tmp_path / "dst")
    assert target.import_(out) == dict.fromkeys(ids, 1)
    assert target.import_(out) == dict.fromkeys(ids, 0)
    got = {agent: [s.session_id for s in chain] for agent, chain in target.all_sessions().items()}
    assert got == {agent: [ids[-1 - n]] for n, agent in enumerate(ids)}
    assert {p.parent for p in tmp_path.rglob("*") if p.is_file()} == {
        tmp_path,
        source.persistence_dir,
        target.persistence_dir,
    }


def test_get_all_sessions_leaves_out_agents_with_an_empty_chain(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    manager.update("kept", "s1", "p", "r")
    manager.update("was-reset", "s2", "p", "r")
    SessionTracker("was-reset", tmp_path).reset()  # another tracker, as another process would
    assert manager.tracker("was-reset").session_chain == []
    chains = asyncio.run(manager.get_all_sessions())
    assert list(chains) == ["kept"]
    assert list(manager.export()["agents"]) == ["kept"]
    # the agent is back with its next step, numbered from 1
    assert manager.update("was-reset", "s3", "p", "r").interaction_count == 1
    assert sorted(asyncio.run(manager.get_all_sessions())) == ["kept", "was-reset"]
