"""Cassette files on disk: safe names, the JSON format, atomic locked writes, and finding unused cassettes.

A cassette is one JSON file per test node. Writes go temp file → fsync → ``os.replace`` under a file lock
(filelock), so concurrent runs and xdist workers never leave a torn or interleaved file. A
file that cannot be parsed is an error naming it; it is never silently re-recorded over.

PYTEST_DONT_REWRITE: no assert here relies on pytest's assert rewriting (skipping it keeps imports cheap).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pytest_claude_sessions import fs
from pytest_claude_sessions.errors import (
    CassetteCorruptError,
    CassetteError,
    CassetteLockError,
)
from pytest_claude_sessions.executor.parsing import depth_exceeds

__all__ = [
    "CASSETTE_FORMAT",
    "CASSETTE_SUFFIX",
    "CASSETTE_VERSION",
    "CassetteCorruptError",
    "CassetteLockError",
    "atomic_write_text",
    "cassette_lock",
    "cassette_shape_problem",
    "default_cassette_path",
    "dump_cassette",
    "find_unused_cassettes",
    "load_cassette_data",
    "lock_path_for",
    "prune_cassettes",
    "safe_cassette_name",
]

CASSETTE_FORMAT = "pytest-claude-sessions/cassette"
CASSETTE_VERSION = 1
CASSETTE_SUFFIX = ".json"
CASSETTES_DIRNAME = "cassettes"
MAX_NAME_LENGTH = 120  # well under the 255-byte component limit, leaves room for the suffix and lock file
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]]")
_COMPACT_MARK = "\x00pcs-compact-{}\x00"


# --------------------------------------------------------------------------- names


def safe_cassette_name(name: str) -> str:
    """A file-name stem for ``name`` that is safe on every OS and can never leave its directory.

    Letters, digits, ``_ . - [ ]`` are kept; anything else becomes ``-`` and a short hash of the original
    is appended, so ``test[a b]`` and ``test[a-b]`` never share a file. Long names are cut and hashed.
    """
    if not name:
        raise ValueError("a cassette name must not be empty")
    safe = _UNSAFE.sub("-", name)
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    changed = safe != name
    if safe.startswith("."):  # no hidden files, and never "." or ".."
        safe = "_" + safe[1:]
        changed = True
    if len(safe) > MAX_NAME_LENGTH:
        safe = safe[: MAX_NAME_LENGTH - 11]
        changed = True
    return f"{safe}-{digest}" if changed else safe


def default_cassette_path(
    module_path: Path, test_name: str, *, cassette_dir: Path | None = None, name: str | None = None
) -> Path:
    """Where a test's cassette lives: ``<module dir>/cassettes/<module stem>/<test name>.json`` by default.

    ``test_name`` includes the class and parametrize id (``TestA.test_b[x-1]``); ``name`` overrides it;
    ``cassette_dir`` overrides the directory.
    """
    directory = cassette_dir if cassette_dir is not None else cassette_dir_for(module_path)
    path = directory / (safe_cassette_name(name or test_name) + CASSETTE_SUFFIX)
    if path.parent != directory:  # cannot happen with safe names; belt and braces for untrusted ids
        raise ValueError(f"cassette name {name or test_name!r} escapes {directory}")
    return path


def cassette_dir_for(module_path: Path) -> Path:
    """The default cassette directory of a test module."""
    return module_path.parent / CASSETTES_DIRNAME / module_path.stem


# --------------------------------------------------------------------------- format


def dump_cassette(data: dict[str, Any]) -> str:
    """The cassette as text: indented structure, but each transcript record and stream event on one line.

    One record per line keeps the file reviewable and its diffs small (a new session adds ~20 records).
    """
    compact: list[str] = []

    def mark(value: Any) -> str:
        compact.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
        return _COMPACT_MARK.format(len(compact) - 1)

    shaped = json.loads(json.dumps(data))  # a private deep copy that we may rewrite
    for interaction in shaped.get("interactions", []):
        for chunk in interaction.get("transcripts", []):
            chunk["lines"] = [mark(line) for line in chunk.get("lines", [])]
        stdout = interaction.get("response", {}).get("stdout", {})
        if isinstance(stdout.get("lines"), list):
            stdout["lines"] = [mark(line) for line in stdout["lines"]]
        stdin = interaction.get("response", {}).get("stdin")
        if isinstance(stdin, list):  # the duplex protocol's input lines, one per line too
            interaction["response"]["stdin"] = [mark(event) for event in stdin]
    text = json.dumps(shaped, ensure_ascii=False, indent=2)
    for index, value in enumerate(compact):
        # json.dumps escapes the NULs of the marker as \u0000, so search for the escaped form
        text = text.replace(json.dumps(_COMPACT_MARK.format(index)), value, 1)
    return text + "\n"


def load_cassette_data(path: Path) -> dict[str, Any] | None:
    """The parsed cassette at ``path``, ``None`` without a file; raises :class:`CassetteCorruptError`
    naming the file and the first field of a wrong shape or type (never a raw ``ValueError``,
    ``TypeError`` or ``RecursionError``, and never with the ``json`` module's frames)."""
    __tracebackhide__ = True
    if path.is_symlink():  # a planted link would feed any file to the replay, and be written through
        raise CassetteCorruptError(
            f"cassette {path} is a symbolic link (to {os.readlink(path)}), which is never followed; "
            "remove it (someone may have planted it)",
            path=path,
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteCorruptError(f"cannot read cassette {path}: {exc}", path=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CassetteCorruptError(
            f"cassette {path} is not valid JSON ({exc}); fix or delete it, then re-record "
            "(it is never overwritten silently; --claude-record-mode=rewrite replaces it)",
            path=path,
        ) from None
    except RecursionError:
        raise CassetteCorruptError(
            f"cassette {path} nests JSON deeper than Python can parse; it is not a cassette this plugin "
            "wrote (re-record it with --claude-record-mode=rewrite)",
            path=path,
        ) from None
    if not isinstance(data, dict) or data.get("format") != CASSETTE_FORMAT:
        raise CassetteCorruptError(
            f'{path} is not a pytest-claude-sessions cassette (no "format": "{CASSETTE_FORMAT}")', path=path
        )
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version > CASSETTE_VERSION:
        raise CassetteCorruptError(
            f"cassette {path} has format version {version!r}; this plugin reads up to {CASSETTE_VERSION} "
            "(upgrade pytest-claude-sessions)",
            path=path,
        )
    if not isinstance(data.get("interactions"), list):
        found = _kind(data.get("interactions"))
        raise CassetteCorruptError(
            f"cassette {path} has no list of interactions: 'interactions' is {found}", path=path
        )
    problem = cassette_shape_problem(data)
    if problem is not None:
        raise CassetteCorruptError(
            f"cassette {path} is damaged: {problem}; fix or delete it, or re-record it with "
            "--claude-record-mode=rewrite",
            path=path,
        )
    return data


MAX_CASSETTE_DEPTH = 96  # a cassette nests ~7 levels above a CLI record, which nests ~8


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


# Field -> the types it may have (None = absent or null allowed). Checked for every interaction.
_REQUEST_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "prompt": (str,),
    "output_format": (str,),
    "resume": (str, type(None)),
    "session_id": (str, type(None)),
    "fork": (bool,),
    "continue": (bool,),
    "options": (dict,),
}
_RESPONSE_FIELDS: dict[str, tuple[type, ...]] = {  # stdout is required: a replay prints it
    "returncode": (int, type(None)),
    "stdout": (dict,),
    "stderr": (str, type(None)),
    "timed_out": (bool, type(None)),
    "elapsed": (int, float, type(None)),
}
_CHUNK_FIELDS: dict[str, tuple[type, ...]] = {"path": (str,), "mode": (str,), "lines": (list,)}
_INTERACTION_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str, type(None)),
    "position": (int, type(None)),
    "recorded_at": (str, type(None)),
    "cli_version": (str, type(None)),
    "model": (str, type(None)),
}
_HEADER_FIELDS: dict[str, tuple[type, ...]] = {
    "plugin_version": (str, type(None)),
    "cli_version": (str, type(None)),
    "model": (str, type(None)),
    "node_id": (str, type(None)),
    "recorded_at": (str, type(None)),
    "updated_at": (str, type(None)),
}


def _fields(obj: dict[str, Any], spec: dict[str, tuple[type, ...]], where: str, required: bool) -> str | None:
    for name, types in spec.items():
        if name not in obj:
            if required and type(None) not in types:
                return f"{where}.{name} is missing"
            continue
        value = obj[name]
        # bool is an int subclass: a boolean where a number belongs is a wrong type too
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(sorted({_kind(t()) if t is not type(None) else "null" for t in types}))
            return f"{where}.{name} must be {wanted}, got {_kind(value)}"
    return None


def _stdout_problem(stdout: dict[str, Any], where: str) -> str | None:
    if "json" in stdout:
        return None if isinstance(stdout["json"], dict) else f"{where}.json must be an object"
    if "lines" in stdout:
        return None if isinstance(stdout["lines"], list) else f"{where}.lines must be a list"
    if "text" in stdout:
        return None if isinstance(stdout["text"], str) else f"{where}.text must be a string"
    return f"{where} must hold 'json', 'lines' or 'text'"


def _interaction_problem(interaction: object, where: str) -> str | None:
    if not isinstance(interaction, dict):
        return f"{where} must be an object, got {_kind(interaction)}"
    problem = _fields(interaction, _INTERACTION_FIELDS, where, required=False)
    for name in ("request", "response"):
        if problem is None and not isinstance(interaction.get(name), dict):
            problem = f"{where}.{name} must be an object, got {_kind(interaction.get(name))}"
    if problem is None:  # absent request fields only fail to match (with a diff); wrong types are damage
        problem = _fields(interaction["request"], _REQUEST_FIELDS, f"{where}.request", required=False)
    if problem is None:
        problem = _fields(interaction["response"], _RESPONSE_FIELDS, f"{where}.response", required=True)
    if problem is None:
        problem = _stdout_problem(interaction["response"]["stdout"], f"{where}.response.stdout")
    transcripts = interaction.get("transcripts", [])
    if problem is None and not isinstance(transcripts, list):
        problem = f"{where}.transcripts must be a list, got {_kind(transcripts)}"
    for n, chunk in enumerate(transcripts if problem is None else ()):
        at = f"{where}.transcripts[{n}]"
        if not isinstance(chunk, dict):
            return f"{at} must be an object, got {_kind(chunk)}"
        problem = _fields(chunk, _CHUNK_FIELDS, at, required=True)
        if problem is None and chunk["mode"] not in ("create", "append", "replace"):
            problem = f"{at}.mode must be create, append or replace, got {chunk['mode']!r}"
        if problem is not None:
            return problem
    return problem


def cassette_shape_problem(data: dict[str, Any]) -> str | None:
    """The first field of ``data`` with a wrong shape or type (``interactions[2].response.stdout must
    be an object, got a number``), or ``None`` for a sound cassette. Iterative depth check first."""
    if depth_exceeds(data, MAX_CASSETTE_DEPTH):
        return f"its JSON nests deeper than {MAX_CASSETTE_DEPTH} levels"
    header = data.get("header", {})
    if not isinstance(header, dict):
        return f"header must be an object, got {_kind(header)}"
    problem = _fields(header, _HEADER_FIELDS, "header", required=False)
    for n, interaction in enumerate(data["interactions"] if problem is None else ()):
        problem = _interaction_problem(interaction, f"interactions[{n}]")
        if problem is not None:
            break
    return problem


def atomic_write_text(path: Path, text: str, *, fsync: bool = True) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a torn one
    (:func:`pytest_claude_sessions.fs.atomic_write`; a link at ``path`` is refused)."""
    with fs.os_errors(path.parent, "create the cassette directory", CassetteError):
        path.parent.mkdir(parents=True, exist_ok=True)
    fs.atomic_write(path, text, fsync=fsync, error=CassetteError, what="cassette")


def lock_path_for(path: Path) -> Path:
    """The lock file guarding cassette ``path``.

    Kept out of the test tree (cassettes are committed; lock files would litter ``git status``): a directory
    private to this user (:func:`pytest_claude_sessions.fs.user_lock_dir`, owner and mode checked), named by
    the hash of the cassette's real path, so every process of the user that writes the same cassette (xdist
    workers, parallel runs) takes the same lock.
    """
    real = os.path.realpath(path)
    digest = hashlib.sha256(real.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return fs.user_lock_dir("pytest-claude-cassette-locks", error=CassetteLockError) / f"{digest}.lock"


def _lock_timeout_error(path: Path) -> Callable[[Path, float], Exception]:
    def make(lock_path: Path, timeout: float) -> Exception:
        return CassetteLockError(
            f"could not lock cassette {path} within {timeout:g}s (lock file {lock_path}); another run is "
            "saving it, or a hung process holds it"
        )

    return make


@contextlib.contextmanager
def cassette_lock(path: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold the lock of cassette ``path`` (never across a CLI call: only around read-modify-write)."""
    with fs.locked(
        lock_path=lock_path_for(path),
        timeout=timeout,
        on_timeout=_lock_timeout_error(path),
        error=CassetteLockError,
    ):
        yield


# --------------------------------------------------------------------------- unused cassettes


def find_unused_cassettes(used: Iterable[Path], roots: Iterable[Path]) -> list[Path]:
    """Cassette files under ``roots`` (searched recursively) that are not in ``used``, sorted.

    Only ``*.json`` files count; lock files and temp files are ignored. Give as roots only directories whose
    every test was collected, or cassettes of tests you did not collect will be reported.
    """
    wanted = {_norm(p) for p in used}
    found: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for candidate in root.rglob("*" + CASSETTE_SUFFIX):
            if candidate.name.startswith(".") or not candidate.is_file():
                continue
            if _norm(candidate) not in wanted:
                found.add(candidate)
    return sorted(found)


def prune_cassettes(paths: Iterable[Path]) -> list[Path]:
    """Delete the given cassette files (each under its lock); returns the ones removed."""
    removed: list[Path] = []
    for path in paths:
        with cassette_lock(path):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
        removed.append(path)
        with contextlib.suppress(OSError):  # drop directories the pruning emptied
            path.parent.rmdir()
    return removed


def _norm(path: Path) -> Path:
    return Path(os.path.realpath(path))
