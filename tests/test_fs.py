"""fs.py: the one atomic write, the lock helper, no-follow opens, private lock directories, typed errors."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from pytest_claude_sessions import fs
from pytest_claude_sessions.cassettes.files import cassette_lock, lock_path_for
from pytest_claude_sessions.errors import CassetteError, CassetteLockError, LockTimeoutError, StoreError

needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root (chown)")


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_bytes_text_and_pieces(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    fs.atomic_write(target, b"one")
    assert target.read_bytes() == b"one"
    fs.atomic_write(target, "zwei ü")
    assert target.read_text(encoding="utf-8") == "zwei ü"
    fs.atomic_write(target, (bytes([65 + i % 26]) * 1000 for i in range(3000)), mode=0o600)
    assert target.stat().st_size == 3_000_000
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert _leftovers(tmp_path) == []


def test_atomic_write_refuses_a_planted_link_and_writes_nothing(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    store = tmp_path / "store"
    store.mkdir()
    link = store / "journal.jsonl"
    link.symlink_to(outside)
    with pytest.raises(StoreError, match=f"refusing to write the journal {link}: it is a symbolic link"):
        fs.atomic_write(link, b"evil", what="journal")
    assert outside.read_text() == "precious"
    assert link.is_symlink()
    assert _leftovers(store) == []


def test_atomic_write_error_class_is_the_callers_and_the_temp_file_goes(tmp_path: Path) -> None:
    target = tmp_path / "d" / "f"  # its directory does not exist
    with pytest.raises(CassetteError, match=f"cannot write the cassette {target}"):
        fs.atomic_write(target, b"x", error=CassetteError, what="cassette")

    def pieces() -> object:
        yield b"partial"
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError, match="producer failed"):
        fs.atomic_write(tmp_path / "g", pieces())  # type: ignore[arg-type]
    assert not (tmp_path / "g").exists()
    assert _leftovers(tmp_path) == []


def test_fs_error_names_the_path_and_the_cause() -> None:
    for code, words in (
        (errno.ENOSPC, "no space left"),
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only"),
        (errno.ELOOP, "symbolic link"),
    ):
        exc = fs.fs_error(OSError(code, os.strerror(code)), "/x/y", "write the journal")
        assert isinstance(exc, StoreError)
        assert str(exc).startswith("cannot write the journal /x/y: ")
        assert words in str(exc).lower()


def test_os_errors_maps_oserror_but_not_other_errors(tmp_path: Path) -> None:
    with (
        pytest.raises(StoreError, match="cannot read the thing") as info,
        fs.os_errors(tmp_path, "read the thing"),
    ):
        raise PermissionError(errno.EACCES, "Permission denied")
    assert isinstance(info.value.__cause__, PermissionError)
    with pytest.raises(KeyError), fs.os_errors(tmp_path, "read"):
        raise KeyError("k")


def test_open_nofollow_refuses_a_link_and_never_creates_its_target(tmp_path: Path) -> None:
    missing_target = tmp_path / "elsewhere" / "created-by-the-attack"
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "a.jsonl"
    link.symlink_to(missing_target)
    with pytest.raises(StoreError, match=f"{link}: it is a symbolic link"):
        fs.open_nofollow(link, os.O_RDWR | os.O_CREAT, what="journal")
    assert not missing_target.exists()
    fd = fs.open_nofollow(tmp_path / "plain", os.O_RDWR | os.O_CREAT)
    os.close(fd)
    assert (tmp_path / "plain").exists()


def test_fsync_dir_is_best_effort(tmp_path: Path) -> None:
    fs.fsync_dir(tmp_path)
    fs.fsync_dir(tmp_path / "missing")  # never raises: the data itself is synced already


# --------------------------------------------------------------------------- locks


def test_lock_is_a_sidecar_and_refuses_a_planted_link(tmp_path: Path) -> None:
    target = tmp_path / "j.jsonl"
    with fs.locked(target, timeout=1) as where:
        assert where == tmp_path / "j.jsonl.lock"
    victim = tmp_path / "victim"
    (tmp_path / "k.jsonl.lock").symlink_to(victim)
    with pytest.raises(StoreError, match=f"lock file {tmp_path / 'k.jsonl.lock'}: it is a symbolic link"):
        with fs.locked(tmp_path / "k.jsonl", timeout=1):
            pass
    assert not victim.exists()


def test_lock_held_by_another_process_times_out_with_the_lock_path(tmp_path: Path) -> None:
    lock_path = tmp_path / "x.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); "
            "print('held', flush=True); time.sleep(60)",
            str(lock_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(
            LockTimeoutError, match=f"could not acquire the store lock {lock_path} within 0.2s"
        ):
            with fs.locked(lock_path=lock_path, timeout=0.2):
                pass
    finally:
        holder.kill()
        holder.wait()
    with fs.locked(lock_path=lock_path, timeout=30):  # released by the holder's death
        pass


def test_lock_is_not_reentrant_unless_asked(tmp_path: Path) -> None:
    target = tmp_path / "r"
    with fs.locked(target, timeout=5):
        with pytest.raises(LockTimeoutError):
            with fs.locked(target, timeout=5):
                pass
        with fs.locked(target, timeout=5, reentrant=True):
            pass
    with fs.locked(target, timeout=0):  # the failed and the nested attempts left it released
        pass


def test_lock_excludes_threads(tmp_path: Path) -> None:
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(20):
            with fs.locked(tmp_path / "t", timeout=60):
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1


def test_lock_timeout_must_be_finite(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="finite"):
        with fs.locked(tmp_path / "f", timeout=float("inf")):
            pass


# --------------------------------------------------------------------------- private lock directories


def test_check_private_dir(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    assert fs.check_private_dir(mine) is None
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    assert fs.check_private_dir(open_dir) == "other users can write to it (mode 777)"
    link = tmp_path / "link"
    link.symlink_to(mine)
    assert fs.check_private_dir(link) == "it is a symbolic link"
    (tmp_path / "file").write_text("")
    assert fs.check_private_dir(tmp_path / "file") == "it is not a directory"


@pytest.fixture
def lock_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A private temp dir and cache home for the lock directory lookup."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cache = tmp_path / "cache"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return tmp, cache


def test_user_lock_dir_is_private_in_tmp(lock_env: tuple[Path, Path]) -> None:
    tmp, _ = lock_env
    where = fs.user_lock_dir("pcs-locks")
    assert where == tmp / f"pcs-locks-{os.geteuid()}"
    assert fs.check_private_dir(where) is None
    assert where.stat().st_mode & 0o777 == 0o700


@needs_root
def test_a_lock_dir_squatted_by_another_user_never_blocks_recording(
    lock_env: tuple[Path, Path], tmp_path: Path
) -> None:
    tmp, cache = lock_env
    squatted = tmp / f"pytest-claude-cassette-locks-{os.geteuid()}"
    squatted.mkdir()
    squatted.chmod(0o777)
    os.chown(squatted, 12345, 12345)
    cassette = tmp_path / "c.json"
    lock_path = lock_path_for(cassette)
    assert lock_path.parent == cache / "pytest-claude-cassette-locks"
    with cassette_lock(cassette, timeout=5):
        assert lock_path.exists()
    assert list(squatted.iterdir()) == []  # nothing of ours went into the other user's directory


@needs_root
def test_every_lock_dir_squatted_is_a_clear_error(lock_env: tuple[Path, Path], tmp_path: Path) -> None:
    tmp, cache = lock_env
    squatted = tmp / f"pytest-claude-cassette-locks-{os.geteuid()}"
    squatted.mkdir()
    os.chown(squatted, 12345, 12345)
    cache.mkdir()
    (cache / "pytest-claude-cassette-locks").symlink_to(squatted)
    with pytest.raises(CassetteLockError) as info:
        with cassette_lock(tmp_path / "c.json", timeout=5):
            pass
    text = str(info.value)
    assert f"{squatted}: it is owned by uid 12345" in text
    assert f"{cache / 'pytest-claude-cassette-locks'}: it is a symbolic link" in text
    assert "TMPDIR or XDG_CACHE_HOME" in text
