"""The directories that keep one executor's CLI runs apart from the user's and from other executors'.

Isolated, the CLI gets its own ``CLAUDE_CONFIG_DIR`` (login, settings, transcripts), ``TMPDIR`` and
``XDG_RUNTIME_DIR`` (its messaging socket): a given ``config_dir`` with ``-tmp``/``-run`` siblings, or a
fresh temporary base. Not isolated, it uses the user's real config (live runs with their login).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_claude_sessions.errors import ExecutorUsageError

__all__ = ["MAX_RUNTIME_DIR_BYTES", "Isolation", "isolation_dirs", "remove_dirs"]

MAX_RUNTIME_DIR_BYTES = 80  # + "/cc-socks/<pid>.sock" must stay within a unix socket path (107 bytes)


@dataclass(frozen=True)
class Isolation:
    """Where the CLI keeps its state, the variables that say so, and the temporary dirs to remove."""

    config_dir: Path
    env: dict[str, str]
    owned: tuple[Path, ...] = ()


def isolation_dirs(
    config_dir: str | os.PathLike[str] | None, *, isolate: bool, env: Mapping[str, str]
) -> Isolation:
    """Create (isolated) or find (not isolated) the CLI's directories; ``env`` is the executor's own env.

    Directories this creates with ``mkdtemp`` are listed in ``owned`` for the caller to remove (a given
    ``config_dir`` is never owned); if creating the others fails they are removed here and an
    ExecutorUsageError names the directories.
    """
    __tracebackhide__ = True
    if not isolate:
        if config_dir is not None:
            config = Path(config_dir).expanduser().absolute()
            return Isolation(config, {"CLAUDE_CONFIG_DIR": str(config)})
        configured = env.get("CLAUDE_CONFIG_DIR") or os.environ.get("CLAUDE_CONFIG_DIR")
        return Isolation(Path(configured).expanduser() if configured else Path.home() / ".claude", {})
    owned: list[Path] = []
    if config_dir is None:
        base = Path(tempfile.mkdtemp(prefix="claude-exec-"))
        owned.append(base)
        config, tmp, run = base / "config", base / "tmp", base / "run"
    else:
        config = Path(config_dir).expanduser().absolute()
        tmp = config.with_name(config.name + "-tmp")
        run = config.with_name(config.name + "-run")
    # The CLI binds $XDG_RUNTIME_DIR/cc-socks/<pid>.sock; when that exceeds a socket path's 107 bytes
    # it silently falls back to the shared /tmp/cc-socks-<uid>/, so a deep dir gets a short stand-in.
    if len(os.fsencode(run)) > MAX_RUNTIME_DIR_BYTES:
        short_root = "/tmp" if os.path.isdir("/tmp") else None  # noqa: S108 - mkdtemp: 0700, random name
        run = Path(tempfile.mkdtemp(prefix="ccx-", dir=short_root))
        owned.append(run)
    try:
        for directory in (config, tmp, run):
            directory.mkdir(parents=True, exist_ok=True)
        run.chmod(0o700)
    except OSError as exc:
        remove_dirs(tuple(owned))
        raise ExecutorUsageError(
            f"cannot create the CLI's isolated directories (config {config}, tmp {tmp}, run {run}): {exc}"
        ) from exc
    variables = {"CLAUDE_CONFIG_DIR": str(config), "TMPDIR": str(tmp), "XDG_RUNTIME_DIR": str(run)}
    return Isolation(config, variables, tuple(owned))


def remove_dirs(paths: tuple[Path, ...]) -> None:
    """Remove the given directory trees (what is already gone is fine)."""
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
