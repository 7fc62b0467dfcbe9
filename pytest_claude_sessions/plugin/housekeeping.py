"""The cassette housekeeping commands: ``--claude-cassettes-unused`` lists the cassettes no collected test
uses, ``--claude-prune-cassettes`` deletes them; both run no test.

Registered (by the run object) only for those runs, so no other run pays for its per-item hook.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_claude_sessions.plugin import xdist
from pytest_claude_sessions.plugin.cassette_item import cassette_kwargs, cassette_path_for, uses_cassette
from pytest_claude_sessions.plugin.markers import MarkerError
from pytest_claude_sessions.plugin.options import Settings


class CassetteHousekeeping:
    """Keeps every collected item (before -k/-m deselection), then lists or prunes the unused cassettes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.collected: list[pytest.Item] = []
        self.unused: list[Path] = []
        self.pruned: list[Path] = []

    @classmethod
    def start(cls, config: pytest.Config, settings: Settings) -> CassetteHousekeeping:
        if xdist.is_controller(config) or xdist.is_worker(config):
            raise pytest.UsageError(
                "--claude-cassettes-unused / --claude-prune-cassettes need every test collected in one "
                "process: run them without -n (or with -n 0)"
            )
        if any("::" in str(arg) for arg in config.args):
            raise pytest.UsageError(
                "--claude-cassettes-unused / --claude-prune-cassettes look at whole test files: pass "
                "directories or files, not node ids (the other tests' cassettes would look unused)"
            )
        return cls(settings)

    @pytest.hookimpl
    def pytest_itemcollected(self, item: pytest.Item) -> None:
        self.collected.append(item)

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.testsfailed:
            raise pytest.UsageError(
                "collection had errors: cassettes of the tests that failed to collect would look unused; "
                "fix the errors before listing or pruning cassettes"
            )
        try:
            self.unused = unused_cassettes(self.collected, self.settings)
        except MarkerError as exc:
            raise pytest.UsageError(str(exc)) from None
        if self.settings.prune_cassettes:
            from pytest_claude_sessions.cassettes.files import prune_cassettes

            self.pruned = prune_cassettes(self.unused)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        return True  # list/prune only: run no test

    def session_finish(self, session: pytest.Session) -> None:
        if not self.settings.prune_cassettes and self.unused:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def summary_lines(self) -> list[str]:
        if self.settings.prune_cassettes:
            return [f"pruned {len(self.pruned)} unused cassette(s)", *(f"  deleted {p}" for p in self.pruned)]
        hint = " (delete with --claude-prune-cassettes)" if self.unused else ""
        return [f"{len(self.unused)} unused cassette(s){hint}", *(f"  {p}" for p in self.unused)]


def unused_cassettes(items: list[pytest.Item], settings: Settings) -> list[Path]:
    """Cassette files in the cassette directories of ``items`` that none of them uses.

    Scanned: the cassette directory of every collected module, and the per-module directories beside them
    (``cassettes/<stem>/``, or ``<cassette dir>/<module path>/``) whose test module no longer exists. A
    module that was not collected (not in the paths given to pytest) is left alone.
    """
    from pytest_claude_sessions.cassettes.files import CASSETTES_DIRNAME, find_unused_cassettes

    used: set[Path] = set()
    roots: set[Path] = set()
    module_dirs: set[Path] = set()
    for item in items:
        module = Path(item.path)
        module_dirs.add(module.parent)
        kwargs = cassette_kwargs(item)
        if kwargs is None or (kwargs.get("dir") is None and kwargs.get("name") is None):
            roots.add(cassette_path_for(item, settings).parent)
        if uses_cassette(item, settings) or kwargs is not None:
            used.add(cassette_path_for(item, settings))
    rootpath = items[0].config.rootpath if items else None
    for directory in module_dirs:
        if settings.cassette_dir is None:
            parent = directory / CASSETTES_DIRNAME
        elif rootpath is not None and not (rel := os.path.relpath(directory, rootpath)).startswith(".."):
            parent = settings.cassette_dir / rel  # mirrors the test tree: a sub-directory may be a package
        else:
            continue  # modules outside the rootdir share <cassette dir>/<stem>: nothing safe to infer
        if not parent.is_dir():
            continue
        for sub in parent.iterdir():
            module_gone = (
                not (directory / (sub.name + ".py")).exists() and not (directory / sub.name).is_dir()
            )
            if sub.is_dir() and module_gone:
                roots.add(sub)  # the test module was deleted or renamed
    return find_unused_cassettes(used, roots)
