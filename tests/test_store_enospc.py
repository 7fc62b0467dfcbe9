"""A full disk (a real small tmpfs): a typed StoreError naming the path, nothing acknowledged lost."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_claude_sessions.errors import StoreError
from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.store.journal import parse_journal
from pytest_claude_sessions.store.session_store import SessionStore
from pytest_claude_sessions.store.tracker import SessionTracker


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (needs root and a kernel that lets this container mount one)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> Path:
    """Fill the file system but for a few bytes; returns the filler (remove it to free the space)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_a_store_error_naming_the_journal_and_loses_nothing(small_tmpfs: Path) -> None:
    store_dir = small_tmpfs / "store"
    tracker = SessionTracker("agent", store_dir, fsync=False)
    acknowledged = [tracker.update_session(f"s{i}", "p" * 100, "r").step_id for i in range(5)]
    filler = _fill(small_tmpfs)

    def until_full() -> None:
        for i in range(10_000):  # steps until one does not fit (the tracker caps a prompt's length)
            tracker.update_session(f"big{i}", "x" * 4000, "r")

    with pytest.raises(StoreError) as caught:
        until_full()
    message = str(caught.value)
    assert "no space left" in message
    assert str(store_dir) in message
    journal = SessionStore(store_dir, create=False).journal_path("agent")
    assert parse_journal(journal.read_bytes()).torn_tail == 0  # the failed write was cut back, not left torn
    chain = SessionStore(store_dir, create=False).load("agent")
    steps = [r.step_id for r in chain]
    assert steps[:5] == acknowledged  # every acknowledged step is still there
    filler.unlink()
    after = tracker.update_session("after", "p", "r")
    assert after.interaction_count == len(chain) + 1


def test_a_rewrite_on_a_full_disk_is_a_store_error_and_keeps_the_journal(small_tmpfs: Path) -> None:
    store = SessionStore(small_tmpfs / "store", fsync=False)
    for i in range(20):
        store.append(
            "agent",
            lambda count, last, i=i: SessionInfo(  # type: ignore[misc]
                f"s{i}", utcnow(), count, "p" * 2000, "r", agent_id="agent", step_id=uuid.uuid4().hex
            ),
        )
    path = store.journal_path("agent")
    before = path.read_bytes()
    filler = _fill(small_tmpfs)
    with pytest.raises(StoreError, match="no space left") as caught:
        store.compact("agent")  # a rewrite needs room for a second copy
    assert str(path) in str(caught.value) or str(store.directory) in str(caught.value)
    assert path.read_bytes() == before  # the old journal stands
    assert not [p for p in os.listdir(store.directory) if p.endswith(".tmp")]  # no temp file left behind
    filler.unlink()
    assert store.compact("agent") == 20
