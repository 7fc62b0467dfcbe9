"""SessionMonitor: statistics, and health checks that really fail and say why."""

from __future__ import annotations

import asyncio
import json
import shutil
import stat
import warnings
from pathlib import Path

import pytest
from locking import lock_held

from pytest_claude_sessions.store.manager import SessionManager
from pytest_claude_sessions.store.monitor import HealthReport, SessionMonitor


def test_statistics(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    manager.update("a", "s1", "p", "r", cost_usd=0.5)
    manager.update("a", "s1", "p", "r", cost_usd=0.25)
    manager.update("a", "s2", "p", "r", is_error=True)
    manager.update("b", "s3", "p", "r", cost_usd=1.0, kind="fork", parent_session_id="s1")
    stats = asyncio.run(SessionMonitor(manager).get_statistics())
    json.dumps(stats)
    assert stats["total_agents"] == 2
    assert stats["total_steps"] == 4
    assert stats["total_sessions"] == 3
    assert stats["total_errors"] == 1
    assert stats["total_cost_usd"] == pytest.approx(1.75)
    a = stats["agents"]["a"]
    assert (a["steps"], a["sessions"], a["errors"]) == (3, 2, 1)
    assert a["cost_usd"] == pytest.approx(0.75)
    assert a["kinds"] == {"new": 2, "resume": 1}
    assert a["first_interaction"] <= a["last_interaction"]
    assert stats["agents"]["b"]["kinds"] == {"fork": 1}
    assert stats["first_interaction"] == a["first_interaction"]


def test_statistics_of_an_empty_store(tmp_path: Path) -> None:
    stats = SessionMonitor(SessionManager(tmp_path)).statistics()
    assert stats["total_agents"] == 0 and stats["agents"] == {} and stats["first_interaction"] is None


def test_healthy_store_passes_every_check(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    manager.update("a", "s1", "p", "r")
    report = asyncio.run(SessionMonitor(manager).health_check())
    assert isinstance(report, HealthReport)
    assert report.ok, str(report)
    assert [c.name for c in report.checks] == [
        "directory_writable",
        "locks_acquirable",
        "store_files_load",
        "no_quarantined_files",
    ]
    assert "1 files load (1 steps)" in report["store_files_load"].detail
    json.dumps(report.to_dict())
    assert not list(tmp_path.glob(".health-*"))


def test_missing_directory_fails(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path / "store")
    shutil.rmtree(tmp_path / "store")
    report = SessionMonitor(manager).check_health()
    assert not report.ok
    assert "does not exist" in report["directory_writable"].detail


def test_read_only_directory_fails(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    manager = SessionManager(tmp_path / "store")
    (tmp_path / "store").chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        check = SessionMonitor(manager).check_health()["directory_writable"]
    finally:
        (tmp_path / "store").chmod(stat.S_IRWXU)
    assert not check.ok and "cannot write" in check.detail


def test_held_lock_fails_in_time_and_names_the_lock(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    manager.update("a", "s1", "p", "r")
    with lock_held(tmp_path, "a") as lock_file:
        check = SessionMonitor(manager, lock_timeout=0.2).check_health()["locks_acquirable"]
    assert not check.ok
    assert str(lock_file) in check.detail


def test_damaged_file_fails_and_nothing_is_changed(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    manager.update("a", "s1", "p", "r")
    path = manager.tracker("a").persistence_file
    path.write_bytes(path.read_bytes() + b"{broken\n")
    before = path.read_bytes()
    report = SessionMonitor(manager).check_health()
    check = report["store_files_load"]
    assert not check.ok and str(path) in check.detail and "line 3" in check.detail
    assert path.read_bytes() == before
    assert report["no_quarantined_files"].ok


def test_quarantined_files_fail_until_removed(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path)
    manager.update("a", "s1", "p", "r")
    path = manager.tracker("a").persistence_file
    path.write_bytes(path.read_bytes() + b"{broken\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manager.update("a", "s2", "p", "r")  # the write repairs: it quarantines the original
    report = SessionMonitor(manager).check_health()
    assert report["store_files_load"].ok
    check = report["no_quarantined_files"]
    assert not check.ok and ".corrupt-" in check.detail
    for p in manager.store.quarantined_files():
        p.unlink()
    assert SessionMonitor(manager).check_health().ok


def test_real_claude_binary_reports_its_version(tmp_path: Path, claude_bin: Path) -> None:
    check = SessionMonitor(SessionManager(tmp_path), claude_bin=claude_bin).check_health()["claude_binary"]
    assert check.ok, check.detail
    assert "(Claude Code)" in check.detail


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_claude_binary_failures_say_why(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path / "store")
    missing = SessionMonitor(manager, claude_bin="no-such-claude-binary").check_health()
    assert not missing.ok and "not found" in missing["claude_binary"].detail
    failing = _script(tmp_path / "fail", "echo boom >&2; exit 3")
    check = SessionMonitor(manager, claude_bin=failing).check_health()["claude_binary"]
    assert not check.ok and "exited 3" in check.detail and "boom" in check.detail
    slow = _script(tmp_path / "slow", "exec sleep 5")
    check = SessionMonitor(manager, claude_bin=slow, version_timeout=0.3).check_health()["claude_binary"]
    assert not check.ok and "did not finish within 0.3s" in check.detail
    assert "claude_binary" not in SessionMonitor(manager).check_health()
