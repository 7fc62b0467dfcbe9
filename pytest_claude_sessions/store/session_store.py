"""The session store: the journals of a directory, with locked O(1) appends, incremental reads that never
write, repairs that keep every damaged byte, rewrites, merges and legacy migration (the file format is
:mod:`pytest_claude_sessions.store.journal`)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from pytest_claude_sessions import fs
from pytest_claude_sessions.errors import StoreCorruptionError, StoreError, StoreWarning
from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.redact import Redactor
from pytest_claude_sessions.store.journal import (
    CORRUPT_INFIX,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_KEY,
    JOURNAL_SUFFIX,
    LEGACY_SUFFIX,
    MIGRATED_SUFFIX,
    O_CLOEXEC,
    READ_BLOCK,
    TORN_INFIX,
    agent_of_file,
    decode_line,
    encode_line,
    header_problem,
    journal_name,
    last_line_of,
    parse_fd_journal,
    parse_journal,
    parse_legacy,
    parse_path,
    preserve_copy,
    read_range,
    record_from_parsed,
    resolve_fsync,
    resolve_lock_timeout,
    timestamp_tag,
    union_chains,
    unique_sibling,
)

__all__ = ["FileCheck", "JournalCursor", "ReadResult", "SessionStore"]


@dataclass(frozen=True)
class JournalCursor:
    """Where a reader stopped: lets :meth:`SessionStore.read` return only what was appended since."""

    path: Path
    inode: int | None = None
    header_line: bytes = b""
    offset: int = 0


@dataclass
class ReadResult:
    """``records`` is the whole chain when ``full``, else only the steps appended after the cursor."""

    records: list[SessionInfo]
    full: bool
    cursor: JournalCursor


@dataclass(frozen=True)
class FileCheck:
    """Result of inspecting one store file without changing it."""

    path: Path
    ok: bool
    detail: str
    agent_id: str | None = None
    records: int = 0


class SessionStore:
    """One directory of per-agent journals. Thread-safe; safe across processes sharing the directory.

    ``fsync`` (default on, or ``$CLAUDE_SESSIONS_FSYNC``): sync every append before returning; off trades
    crash durability of the last appends (power loss, not process death) for speed. ``lock_timeout``
    (default 30 s, or ``$CLAUDE_SESSIONS_LOCK_TIMEOUT``): how long to wait for another writer before
    :class:`LockTimeoutError`. ``redactor``: applied to records imported by :meth:`merge` and by legacy
    migration.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        fsync: bool | None = None,
        lock_timeout: float | None = None,
        redactor: Redactor | None = None,
        create: bool = True,
    ) -> None:
        # realpath: every process must lock the very same lock file, whatever symlinks lead to the store.
        self.directory = Path(os.path.realpath(Path(directory).expanduser()))
        self.fsync = resolve_fsync(fsync)
        self.lock_timeout = resolve_lock_timeout(lock_timeout)
        self.redactor = redactor
        self._damaged: set[Path] = set()  # journals a read found damaged: the next write repairs them first
        if create:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the session store directory {self.directory}: {exc}"
                ) from exc
        if self.directory.exists() and not self.directory.is_dir():
            raise StoreError(f"the session store path {self.directory} exists and is not a directory")

    def __repr__(self) -> str:
        return (
            f"SessionStore({str(self.directory)!r}, fsync={self.fsync}, lock_timeout={self.lock_timeout:g})"
        )

    # ----------------------------------------------------------------- paths and locks

    def journal_path(self, agent_id: str) -> Path:
        """The journal of ``agent_id`` (inside the directory for any string)."""
        return self.directory / journal_name(agent_id)

    def legacy_path(self, agent_id: str) -> Path | None:
        """Where the older format kept ``agent_id`` (``<agent_id>_sessions.json``), if that name is safe."""
        name = f"{agent_id}{LEGACY_SUFFIX}"
        if (
            not agent_id
            or agent_id in (".", "..")
            or agent_id.startswith(".")
            or any(c in agent_id for c in "/\\\0")
            or len(name.encode("utf-8", "surrogatepass")) > 255
        ):
            return None
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return self.directory / name

    @staticmethod
    def lock_path(path: Path) -> Path:
        """The sidecar lock file of a journal."""
        return fs.sidecar_lock_path(path)

    @contextlib.contextmanager
    def locked(self, path: Path, timeout: float | None = None) -> Iterator[None]:
        """Hold the sidecar lock of ``path``; :class:`LockTimeoutError` naming the lock file on timeout."""
        # reentrant: the store's own nested calls (a read that repairs, inside a rewrite) take it again
        with fs.locked(path, timeout=self.lock_timeout if timeout is None else timeout, reentrant=True):
            yield

    # ----------------------------------------------------------------- append (the hot path)

    def append(self, agent_id: str, build: Callable[[int, SessionInfo | None], SessionInfo]) -> SessionInfo:
        """Append one step. ``build(count, last)`` runs under the lock with the next ``interaction_count``
        and the previous step (or ``None``) and returns the record to write. Cost: O(1) in the chain length.
        """
        self._migrate_legacy_for(agent_id)
        path = self.journal_path(agent_id)
        with self.locked(path):
            if path in self._damaged:
                self._damaged.discard(path)
                self._repair_locked(agent_id, path)
            for _attempt in range(2):
                fd = fs.open_nofollow(path, os.O_RDWR | os.O_CREAT, 0o644, what="journal")
                try:
                    state = self._prepare_tail(fd, path, agent_id)
                    if state is not None:
                        prefix, count, last, created = state
                        info = build(count + 1, last)
                        info.interaction_count = count + 1
                        line = encode_line(info.to_dict())
                        self._write_step(fd, path, prefix + line)
                        if created:
                            fs.fsync_dir(self.directory)
                        return info
                finally:
                    os.close(fd)
                self._repair_locked(agent_id, path)
        raise StoreCorruptionError(f"the journal {path} could not be repaired for an append", path=path)

    def _write_step(self, fd: int, path: Path, data: bytes) -> None:
        """Under the lock: append ``data``; on any ``OSError`` (a full disk, ...) cut back what this write
        added (it was never acknowledged) and raise a :class:`StoreError` naming the journal."""
        start = os.lseek(fd, 0, os.SEEK_END)
        with fs.os_errors(path, "append to the journal"):
            try:
                fs.write_all(fd, data)
                if self.fsync:
                    os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise

    def _header_bytes(self, agent_id: str) -> bytes:
        return encode_line(
            {
                HEADER_KEY: FORMAT_NAME,
                "version": FORMAT_VERSION,
                "agent_id": agent_id,
                "created_at": utcnow().isoformat(),
                "generation": uuid.uuid4().hex,  # changes on every rewrite: readers detect a replaced file
            }
        )

    def _prepare_tail(
        self, fd: int, path: Path, agent_id: str
    ) -> tuple[bytes, int, SessionInfo | None, bool] | None:
        """Under the lock: cut a torn tail, find the last count. ``None`` when the tail is damaged."""
        size = os.fstat(fd).st_size
        end, last_line = last_line_of(fd, size)
        if end < size:
            kept = self._keep_torn_tail(fd, path, end, size)
            os.ftruncate(fd, end)
            if self.fsync:
                os.fsync(fd)
            warnings.warn(
                f"repaired {path}: dropped a torn last line ({size - end} bytes of a write that never "
                f"finished, e.g. a killed process); its bytes are kept at {kept}",
                StoreWarning,
                stacklevel=4,
            )
        if last_line is None:  # empty (or only a torn header): start the journal
            return self._header_bytes(agent_id), 0, None, size == 0
        if not last_line.strip():  # blank lines are harmless but hide the last record: rare, parse it all
            parsed = parse_fd_journal(fd, end)
            if not parsed.ok:
                return None
            if parsed.records:
                last = parsed.records[-1]
                return b"", last.interaction_count, last, False
            prefix = b"" if parsed.header is not None else self._header_bytes(agent_id)
            return prefix, 0, None, False
        try:
            obj = json.loads(decode_line(last_line))
        except (ValueError, RecursionError):
            return None
        if isinstance(obj, dict) and HEADER_KEY in obj:
            if header_problem(obj):
                return None
            if obj.get("agent_id") != agent_id:
                raise StoreError(
                    f"the journal {path} belongs to agent {obj.get('agent_id')!r}, not {agent_id!r} "
                    f"(a copied or renamed file?); move it away"
                )
            return b"", 0, None, False
        try:
            last = record_from_parsed(obj)
        except ValueError:
            return None
        if last.agent_id is not None and last.agent_id != agent_id:
            raise StoreError(
                f"the journal {path} belongs to agent {last.agent_id!r}, not {agent_id!r} "
                f"(a copied or renamed file?); move it away"
            )
        return b"", last.interaction_count, last, False

    def _keep_torn_tail(self, fd: int, path: Path, end: int, size: int) -> Path:
        """Under the lock: copy the bytes after the last newline aside before they are cut. A file with no
        complete line has no valid header: it is quarantined whole (``.corrupt-``); otherwise the tail of an
        unfinished write goes to ``.torn-`` (a killed writer is not damage)."""

        def pieces() -> Iterator[bytes]:  # in blocks: a torn tail may be any size
            for offset in range(end, size, READ_BLOCK):
                yield os.pread(fd, min(READ_BLOCK, size - offset), offset)

        kept = unique_sibling(path, (CORRUPT_INFIX if end == 0 else TORN_INFIX) + timestamp_tag())
        fs.atomic_write(kept, pieces(), mode=0o600, fsync=self.fsync, what="copy of a torn journal tail")
        return kept

    def _keep_torn_tail_of(self, path: Path) -> None:
        """Under the lock, before a rewrite or a removal drops it: keep a torn tail aside."""
        if not os.path.lexists(path):  # under the lock: nobody creates it meanwhile
            return
        fd = fs.open_nofollow(path, os.O_RDONLY, what="journal", error=StoreError)
        try:
            size = os.fstat(fd).st_size
            end, _ = last_line_of(fd, size)
            if end < size:
                self._keep_torn_tail(fd, path, end, size)
        finally:
            os.close(fd)

    # ----------------------------------------------------------------- reading

    def load(self, agent_id: str) -> list[SessionInfo]:
        """The whole chain of ``agent_id`` (empty when it has none)."""
        return self.read(agent_id).records

    def read(self, agent_id: str, cursor: JournalCursor | None = None) -> ReadResult:
        """Read the chain, or with a ``cursor`` only the steps appended since (falls back to a full read
        when the file was replaced or truncated). A read never writes: a damaged journal gives its
        recoverable records (the next write quarantines and repairs it), a legacy file is read in memory
        (the next write migrates it)."""
        legacy = self.legacy_path(agent_id)
        if legacy is None or not os.path.exists(legacy):
            return self._read_journal(agent_id, cursor)
        full = self._read_journal(agent_id)  # legacy files are rare: no incremental read beside one
        try:
            owner, records, _bad = parse_legacy(legacy)
        except (OSError, ValueError):
            return full  # unreadable: the next write quarantines it
        combined, added = union_chains(full.records, records, agent_id, self.redactor)
        if owner != agent_id or not added:
            return full
        # numbered as the migration will number them; a cursor without an inode: the next read is full
        numbered = [replace(r, interaction_count=i) for i, r in enumerate(combined, start=1)]
        return ReadResult(numbered, True, JournalCursor(full.cursor.path))

    def _read_journal(
        self, agent_id: str, cursor: JournalCursor | None = None, *, repair: bool = False
    ) -> ReadResult:
        path = self.journal_path(agent_id)
        for _attempt in range(3):
            try:
                fd = os.open(path, os.O_RDONLY | O_CLOEXEC)
            except FileNotFoundError:
                return ReadResult([], True, JournalCursor(path))
            try:
                st = os.fstat(fd)
                if (
                    cursor is not None
                    and cursor.path == path
                    and cursor.inode == st.st_ino
                    and cursor.header_line
                    and st.st_size >= cursor.offset
                    and read_range(fd, 0, len(cursor.header_line)) == cursor.header_line
                ):
                    if st.st_size == cursor.offset:
                        return ReadResult([], False, cursor)
                    chunk = read_range(fd, cursor.offset, st.st_size - cursor.offset)
                    parsed = parse_journal(chunk, expect_header=False)
                    if parsed.ok:
                        new_cursor = replace(cursor, offset=cursor.offset + parsed.complete_length)
                        return ReadResult(parsed.records, False, new_cursor)
                    # damage in the new bytes: fall through to a full read, which repairs
                parsed = parse_fd_journal(fd, st.st_size)
            finally:
                os.close(fd)
            if parsed.header is not None and parsed.header.get("agent_id") != agent_id:
                owner = parsed.header.get("agent_id")
                raise StoreError(
                    f"the journal {path} belongs to agent {owner!r}, not {agent_id!r} "
                    f"(a copied or renamed file?); move it away"
                )
            if not parsed.ok and not repair:
                warnings.warn(
                    f"the journal {path} is damaged ({parsed.describe_damage()}); returning the "
                    f"{len(parsed.records)} recoverable records; the next write moves the file to "
                    f"*{CORRUPT_INFIX}<time> and rewrites them",
                    StoreWarning,
                    stacklevel=3,
                )
                self._damaged.add(path)
                # numbered by position, as the repair will number them
                numbered = [replace(r, interaction_count=i) for i, r in enumerate(parsed.records, start=1)]
                return ReadResult(numbered, True, JournalCursor(path))
            if not parsed.ok:
                try:
                    with self.locked(path):
                        self._repair_locked(agent_id, path)
                except (OSError, StoreCorruptionError) as exc:
                    # A read-only store (CI artifacts, another user's directory): serve what can be recovered
                    # without moving anything; a writer with permissions will quarantine it.
                    warnings.warn(
                        f"the journal {path} is damaged ({parsed.describe_damage()}) and could not be "
                        f"quarantined ({exc}); returning the {len(parsed.records)} recoverable records, the "
                        f"file is left as it is",
                        StoreWarning,
                        stacklevel=3,
                    )
                    return ReadResult(parsed.records, True, JournalCursor(path))
                continue
            if parsed.torn_tail:
                self._warn_if_still_torn(path, parsed.complete_length)
            return ReadResult(
                parsed.records,
                True,
                JournalCursor(path, st.st_ino, parsed.header_line, parsed.complete_length),
            )
        raise StoreCorruptionError(f"the journal {path} keeps failing to load after repair", path=path)

    def _warn_if_still_torn(self, path: Path, complete_length: int) -> None:
        # A reader without the lock may see a writer's line half-written; only a tail still torn while we hold
        # the lock is a real leftover of a killed writer.
        try:
            with self.locked(path, timeout=min(self.lock_timeout, 5.0)):
                fd = os.open(path, os.O_RDONLY | O_CLOEXEC)
                try:
                    size = os.fstat(fd).st_size
                    end, _ = last_line_of(fd, size)
                finally:
                    os.close(fd)
                if end == size:
                    return
        except (OSError, StoreError):
            pass
        warnings.warn(
            f"{path}: skipped a torn last line (an unfinished write); the next write will cut it off",
            StoreWarning,
            stacklevel=4,
        )

    # ----------------------------------------------------------------- rewrites

    def _write_journal(
        self, path: Path, agent_id: str, records: Iterable[SessionInfo], *, keep_torn: bool = True
    ) -> int:
        """Under the lock: atomically replace the journal with ``records`` renumbered 1..n (a torn tail it
        replaces is kept aside first, unless the caller kept the whole file)."""
        if keep_torn:
            self._keep_torn_tail_of(path)
        # Rewrites only happen under this lock, so a temp file of this journal is a dead writer's leftover.
        for stale in path.parent.glob(f".{glob.escape(path.name[:100])}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
        count = 0

        def lines() -> Iterator[bytes]:
            nonlocal count
            yield self._header_bytes(agent_id)
            for count, info in enumerate(records, start=1):
                info.interaction_count = count
                yield encode_line(info.to_dict())

        fs.atomic_write(path, lines(), what="journal")
        return count

    def _repair_locked(self, agent_id: str, path: Path) -> None:
        """Under the lock: move a damaged journal aside and rewrite its recoverable records."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        parsed = parse_journal(data)
        if parsed.ok:
            return  # somebody repaired it first
        quarantine = unique_sibling(path, CORRUPT_INFIX + timestamp_tag())
        try:
            preserve_copy(path, quarantine)
            self._write_journal(path, agent_id, parsed.records, keep_torn=False)  # the copy holds it all
        except OSError as exc:
            raise StoreCorruptionError(
                f"the journal {path} is damaged ({parsed.describe_damage()}) and could not be "
                f"repaired: {exc}",
                path=path,
                quarantined_to=quarantine if quarantine.exists() else None,
            ) from exc
        warnings.warn(
            f"the journal {path} was damaged ({parsed.describe_damage()}): the original is kept at "
            f"{quarantine}; {len(parsed.records)} recoverable records were kept in a fresh journal",
            StoreWarning,
            stacklevel=4,
        )

    def reset(self, agent_id: str) -> None:
        """Empty the chain of ``agent_id`` (atomic rewrite to a header-only journal)."""
        self._migrate_legacy_for(agent_id)
        path = self.journal_path(agent_id)
        with self.locked(path):
            self._write_journal(path, agent_id, [])

    def compact(self, agent_id: str) -> int:
        """Rewrite the journal from its records (drops a torn tail, renumbers); returns the step count."""
        self._migrate_legacy_for(agent_id)
        path = self.journal_path(agent_id)
        with self.locked(path):
            records = self._read_journal(agent_id, repair=True).records
            if not path.exists():
                return 0
            return self._write_journal(path, agent_id, records)

    def remove_older_than(self, agent_id: str, cutoff: datetime) -> int:
        """Drop the steps created before ``cutoff``; renumber the rest 1..n. Deletes a journal left empty.
        Returns how many steps were removed."""
        self._migrate_legacy_for(agent_id)
        path = self.journal_path(agent_id)
        with self.locked(path):
            records = self._read_journal(agent_id, repair=True).records
            kept = [r for r in records if r.created_at >= cutoff]
            removed = len(records) - len(kept)
            if removed:
                if kept:
                    self._write_journal(path, agent_id, kept)
                else:
                    self._keep_torn_tail_of(path)
                    path.unlink()
                    fs.fsync_dir(self.directory)
            return removed

    def merge(self, agent_id: str, records: Iterable[SessionInfo]) -> int:
        """Union ``records`` into the chain, keyed by :func:`record_key`, renumbered 1..n, atomic rewrite.
        The two chains are interleaved by ``created_at`` at their heads, each keeping its own order (a clock
        that stepped back never reorders a chain). A record naming another agent is refused
        (:class:`StoreError`, nothing written). Idempotent: returns how many steps were new (0: untouched)."""
        incoming = list(records)
        strangers = [r for r in incoming if r.agent_id is not None and r.agent_id != agent_id]
        if strangers:
            raise StoreError(
                f"cannot merge into agent {agent_id!r}: {len(strangers)} record(s) name another agent "
                f"(first: {strangers[0].agent_id!r}, session {strangers[0].session_id}); "
                "merge them into their own"
            )
        self._migrate_legacy_for(agent_id)
        with self.locked(self.journal_path(agent_id)):
            return self._merge_locked(agent_id, incoming)

    def _merge_locked(self, agent_id: str, incoming: list[SessionInfo]) -> int:
        path = self.journal_path(agent_id)
        current = self._read_journal(agent_id, repair=True).records
        combined, added = union_chains(current, incoming, agent_id, self.redactor)
        if added:
            self._write_journal(path, agent_id, combined)
        return added

    # ----------------------------------------------------------------- the whole directory

    def _files(self, keep: Callable[[str], bool]) -> list[Path]:
        """The regular files of the directory whose names ``keep`` accepts, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if keep(p.name) and p.is_file())

    def journal_files(self) -> list[Path]:
        """Every journal file in the directory (not locks, temp files or quarantined copies)."""
        return self._files(lambda name: name.endswith(JOURNAL_SUFFIX) and not name.startswith("."))

    def legacy_files(self) -> list[Path]:
        """Files in the older single-document format still waiting for migration."""
        return self._files(lambda name: name.endswith(LEGACY_SUFFIX) and not name.startswith("."))

    def quarantined_files(self) -> list[Path]:
        """Damaged files moved aside (``*.corrupt-<timestamp>``)."""
        return self._files(lambda name: CORRUPT_INFIX in name)

    def torn_tails(self) -> list[Path]:
        """Tails of unfinished writes cut off a journal, kept aside (``*.torn-<timestamp>``)."""
        return self._files(lambda name: TORN_INFIX in name)

    def agent_ids(self) -> list[str]:
        """Every agent with a journal or a legacy file in the directory (a read: nothing is migrated)."""
        agents: list[str] = []
        for path in self.journal_files():
            agent = agent_of_file(path)
            if agent is None:
                warnings.warn(
                    f"{path}: cannot tell which agent this journal belongs to (no readable header or record "
                    f"with an agent_id); left untouched",
                    StoreWarning,
                    stacklevel=2,
                )
                continue
            if self.journal_path(agent) != path:
                warnings.warn(
                    f"{path} holds agent {agent!r} whose journal is {self.journal_path(agent).name}; "
                    f"a copied or renamed file? left untouched",
                    StoreWarning,
                    stacklevel=2,
                )
                continue
            agents.append(agent)
        for legacy in self.legacy_files():
            with contextlib.suppress(OSError, ValueError):
                owner = parse_legacy(legacy)[0]
                if self.legacy_path(owner) == legacy:
                    agents.append(owner)
        return list(dict.fromkeys(agents))

    def load_all(self) -> dict[str, list[SessionInfo]]:
        """``{agent_id: chain}`` for every agent in the directory, also those written by other processes."""
        return {agent: self.load(agent) for agent in self.agent_ids()}

    def check_files(self) -> list[FileCheck]:
        """Inspect every journal and legacy file without changing anything (for health checks)."""
        checks: list[FileCheck] = []
        for path in self.journal_files():
            try:
                parsed = parse_path(path)
            except OSError as exc:
                checks.append(FileCheck(path, False, f"unreadable: {exc}"))
                continue
            agent = parsed.header.get("agent_id") if parsed.header else None
            if not parsed.ok:
                checks.append(
                    FileCheck(path, False, f"damaged: {parsed.describe_damage()}", agent, len(parsed.records))
                )
            else:
                note = f"{len(parsed.records)} steps"
                if parsed.torn_tail:
                    note += f", torn last line ({parsed.torn_tail} bytes, repaired at the next write)"
                checks.append(FileCheck(path, True, note, agent, len(parsed.records)))
        for path in self.legacy_files():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                ok = isinstance(doc, dict) and isinstance(doc.get("sessions"), list)
                detail = (
                    "legacy file, migrated on first read" if ok else "legacy file without a sessions list"
                )
            except (OSError, ValueError, RecursionError) as exc:
                ok, detail = False, f"legacy file unreadable: {exc}"
            checks.append(FileCheck(path, ok, detail))
        return checks

    # ----------------------------------------------------------------- legacy format

    def _migrate_legacy_for(self, agent_id: str) -> None:
        legacy = self.legacy_path(agent_id)
        if legacy is not None and os.path.exists(legacy):
            self.migrate_legacy(legacy)

    def migrate_legacy(self, legacy: Path) -> str | None:
        """Import ``<agent_id>_sessions.json`` (the older single-document format) into the agent's journal
        without loss, then rename it to ``*.migrated`` as a backup. Returns the agent id, ``None`` when the
        file is unreadable (then it is moved to ``*.corrupt-<timestamp>`` with a warning)."""
        try:
            parsed = parse_legacy(legacy)
        except FileNotFoundError:
            return None  # migrated meanwhile by another process
        except ValueError as exc:
            self._quarantine_legacy(legacy, str(exc))
            return None
        agent_id, records, bad = parsed
        path = self.journal_path(agent_id)
        with self.locked(path):
            if not legacy.exists():
                return agent_id
            self._merge_locked(agent_id, records)
            backup = unique_sibling(legacy, MIGRATED_SUFFIX)
            os.replace(legacy, backup)
            fs.fsync_dir(self.directory)
        message = f"migrated {len(records)} steps of agent {agent_id!r} from {legacy} into {path}; "
        message += f"the original is kept at {backup}"
        if bad:
            message += f"; {len(bad)} entries could not be read and stay only in the backup: " + "; ".join(
                bad[:3]
            )
        warnings.warn(message, StoreWarning, stacklevel=3)
        return agent_id

    def _quarantine_legacy(self, legacy: Path, why: str) -> None:
        target = unique_sibling(legacy, CORRUPT_INFIX + timestamp_tag())
        try:
            os.replace(legacy, target)
        except FileNotFoundError:
            return
        fs.fsync_dir(self.directory)
        warnings.warn(
            f"the legacy store file {legacy} is unreadable ({why}); moved it to {target}; "
            f"nothing was migrated",
            StoreWarning,
            stacklevel=3,
        )
