"""Finding the ``claude`` binary: explicit argument, ``$CLAUDE_BIN``, PATH, project-local installs, the SDK.

The order is fixed and every place tried is named in
:class:`~pytest_claude_sessions.errors.ClaudeNotFoundError`, so a missing CLI is a one-line fix.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from pytest_claude_sessions.errors import ClaudeNotFoundError

BIN_NAME = "claude"
ENV_VAR = "CLAUDE_BIN"
SDK_PACKAGE = "claude_agent_sdk"
# Project-local installs, looked for in each directory searched: `npm install` puts the CLI in the first;
# scripts/install-claude-cli.sh installs the pinned version under the second (a git-ignored prefix).
LOCAL_BIN_DIRS = ("node_modules/.bin", ".claude-cli/node_modules/.bin")
#: The directory of the plugin's interposed ``claude`` (set for an intercepted test): the lookup of the
#: real CLI skips it, so an executor inside such a test never runs the launcher as if it were the CLI.
INTERPOSED_DIR_ENV = "PYTEST_CLAUDE_SESSIONS_BIN_DIR"


def path_without(directory: str | None, path: str | None) -> str | None:
    """``path`` (a ``PATH`` value) without ``directory``."""
    if not directory or path is None:
        return path
    return os.pathsep.join(p for p in path.split(os.pathsep) if p and os.path.abspath(p) != directory)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _explicit(value: str | os.PathLike[str], path_env: str | None, cwd: Path) -> Path | None:
    """An explicit binary: a path (relative to ``cwd``) or a bare command name looked up on PATH."""
    text = os.fspath(value)
    if os.sep not in text and (os.altsep is None or os.altsep not in text):
        found = shutil.which(text, path=path_env)
        if found is not None:
            return Path(found)
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        candidate = cwd / candidate
    return candidate if _is_executable(candidate) else None


def sdk_bundled_binary() -> Path | None:
    """Where claude-agent-sdk's platform wheel keeps its copy of the CLI, found without importing the SDK."""
    try:
        spec = importlib.util.find_spec(SDK_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        return Path(location) / "_bundled" / BIN_NAME
    return None


def _local_candidates(directory: Path) -> tuple[Path, ...]:
    """The project-local installs looked for in one directory (``npm install`` and the project's
    ``.claude-cli`` prefix, as ``scripts/install-claude-cli.sh`` makes it)."""
    return tuple(directory / local / BIN_NAME for local in LOCAL_BIN_DIRS)


def _ancestry(start: Path) -> tuple[Path, ...]:
    resolved = start.resolve()
    return (resolved, *resolved.parents)


def find_claude_bin(
    claude_bin: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    roots: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Return the CLI to run, trying in order: ``claude_bin``, ``$CLAUDE_BIN``, PATH, the project-local
    installs (``node_modules/.bin/claude`` and ``.claude-cli/node_modules/.bin/claude``) in ``cwd`` and
    its parents, then in each of ``roots`` and its parents, then claude-agent-sdk's bundled binary.

    An explicit ``claude_bin`` or ``$CLAUDE_BIN`` that does not point at an executable is an error, never
    silently replaced by another binary. ``env`` is the environment the CLI will get (its ``PATH`` and
    ``CLAUDE_BIN`` are used); ``cwd`` the directory it will run in; ``roots`` extra directories whose
    local installs count too (a test runs in a temporary cwd, its project is elsewhere: the plugin passes
    pytest's rootdir and invocation dir). Raises ClaudeNotFoundError listing every place tried.
    """
    __tracebackhide__ = True  # a user-facing error: pytest shows the caller's line, not this helper
    found = _search(claude_bin, env, cwd, roots)
    if isinstance(found, Path):
        return found
    raise ClaudeNotFoundError(found)


def probe_claude_bin(
    claude_bin: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    roots: Iterable[str | os.PathLike[str]] = (),
) -> Path | None:
    """:func:`find_claude_bin` without the error: ``None`` when there is no CLI (a replay needs none, and
    building the error's redacted text is most of a replayed call's cost)."""
    found = _search(claude_bin, env, cwd, roots)
    return found if isinstance(found, Path) else None


def _search(
    claude_bin: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    roots: Iterable[str | os.PathLike[str]],
) -> Path | list[str]:
    """The binary, or every place tried (for the error)."""
    environ = os.environ if env is None else env
    base = Path(cwd) if cwd is not None else Path.cwd()
    path_env = path_without(environ.get(INTERPOSED_DIR_ENV), environ.get("PATH"))
    if claude_bin is not None:
        found = _explicit(claude_bin, path_env, base)
        return found or [f"claude_bin argument: {os.fspath(claude_bin)} (not an executable file)"]
    from_env = environ.get(ENV_VAR)
    if from_env:
        found = _explicit(from_env, path_env, base)
        return found or [f"${ENV_VAR}: {from_env} (not an executable file)"]

    searched = ["claude_bin argument: not given", f"${ENV_VAR}: not set"]
    on_path = shutil.which(BIN_NAME, path=path_env)
    if on_path is not None:
        return Path(on_path)
    searched.append(f"PATH: {path_env or '(empty)'}")

    local = " or ".join(f"{d}/{BIN_NAME}" for d in LOCAL_BIN_DIRS)
    seen: set[Path] = set()  # a root inside the cwd's ancestry (or another root's) is not walked twice
    for label, start in [("cwd", base), *(("search path", Path(os.fspath(r))) for r in roots)]:
        for directory in _ancestry(start):
            if directory in seen:
                continue
            seen.add(directory)
            for candidate in _local_candidates(directory):
                if _is_executable(candidate):
                    return candidate
        searched.append(f"{local} in {label} {start.resolve()} and its parents")

    bundled = sdk_bundled_binary()
    if bundled is not None and _is_executable(bundled):
        return bundled
    searched.append(
        f"claude-agent-sdk bundled binary: {bundled}"
        if bundled is not None
        else f"claude-agent-sdk bundled binary: package {SDK_PACKAGE} not installed"
    )
    return searched
