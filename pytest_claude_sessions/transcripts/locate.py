"""Where the CLI keeps its transcripts: ``<config>/projects/<project dir name>/<session id>.jsonl``.

Lookups never leave the config directory: a candidate that resolves outside it (a planted link) is ignored.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_claude_sessions.ids import is_session_id, project_dir_name

__all__ = ["default_config_dir", "list_transcripts", "locate_transcript", "project_dir"]

logger = logging.getLogger(__name__)


def default_config_dir() -> Path:
    """The CLI's config root: ``$CLAUDE_CONFIG_DIR`` when set and non-empty, else ``~/.claude``."""
    env = os.environ.get("CLAUDE_CONFIG_DIR")
    if env:
        return Path(env)
    return Path.home() / ".claude"


def project_dir(config_dir: Path, working_dir: str | os.PathLike[str]) -> Path:
    """The project directory the CLI uses for ``working_dir`` under ``config_dir`` (may not exist yet)."""
    return config_dir / "projects" / project_dir_name(working_dir)


def _within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def _exact_candidate(
    config_dir: Path, name: str, working_dir: str | os.PathLike[str]
) -> tuple[Path | None, str]:
    """The transcript's place for ``working_dir``, and how to describe it in a "looked in" message."""
    try:
        exact = project_dir(config_dir, working_dir) / name
    except ValueError:  # e.g. a NUL in the path: no CLI could have run there
        return None, f"(no project directory for working dir {os.fspath(working_dir)!r})"
    return exact, str(exact)


def _project_dirs(projects: Path) -> list[os.DirEntry[str]]:
    try:
        entries = sorted(os.scandir(projects), key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for entry in entries:
        try:
            if entry.is_dir():
                out.append(entry)
        except OSError:
            continue
    return out


def locate_transcript(
    config_dir: Path, session_id: str, working_dir: str | os.PathLike[str] | None
) -> tuple[Path | None, str]:
    """(path or None, where it looked): the exact place for ``working_dir`` first, then every project.

    ``session_id`` must already be a UUID. Several matches: the most recently written wins (logged).
    """
    name = f"{session_id}.jsonl"
    looked: list[str] = []
    if working_dir is not None:
        exact, shown = _exact_candidate(config_dir, name, working_dir)
        looked.append(shown)
        if exact is not None and exact.is_file() and _within(exact, config_dir):
            return exact, ""
    projects = config_dir / "projects"
    dirs = _project_dirs(projects)
    matches: list[Path] = []
    for entry in dirs:
        candidate = Path(entry.path) / name
        if not candidate.is_file():
            continue
        if _within(candidate, config_dir):
            matches.append(candidate)
        else:
            logger.warning("ignoring %s: it resolves outside %s", candidate, config_dir)
    looked.append(f"every project directory under {projects} ({len(dirs)} searched)")
    where = "; ".join(looked)
    if not matches:
        return None, where
    if len(matches) > 1:
        matches.sort(key=lambda p: p.stat().st_mtime)
        logger.warning(
            "session %s has %d transcripts (%s); using the most recently written",
            session_id,
            len(matches),
            ", ".join(map(str, matches)),
        )
    return matches[-1], where


def list_transcripts(config_dir: Path, working_dir: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """Transcripts for ``working_dir``'s project (all projects when None), oldest first by mtime."""
    if working_dir is not None:
        dirs = [project_dir(config_dir, working_dir)]
    else:
        dirs = [Path(e.path) for e in _project_dirs(config_dir / "projects")]
    out: list[dict[str, Any]] = []
    for directory in dirs:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            stem, dot, ext = entry.name.rpartition(".")
            if not (dot and ext == "jsonl" and is_session_id(stem)) or not entry.is_file():
                continue
            st = entry.stat()
            out.append(
                {
                    "session_id": stem,
                    "file_path": entry.path,
                    "project": directory.name,
                    "size_bytes": st.st_size,
                    "modified": datetime.fromtimestamp(st.st_mtime, UTC),
                }
            )
    out.sort(key=lambda d: (d["modified"], d["session_id"]))
    return out
