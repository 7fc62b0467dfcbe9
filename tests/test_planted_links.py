"""A symbolic link planted where the plugin writes (a journal, its lock, a report, a baseline, a cassette)
is never written through: a clear error names the path, and the link's target is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_claude_sessions.errors import StoreError
from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.store.session_store import SessionStore
from pytest_claude_sessions.store.tracker import SessionTracker

VICTIM = b"precious\n"


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "outside" / "victim"
    victim.parent.mkdir()
    victim.write_bytes(VICTIM)
    return victim


def _step(count: int, last: SessionInfo | None) -> SessionInfo:
    return SessionInfo("s1", utcnow(), count, "p", "r", agent_id="a")


def test_a_link_at_a_journal_is_refused_naming_it(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    store = SessionStore(tmp_path / "store")
    journal = store.journal_path("a")
    journal.symlink_to(victim)
    with pytest.raises(StoreError, match="symbolic link") as caught:
        store.append("a", _step)
    assert str(journal) in str(caught.value)
    assert victim.read_bytes() == VICTIM


def test_a_link_at_a_journal_lock_is_a_store_error_not_a_raw_oserror(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    store = SessionStore(tmp_path / "store")
    lock = store.lock_path(store.journal_path("a"))
    lock.symlink_to(victim)
    with pytest.raises(StoreError) as caught:
        SessionTracker("a", tmp_path / "store").update_session("s1", "p", "r")
    assert str(lock) in str(caught.value)
    assert victim.read_bytes() == VICTIM


@pytest.mark.parametrize("option", ["--claude-json-report", "--claude-html", "--claude-save-baseline"])
def test_a_link_at_a_report_path_is_never_written_through(pytester: pytest.Pytester, option: str) -> None:
    victim = _victim(pytester.path)
    (pytester.path / "out.file").symlink_to(victim)
    pytester.makepyfile(
        test_inner="""
        def test_one(session_tracker):
            session_tracker.update_session("00000000-0000-4000-8000-000000000001", "p", "r")
        """
    )
    result = pytester.runpytest_subprocess(f"{option}=out.file", "-p", "no:asyncio")
    assert victim.read_bytes() == VICTIM
    out = result.stdout.str() + result.stderr.str()
    assert "symbolic link" in out and "out.file" in out, out
    assert result.ret != 0


def test_a_link_at_a_cassette_is_never_written_through(pytester: pytest.Pytester) -> None:
    victim = _victim(pytester.path)
    cassettes = pytester.path / "cassettes" / "test_inner"
    cassettes.mkdir(parents=True)
    (cassettes / "test_one.json").symlink_to(victim)
    pytester.makepyfile(
        test_inner="""
        import pytest

        @pytest.mark.claude_cassette
        def test_one(claude_executor):
            pass
        """
    )
    result = pytester.runpytest_subprocess("--claude-record-mode=all", "-p", "no:asyncio")
    assert victim.read_bytes() == VICTIM
    out = result.stdout.str() + result.stderr.str()
    assert "symbolic link" in out and "test_one.json" in out, out
