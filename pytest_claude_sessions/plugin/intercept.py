"""pytest wiring of the interposed ``claude``: the ``claude_cli`` fixture and which tests get it.

A test has interception on when it requests ``claude_cli`` or ``claude_api_stub``, is marked
``claude_cassette``, ``claude_session`` or ``claude_budget``, or the run has ``--claude-intercept`` (ini
``claude_intercept``, env ``PYTEST_CLAUDE_INTERCEPT``). Then, for the test's duration: the launcher's
directory is first on ``PATH``, ``CLAUDE_CONFIG_DIR`` is the test's isolated config dir (the SDK's session
functions read it in this process), the launcher's payload names the test, and the Agent SDK's CLI lookup
returns the launcher. Calls run through the test's ``claude_executor`` (tracker, cassette, guards), so they
show up exactly like the executor's own. Misses and replay mismatches fail the test after its body, with the
command that records.

The server and the launcher are made on first use in a process (:mod:`pytest_claude_sessions.intercept`);
a suite that never intercepts pays nothing but the per-item marker check at collection.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_claude_sessions.executor.executor import ClaudeExecutor
    from pytest_claude_sessions.intercept.server import InterceptedTest, InterceptServer

__all__ = ["ClaudeCli"]

INTERCEPT_ENV = "PYTEST_CLAUDE_INTERCEPT"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ClaudeCli:
    """The interposed ``claude`` of a test.

    ``path``: the executable (for ``ClaudeAgentOptions(cli_path=...)`` or any code that takes a binary
    path); ``env``: the variables to hand to code that builds its own environment for its subprocesses.
    ``test`` holds what the server saw (calls, live, replayed, errors).
    """

    path: str
    env: dict[str, str]
    test: InterceptedTest = field(repr=False)

    @property
    def calls(self) -> int:
        """How many intercepted CLI processes this test started (version probes not counted)."""
        return self.test.calls

    @property
    def replayed(self) -> int:
        """How many of them were answered from the cassette."""
        return self.test.replayed


class _InterceptRun:
    """Per process: the server and the launcher (made on first use, removed at the end)."""

    def __init__(self) -> None:
        from pytest_claude_sessions.intercept.bindir import write_launcher
        from pytest_claude_sessions.intercept.server import InterceptServer

        self.server: InterceptServer = InterceptServer()
        self.server.start()
        self.bindir = str(self.server.directory / "bin")
        self.launcher = str(write_launcher(Path(self.bindir), self.server.socket_path))

    def close(self) -> None:
        self.server.close()


_RUN = pytest.StashKey[_InterceptRun]()
_TEST = pytest.StashKey["InterceptedTest"]()
_STUB = pytest.StashKey[Any]()  # a replaying test's stub: any request it got came from a live call
_HOOKS = "claude_sessions_intercept_per_test"


def _run(config: pytest.Config) -> _InterceptRun:
    run = config.stash.get(_RUN, None)
    if run is None:
        run = config.stash[_RUN] = _InterceptRun()
        config.add_cleanup(run.close)
    return run


def intercept_all(config: pytest.Config) -> bool:
    """``--claude-intercept`` / ini ``claude_intercept`` / ``$PYTEST_CLAUDE_INTERCEPT``."""
    value = config.getoption("claude_intercept", None)
    if value is None:
        value = os.environ.get(INTERCEPT_ENV, "").strip() or None
    if value is None:
        try:
            value = str(config.getini("claude_intercept") or "").strip() or None
        except ValueError:
            value = None
    return str(value).strip().lower() in _TRUE if value is not None else False


_INTERCEPTING_MARKERS = ("claude_cassette", "claude_session", "claude_budget")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Interception on for marked tests (or all of them): ``claude_cli`` first among their fixtures, so a
    fixture of the test that looks for ``claude`` already finds the interposed one."""
    everything = intercept_all(config)
    for item in items:
        names = getattr(item, "fixturenames", None)
        if not isinstance(names, list) or "claude_cli" in names:
            continue
        if (
            everything
            or "claude_api_stub" in names  # a stub the agent's own claude never reached would be a trap
            or any(item.get_closest_marker(m) is not None for m in _INTERCEPTING_MARKERS)
        ):
            names.insert(0, "claude_cli")
            if "claude_executor" not in names:  # what decides whether the test's cassette applies
                names.insert(1, "claude_executor")


def _recorded_version(executor: ClaudeExecutor) -> str | None:
    cassette = executor.interceptor
    header = getattr(cassette, "header", None) or {}
    version = header.get("cli_version") if isinstance(header, dict) else None
    if isinstance(version, str):
        return version
    for interaction in getattr(cassette, "interactions", None) or []:
        if isinstance(interaction, dict) and isinstance(interaction.get("cli_version"), str):
            return str(interaction["cli_version"])
    return None


@pytest.fixture
def claude_cli(
    request: pytest.FixtureRequest, claude_executor: ClaudeExecutor, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ClaudeCli]:
    """Interception on for this test: every ``claude`` the code under test starts goes through the plugin.

    ``claude_cli.path`` is the interposed executable, ``claude_cli.env`` the variables that route a
    subprocess to it (for code that builds its own environment). See the README, "Testing the agent you
    already have".
    """
    from pytest_claude_sessions.errors import ClaudeNotFoundError
    from pytest_claude_sessions.intercept.launcher import ENV_PAYLOAD
    from pytest_claude_sessions.intercept.sdk import SdkRedirect
    from pytest_claude_sessions.intercept.server import InterceptedTest
    from pytest_claude_sessions.locate import INTERPOSED_DIR_ENV, path_without

    run = _run(request.config)
    # The real CLI is found before PATH leads to the launcher (PATH without it, as the executor looks).
    monkeypatch.setenv("PATH", path_without(run.bindir, os.environ.get("PATH", "")) or "")
    real: str | None = None
    searched: tuple[str, ...] = ()
    try:
        real = str(claude_executor.claude_bin)
    except ClaudeNotFoundError as exc:
        searched = tuple(exc.searched)
    before = dict(os.environ)
    overrides = {k: v for k, v in claude_executor.build_env().items() if before.get(k) != v}
    cassette = claude_executor.interceptor
    replaying = bool(getattr(cassette, "replaying", False))
    record_command = getattr(cassette, "record_command", None)
    if isinstance(record_command, str) and "--claude-bin" not in record_command:
        record_command = _with_cli(record_command, real, request.config)
        cassette.record_command = record_command  # type: ignore[union-attr]
    test = InterceptedTest(
        request.node.nodeid,
        claude_executor,
        real,
        cli_searched=searched,
        live_env=overrides,
        record_command=record_command if isinstance(record_command, str) else None,
    )
    token = run.server.register(test)
    payload = {
        "socket": run.server.socket_path,
        "token": token,
        "cli": real,
        "version": _recorded_version(claude_executor),
        "replaying": replaying,
        "live_possible": not replaying and real is not None,
    }
    env = {
        "PATH": run.bindir + os.pathsep + os.environ.get("PATH", ""),
        "CLAUDE_CONFIG_DIR": str(claude_executor.config_dir),
        INTERPOSED_DIR_ENV: run.bindir,  # an executor in the test looks for the real CLI past the launcher
        ENV_PAYLOAD: json.dumps(payload),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    redirect = SdkRedirect(run.launcher)
    redirect.start()
    request.node.stash[_TEST] = test
    if replaying and "claude_api_stub" in request.fixturenames:
        request.node.stash[_STUB] = request.getfixturevalue("claude_api_stub")
    _register_hooks(request.config)
    try:
        yield ClaudeCli(run.launcher, env, test)
    finally:
        redirect.stop()
        run.server.unregister(token)


def _with_cli(command: str, real: str | None, config: pytest.Config) -> str:
    """The record command with ``--claude-bin`` when the CLI would not be found without it."""
    from pytest_claude_sessions.plugin.cassette_item import found_by_default

    if real is None or found_by_default(config, real):  # nothing to name, or a plain lookup finds it
        return command
    return command + " " + shlex.quote(f"--claude-bin={real}")


def _register_hooks(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(_HOOKS):
        config.pluginmanager.register(_PerTestHooks(), _HOOKS)


class _PerTestHooks:
    """After the body: an intercepted call that missed or mismatched the cassette fails the test."""

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        try:
            result = yield
        except BaseException as exc:
            # the body failed, most likely because a claude process exited with the reason: say it first
            errors = _errors(item)
            if errors and not isinstance(exc, pytest.skip.Exception):
                message = "\n\n".join(errors) + f"\n\n(the test body then raised {type(exc).__name__}: {exc})"
                raise pytest.fail.Exception(message, pytrace=False) from None
            raise
        errors = _errors(item)
        if errors:
            pytest.fail("\n\n".join(errors), pytrace=False)
        return result


def _errors(item: pytest.Item) -> list[str]:
    test = item.stash.get(_TEST, None)
    if test is None:
        return []
    with test.lock:
        errors = list(test.errors)
    stub = item.stash.get(_STUB, None)
    got = len(getattr(stub, "requests", ()) or ()) if stub is not None else 0
    if got:
        errors.append(
            f"this test replays its cassette, yet the Messages API stub got {got} request(s): a claude the "
            "plugin did not interpose ran live (a hard-coded binary path? pass claude_cli.path, or "
            "ClaudeAgentOptions(cli_path=claude_cli.path) to the SDK)"
        )
    return errors


def describe(test: InterceptedTest) -> dict[str, Any]:
    """JSON-safe counts of a test's intercepted calls."""
    return {"calls": test.calls, "live": test.live, "replayed": test.replayed, "errors": list(test.errors)}
