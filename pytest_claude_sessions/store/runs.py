"""Run directories of the store: ``<base>/runs/<run id>``, one per pytest run, newest last by name.

The controller creates the run directory and holds an OS lock on it for the whole run, so pruning (by
another concurrent pytest run sharing the store) never deletes a run that is still being written.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

if TYPE_CHECKING:
    from pytest_claude_sessions.models import SessionInfo

RUNS_DIRNAME = "runs"
ACTIVE_LOCK_NAME = ".active.lock"
# Like .pytest_cache: the store is never committed (.gitignore) nor backed up (CACHEDIR.TAG).
STORE_MARKERS = {
    ".gitignore": "# Created by pytest-claude-sessions: the session store is never committed.\n*\n",
    "CACHEDIR.TAG": (
        "Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This file is a cache directory tag created by pytest-claude-sessions.\n"
        "# For information about cache directory tags, see:\n"
        "#\thttps://bford.info/cachedir/spec.html\n"
    ),
}
# 2026-11-24T05-23-07.123456Z-1a2b3c: sorts by time; the suffix keeps two runs in one microsecond apart.
RUN_ID_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{6}Z-[0-9a-f]{6}$")


def new_run_id() -> str:
    """A new sortable run id: the UTC start time plus a short random suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S.%fZ") + "-" + secrets.token_hex(3)


def is_run_id(name: str) -> bool:
    return bool(RUN_ID_RE.match(name))


def runs_root(base_dir: Path) -> Path:
    return base_dir / RUNS_DIRNAME


def list_runs(base_dir: Path) -> list[Path]:
    """The run directories under ``base_dir``, oldest first; anything not named like a run is ignored."""
    root = runs_root(base_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if is_run_id(p.name) and p.is_dir() and not p.is_symlink())


@dataclass
class RunDir:
    """This run's directory and the lock that marks it active while the run lasts."""

    run_id: str
    path: Path
    lock: FileLock
    created: tuple[Path, ...] = ()  # parent directories create_run made (the store, runs/), outermost first

    def release(self) -> None:
        self.lock.release(force=True)

    def discard_if_empty(self) -> bool:
        """Release the lock and remove the run directory if nothing was recorded in it.

        A suite whose tests never touch Claude then leaves no trace; the store and ``runs/`` directories
        go too when this run created them and they are empty. Returns whether the run was removed.
        """
        self.release()
        try:
            leftovers = [p for p in self.path.iterdir() if p.name != ACTIVE_LOCK_NAME]
            if leftovers:
                return False
            (self.path / ACTIVE_LOCK_NAME).unlink(missing_ok=True)
            self.path.rmdir()
        except OSError:
            return False  # something appeared meanwhile, or a pruner removed it: either way keep going
        for parent in reversed(self.created):
            try:
                if parent.name != RUNS_DIRNAME:
                    _remove_store_markers(parent)
                parent.rmdir()
            except OSError:
                break  # not empty (another run's data) or gone
        return True


def _is_store_only(base_dir: Path) -> bool:
    """The directory holds nothing but what the store puts there (so marking it cannot hide user files)."""
    return {p.name for p in base_dir.iterdir()} <= {RUNS_DIRNAME, *STORE_MARKERS}


def mark_store(base_dir: Path) -> None:
    """Write the store's ``.gitignore`` (``*``) and ``CACHEDIR.TAG`` where missing, only in a directory
    that holds nothing else: a store pointed at a directory with other files is left unmarked."""
    if not _is_store_only(base_dir):
        return
    for name, text in STORE_MARKERS.items():
        path = base_dir / name
        if not path.exists():
            try:
                with path.open("x", encoding="utf-8") as fh:
                    fh.write(text)
            except FileExistsError:
                pass  # a concurrent run wrote it first


def _remove_store_markers(base_dir: Path) -> None:
    if {p.name for p in base_dir.iterdir()} <= set(STORE_MARKERS):
        for name, text in STORE_MARKERS.items():
            path = base_dir / name
            # Only our own, unchanged files: never a user's edited .gitignore.
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                path.unlink()


def create_run(base_dir: Path) -> RunDir:
    """Create ``<base>/runs/<new run id>`` and lock it as active. Never reuses an existing directory.

    The directory is made under a staging name (``.creating-<id>``, which no pruner lists), locked, then
    renamed into place: another controller starting at the same moment never sees (and prunes) a run
    that is not locked yet. The store gets a ``.gitignore`` and a ``CACHEDIR.TAG`` (see :func:`mark_store`).
    """
    root = runs_root(base_dir)
    created = tuple(d for d in (base_dir, root) if not d.exists())
    for _ in range(20):
        try:
            root.mkdir(parents=True, exist_ok=True)
            mark_store(base_dir)
            run_id = new_run_id()
            staging = root / f".creating-{run_id}"
            staging.mkdir()
            lock = FileLock(str(staging / ACTIVE_LOCK_NAME), timeout=0)
            lock.acquire()
        except (FileNotFoundError, FileExistsError):
            continue  # a concurrent run removed the empty runs/ directory, or the id was taken: retry
        path = root / run_id
        try:
            os.rename(staging, path)  # the open lock keeps holding: it is the same file
        except OSError:
            lock.release(force=True)
            shutil.rmtree(staging, ignore_errors=True)
            continue
        return RunDir(run_id, path, lock, created)
    raise FileExistsError(f"could not create a fresh run directory under {root}")


def prune_runs(base_dir: Path, keep: int, *, current: Path | None = None) -> list[Path]:
    """Delete the oldest runs so that at most ``keep`` remain (``current`` counts and is never deleted).

    ``keep == 0`` keeps everything. A run whose active lock is held by a live process is skipped.
    Returns the deleted directories.
    """
    if keep <= 0:
        return []
    runs = list_runs(base_dir)
    others = [p for p in runs if current is None or p.resolve() != current.resolve()]
    budget = keep - 1 if current is not None else keep
    doomed = others[: max(0, len(others) - budget)]
    deleted: list[Path] = []
    for path in doomed:
        lock = FileLock(str(path / ACTIVE_LOCK_NAME), timeout=0)
        try:
            lock.acquire()
        except (Timeout, RuntimeError, OSError):
            continue  # another pytest run still writes here, or another pruner removed it meanwhile
        try:
            shutil.rmtree(path)
            deleted.append(path)
        except FileNotFoundError:
            pass  # another pruner got there first
        finally:
            lock.release(force=True)
    return deleted


def node_agent_id(nodeid: str, xdist_group: str | None = None) -> str:
    """The agent id for a test node: its node id without xdist's ``@group`` suffix."""
    if xdist_group and nodeid.endswith("@" + xdist_group):
        return nodeid[: -len(xdist_group) - 1]
    return nodeid


def iter_run_dirs_newest_first(base_dir: Path, *, exclude: Path | None = None) -> Iterator[Path]:
    for path in reversed(list_runs(base_dir)):
        if exclude is not None and path.resolve() == exclude.resolve():
            continue
        yield path


def session_history(
    base_dir: Path, agent_id: str, *, exclude: Path | None = None
) -> Iterator[tuple[str, list[SessionInfo]]]:
    """``(run_id, chain)`` of ``agent_id`` (a test's node id) in each earlier run, newest first.

    Runs where the agent recorded nothing are skipped; ``exclude`` (usually the current run) is left out.
    """
    from pytest_claude_sessions.store.session_store import SessionStore

    for path in iter_run_dirs_newest_first(base_dir, exclude=exclude):
        chain = SessionStore(path, create=False).load(agent_id)
        if chain:
            yield path.name, chain


@dataclass
class SessionHistory:
    """The chains one test node recorded in earlier runs (the ``claude_session_history`` fixture)."""

    base_dir: Path
    agent_id: str
    exclude: Path | None = None

    def runs(self) -> list[tuple[str, list[SessionInfo]]]:
        """Every earlier run's chain of this node, newest first."""
        return list(session_history(self.base_dir, self.agent_id, exclude=self.exclude))

    def previous(self) -> list[SessionInfo] | None:
        """The chain of the most recent earlier run that has one, else ``None``."""
        return next(
            (chain for _, chain in session_history(self.base_dir, self.agent_id, exclude=self.exclude)), None
        )
