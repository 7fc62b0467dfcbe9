"""The one way the package writes files: atomic replace, directory fsync, sidecar locks, no-follow opens.

Every helper refuses to write through a symbolic link at its target and turns an ``OSError`` into a typed
error naming the path (the caller picks the class: ``StoreError``, ``CassetteError``, ...), with a hint
for the usual causes (disk full, permission denied, read-only file system, a planted link).

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from pytest_claude_sessions.errors import LockTimeoutError, StoreError

__all__ = [
    "LOCK_SUFFIX",
    "ErrorFactory",
    "atomic_write",
    "check_private_dir",
    "fs_error",
    "fsync_dir",
    "locked",
    "open_nofollow",
    "os_errors",
    "refuse_symlink",
    "sidecar_lock_path",
    "user_lock_dir",
    "write_all",
]

ErrorFactory = Callable[[str], Exception]
TimeoutFactory = Callable[[Path, float], Exception]

LOCK_SUFFIX = ".lock"
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_WRITE_BLOCK = 1024 * 1024

_HINTS = {
    errno.ENOSPC: "no space left on the device: free some space (nothing acknowledged was lost)",
    errno.EDQUOT: "the disk quota is exceeded: free some space (nothing acknowledged was lost)",
    errno.EACCES: "permission denied: check the owner and mode of the file and its directory",
    errno.EPERM: "operation not permitted: check the owner and mode of the file and its directory",
    errno.EROFS: "the file system is read-only: point the path at a writable directory",
    errno.ELOOP: "it is a symbolic link (or a link loop), which is never followed for writing: remove it",
    errno.ENAMETOOLONG: "the name is too long for the file system: use a shorter path",
    errno.ENOTDIR: "a component of the path is not a directory",
    errno.EISDIR: "it is a directory",
}


# --------------------------------------------------------------------------- errors


def fs_error(
    exc: OSError, path: str | os.PathLike[str], action: str, error: ErrorFactory = StoreError
) -> Exception:
    """``error(...)`` saying that ``action`` failed on ``path``, why (``exc``), and what to do."""
    reason = exc.strerror or str(exc)
    hint = _HINTS.get(exc.errno or 0)
    text = f"cannot {action} {os.fspath(path)}: {reason}"
    if hint and hint != reason:
        text += f" ({hint})"
    return error(text)


@contextlib.contextmanager
def os_errors(path: str | os.PathLike[str], action: str, error: ErrorFactory = StoreError) -> Iterator[None]:
    """Re-raise any ``OSError`` inside the block as :func:`fs_error` (the original as its cause)."""
    try:
        yield
    except Timeout:  # filelock's Timeout is an OSError; lock helpers turn it into their own error
        raise
    except OSError as exc:
        raise fs_error(exc, path, action, error) from exc


def refuse_symlink(
    path: str | os.PathLike[str], what: str = "file", error: ErrorFactory = StoreError
) -> None:
    """Raise ``error`` when ``path`` itself is a symbolic link (a missing path is fine)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise fs_error(exc, path, f"inspect the {what}", error) from exc
    if stat.S_ISLNK(st.st_mode):
        try:
            target = f" (pointing to {os.readlink(path)})"
        except OSError:
            target = ""
        raise error(
            f"refusing to write the {what} {os.fspath(path)}: it is a symbolic link{target}, which is never "
            f"followed for writing; remove it (someone may have planted it)"
        )


# --------------------------------------------------------------------------- writing


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """``os.write`` until every byte is written (a write may be short)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_pieces(fd: int, pieces: Iterable[bytes]) -> None:
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= _WRITE_BLOCK:
            write_all(fd, buffer)
            buffer.clear()
    write_all(fd, buffer)


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Sync a directory so a rename or a new file in it survives a crash (best effort: not every platform
    or file system can open a directory; the data itself is synced already)."""
    try:
        fd = os.open(directory, os.O_RDONLY | _O_CLOEXEC | _O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str | Iterable[bytes],
    *,
    mode: int = 0o644,
    fsync: bool = True,
    error: ErrorFactory = StoreError,
    what: str = "file",
) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never a torn one.

    A temp file in the same directory (``mkstemp``) is written, flushed, synced, given ``mode``, renamed
    over ``path`` (``os.replace``) and the directory synced; on any error the temp file is removed. ``data``
    is bytes, text (UTF-8) or byte pieces written in turn (a long journal is never joined in memory).
    ``fsync=False`` skips both syncs (speed over power-loss durability). A symbolic link at ``path`` is
    refused; every ``OSError`` becomes ``error`` naming the path.
    """
    target = Path(path)
    refuse_symlink(target, what, error)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with os_errors(target, f"write the {what}", error):
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:100]}.", suffix=".tmp")
        try:
            try:
                if isinstance(data, bytes | bytearray | memoryview):
                    write_all(fd, data)
                else:
                    _write_pieces(fd, data)
                if fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, mode)  # mkstemp makes 0600
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    if fsync:
        fsync_dir(target.parent)


def open_nofollow(
    path: str | os.PathLike[str],
    flags: int,
    mode: int = 0o644,
    *,
    error: ErrorFactory = StoreError,
    what: str = "file",
) -> int:
    """``os.open`` that never follows a symbolic link at ``path`` (``O_NOFOLLOW``, plus ``O_CLOEXEC``).

    Returns the descriptor; a link, like any other ``OSError``, raises ``error`` naming the path.
    """
    try:
        return os.open(path, flags | _O_NOFOLLOW | _O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno in (errno.EEXIST, errno.EMLINK) and os.path.islink(path)):
            refuse_symlink(path, what, error)
        raise fs_error(exc, path, f"open the {what}", error) from exc


# --------------------------------------------------------------------------- locks


def sidecar_lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file beside ``path``: ``<path>.lock``."""
    target = Path(path)
    return target.with_name(target.name + LOCK_SUFFIX)


class _LockRegistry:
    """One ``FileLock`` object per lock path in this process.

    filelock raises a deadlock error when two objects for one path are acquired in one thread, so every
    user of a path must share its object; it lives while somebody holds it (weak values), and a forked child
    starts afresh (it must not share the parent's descriptors). ``thread_local=True`` (filelock's default)
    keeps threads sharing an object mutually exclusive.
    """

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._guard = threading.Lock()
        self._locks: weakref.WeakValueDictionary[str, FileLock] = weakref.WeakValueDictionary()

    def get(self, lock_path: Path) -> FileLock:
        key = os.path.abspath(lock_path)
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._guard = threading.Lock()
            self._locks = weakref.WeakValueDictionary()
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = FileLock(key, is_singleton=False)
                self._locks[key] = lock
            return lock


# Process-wide on purpose: the rule it enforces (one object per path) is filelock's, per process and thread.
_REGISTRY = _LockRegistry()


@contextlib.contextmanager
def locked(
    path: str | os.PathLike[str] | None = None,
    *,
    timeout: float,
    lock_path: str | os.PathLike[str] | None = None,
    on_timeout: TimeoutFactory = LockTimeoutError,
    error: ErrorFactory = StoreError,
    reentrant: bool = False,
) -> Iterator[Path]:
    """Hold the lock of ``path`` (its sidecar ``<path>.lock``) or of ``lock_path``; yields the lock path.

    A lock this thread already holds counts as held by another (waiting could never end) unless
    ``reentrant``, for code whose own nested calls take it again. The wait is finite: after
    ``timeout`` seconds ``on_timeout(lock_path, timeout)`` is raised (by default
    :class:`LockTimeoutError`, which names the lock and what to do). A symbolic link at the lock path is
    refused, and an ``OSError`` taking the lock becomes ``error`` naming it. The lock's directory must exist.
    Never hold a lock across a Claude CLI call.
    """
    if lock_path is None:
        if path is None:
            raise TypeError("locked() needs a path or a lock_path")
        lock_path = sidecar_lock_path(path)
    where = Path(lock_path)
    if not (0 <= timeout < float("inf")):
        raise ValueError(f"lock timeout must be a finite number of seconds >= 0, got {timeout!r}")
    refuse_symlink(where, "lock file", error)
    lock = _REGISTRY.get(where)
    if lock.is_locked and not reentrant:
        # Held by this very thread (filelock's state is per thread): re-entering would let nested code (a
        # pruner, a second writer) into what the outer block holds.
        raise on_timeout(where, timeout)
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        raise on_timeout(where, timeout) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            refuse_symlink(where, "lock file", error)
        raise fs_error(exc, where, "take the lock", error) from exc
    try:
        yield where
    finally:
        lock.release()


# --------------------------------------------------------------------------- private directories


def check_private_dir(directory: str | os.PathLike[str]) -> str | None:
    """Why ``directory`` is not a private directory of this user (``None`` when it is one): it must be a
    real directory (no link), owned by the effective user, writable by nobody else."""
    try:
        st = os.lstat(directory)
    except OSError as exc:
        return f"cannot inspect it: {exc.strerror or exc}"
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return f"it is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
    if st.st_mode & 0o022:
        return f"other users can write to it (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def user_lock_dir(name: str, *, error: ErrorFactory = StoreError) -> Path:
    """A lock directory private to this user, the same for every process of the user on this machine.

    ``<tmp>/<name>-<uid>`` first; when that is not private (another local user created it first, or a link
    was planted there) ``$XDG_CACHE_HOME`` (default ``~/.cache``) ``/<name>``, which other users cannot
    squat. Every process of the user sees the same squat and so picks the same directory. ``error`` names
    every place tried when none is private.
    """
    uid = os.geteuid() if hasattr(os, "geteuid") else "user"
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates = [Path(tempfile.gettempdir()) / f"{name}-{uid}", Path(cache_home) / name]
    problems: list[str] = []
    for candidate in candidates:
        with contextlib.suppress(OSError):
            candidate.mkdir(mode=0o700, parents=True, exist_ok=True)
        problem = check_private_dir(candidate)
        if problem is None:
            return candidate
        problems.append(f"{candidate}: {problem}")
    raise error(
        "no private lock directory for this user: " + "; ".join(problems) + ". Another local user may have "
        "created these first: remove them, or set TMPDIR or XDG_CACHE_HOME to a directory of your own"
    )
