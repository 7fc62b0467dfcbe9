"""``SessionMonitor``: statistics over a store and health checks that can really fail and say why."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_claude_sessions.errors import ClaudeNotFoundError, StoreError
from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.store.manager import SessionManager

__all__ = ["HealthCheck", "HealthReport", "SessionMonitor"]


@dataclass(frozen=True)
class HealthCheck:
    """One named check: ``ok`` and a ``detail`` saying what was found (and why it failed)."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return asdict(self)


@dataclass
class HealthReport:
    """All checks of one :meth:`SessionMonitor.health_check`; ``ok`` only when every check passed."""

    checks: list[HealthCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[HealthCheck]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    def __getitem__(self, name: str) -> HealthCheck:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """``{"ok", "checks": {name: {"ok", "detail"}}}``."""
        return {"ok": self.ok, "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks}}

    def __str__(self) -> str:
        lines = [f"health: {'ok' if self.ok else 'FAILED'}"]
        lines += [f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}" for c in self.checks]
        return "\n".join(lines)


class SessionMonitor:
    """Statistics and health of the store behind ``session_manager``.

    ``claude_bin``: a path or command name of the Claude CLI; when given, the health check runs
    ``<bin> --version`` (argv list, no shell, ``version_timeout`` seconds). ``lock_timeout``: how long the
    lock check waits for each journal's lock.
    """

    def __init__(
        self,
        session_manager: SessionManager,
        *,
        claude_bin: str | os.PathLike[str] | None = None,
        lock_timeout: float = 2.0,
        version_timeout: float = 15.0,
    ) -> None:
        self.session_manager = session_manager
        self.claude_bin = claude_bin
        self.lock_timeout = lock_timeout
        self.version_timeout = version_timeout

    # ----------------------------------------------------------------- statistics

    async def get_statistics(self) -> dict[str, Any]:
        """Totals and per-agent figures (JSON-safe)."""
        return await asyncio.to_thread(self.statistics)

    def statistics(self) -> dict[str, Any]:
        """Sync twin of :meth:`get_statistics`."""
        chains = self.session_manager.all_sessions()
        agents = {agent_id: _agent_stats(chain) for agent_id, chain in sorted(chains.items())}
        all_ids = {s.session_id for chain in chains.values() for s in chain}
        firsts = [a["first_interaction"] for a in agents.values() if a["first_interaction"]]
        lasts = [a["last_interaction"] for a in agents.values() if a["last_interaction"]]
        return {
            "generated_at": utcnow().isoformat(),
            "persistence_dir": str(self.session_manager.persistence_dir),
            "total_agents": len(agents),
            "total_steps": sum(a["steps"] for a in agents.values()),
            "total_sessions": len(all_ids),
            "total_errors": sum(a["errors"] for a in agents.values()),
            "total_cost_usd": round(sum(a["cost_usd"] for a in agents.values()), 10),
            "first_interaction": min(firsts) if firsts else None,
            "last_interaction": max(lasts) if lasts else None,
            "agents": agents,
        }

    # ----------------------------------------------------------------- health

    async def health_check(self) -> HealthReport:
        """Run every check (file I/O and the CLI probe off the event loop)."""
        return await asyncio.to_thread(self.check_health)

    def check_health(self) -> HealthReport:
        """Sync twin of :meth:`health_check`."""
        report = HealthReport(
            [
                self._check_directory(),
                self._check_locks(),
                self._check_files(),
                self._check_quarantine(),
            ]
        )
        if self.claude_bin is not None:
            report.checks.append(self._check_claude())
        return report

    def _check_directory(self) -> HealthCheck:
        name = "directory_writable"
        directory = self.session_manager.persistence_dir
        if not directory.is_dir():
            return HealthCheck(name, False, f"{directory} does not exist or is not a directory")
        try:
            fd, probe = tempfile.mkstemp(dir=directory, prefix=".health-", suffix=".tmp")
            try:
                os.write(fd, b"ok\n")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            return HealthCheck(name, False, f"cannot write in {directory}: {exc}")
        return HealthCheck(name, True, f"{directory} is writable")

    def _check_locks(self) -> HealthCheck:
        name = "locks_acquirable"
        store = self.session_manager.store
        journals = store.journal_files()
        try:
            for path in journals:
                with store.locked(path, timeout=self.lock_timeout):
                    pass
        except StoreError as exc:  # LockTimeoutError names the lock file
            return HealthCheck(name, False, str(exc))
        except OSError as exc:
            return HealthCheck(name, False, f"cannot take a store lock in {store.directory}: {exc}")
        return HealthCheck(
            name, True, f"{len(journals)} journal locks acquired within {self.lock_timeout:g}s"
        )

    def _check_files(self) -> HealthCheck:
        name = "store_files_load"
        checks = self.session_manager.store.check_files()
        bad = [c for c in checks if not c.ok]
        if bad:
            detail = "; ".join(f"{c.path}: {c.detail}" for c in bad[:5])
            if len(bad) > 5:
                detail += f"; and {len(bad) - 5} more"
            return HealthCheck(name, False, f"{len(bad)} of {len(checks)} files do not load: {detail}")
        steps = sum(c.records for c in checks)
        torn = [c for c in checks if "torn" in c.detail]
        detail = f"{len(checks)} files load ({steps} steps)"
        if torn:
            detail += f"; {len(torn)} with a torn last line, repaired at their next write"
        return HealthCheck(name, True, detail)

    def _check_quarantine(self) -> HealthCheck:
        name = "no_quarantined_files"
        found = self.session_manager.store.quarantined_files()
        if found:
            listed = ", ".join(str(p) for p in found[:5])
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            return HealthCheck(
                name,
                False,
                f"{len(found)} damaged files were moved aside (their recoverable steps were kept); inspect "
                f"and delete them: {listed}{more}",
            )
        return HealthCheck(name, True, "no quarantined files")

    def _check_claude(self) -> HealthCheck:
        name = "claude_binary"
        configured = os.fspath(self.claude_bin) if self.claude_bin is not None else ""
        from pytest_claude_sessions.locate import find_claude_bin  # the executor's lookup, late

        try:
            found = find_claude_bin(self.claude_bin)
        except ClaudeNotFoundError as exc:
            return HealthCheck(name, False, f"claude binary {configured!r} not found: {exc}")
        argv = [str(found), "--version"]
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self.version_timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return HealthCheck(name, False, f"{argv!r} did not finish within {self.version_timeout:g}s")
        except OSError as exc:
            return HealthCheck(name, False, f"{argv!r} could not run: {exc}")
        version = proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""
        if proc.returncode != 0 or not version:
            err = proc.stderr.strip()[-300:]
            return HealthCheck(
                name,
                False,
                f"{argv!r} exited {proc.returncode} with no version" + (f": {err}" if err else ""),
            )
        return HealthCheck(name, True, f"{found}: {version}")


def _agent_stats(chain: list[SessionInfo]) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for s in chain:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    times = [s.created_at for s in chain]
    return {
        "steps": len(chain),
        "sessions": len({s.session_id for s in chain}),
        "first_interaction": min(times).isoformat() if times else None,
        "last_interaction": max(times).isoformat() if times else None,
        "cost_usd": round(sum(s.cost_usd for s in chain if s.cost_usd is not None), 10),
        "errors": sum(1 for s in chain if s.is_error),
        "kinds": kinds,
    }
