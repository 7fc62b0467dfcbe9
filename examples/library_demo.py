"""A tour of the library layer on a temporary directory: tracker, manager, export/merge, monitor.

Run: python examples/library_demo.py   (no network, no Claude CLI needed; exits 0 when all went well)
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from pathlib import Path

from pytest_claude_sessions.store.manager import SessionManager
from pytest_claude_sessions.store.monitor import SessionMonitor
from pytest_claude_sessions.store.tracker import SessionTracker


def sid() -> str:
    return str(uuid.uuid4())


async def main(root: Path) -> None:
    store_dir = root / "sessions"

    print("== SessionTracker: one agent's chain of Claude session steps")
    tracker = SessionTracker("support-bot", store_dir)
    first = sid()
    tracker.update_session(first, "My name is Alice.", "Nice to meet you, Alice!", cost_usd=0.0021)
    # same id again = a resume of the same conversation (kind inferred)
    tracker.update_session(first, "What is my name?", "Your name is Alice.", cost_usd=0.0013)
    # a fork: a new session id that continues the previous conversation
    tracker.update_session(
        sid(),
        "Use key sk-ant-api03-THISISNOTAREALKEY0123456789 to deploy",
        "Deploying with Bearer abcdef0123456789xyz",
        kind="fork",
        cost_usd=0.0030,
    )
    for step in tracker.session_chain:
        print(
            f"  step {step.interaction_count}: {step.kind:<6} {step.session_id[:8]}… "
            f"parent={(step.parent_session_id or '-')[:8]} prompt={step.last_prompt!r}"
        )
    print(
        "  summary:", json.dumps({k: v for k, v in tracker.get_chain_summary().items() if k != "session_ids"})
    )
    print("  journal:", tracker.persistence_file.name)

    print("\n== A second tracker (another process would do the same) sees everything")
    again = SessionTracker("support-bot", store_dir)
    current = again.current_session_id or "-"
    print(f"  interaction_count={again.interaction_count} current={current[:8]}…")
    if again.interaction_count != 3:
        raise SystemExit("the second tracker did not see the first one's steps")

    print("\n== SessionManager: many agents, async, safe from many tasks at once")
    manager = SessionManager(store_dir)
    await asyncio.gather(
        *(manager.update_session(f"worker-{i % 3}", sid(), f"task {i}", "done") for i in range(9))
    )
    chains = await manager.get_all_sessions()
    for agent, chain in sorted(chains.items()):
        print(f"  {agent:<12} steps={len(chain)} counts={[s.interaction_count for s in chain]}")

    print("\n== Export, then merge into another store (twice: the second merge adds nothing)")
    export_file = root / "export.json"
    await manager.export_sessions(export_file)
    other = SessionManager(root / "elsewhere")
    print("  first merge :", await other.import_sessions(export_file))
    print("  second merge:", await other.import_sessions(export_file))

    print("\n== SessionMonitor: statistics and health")
    monitor = SessionMonitor(manager)
    stats = await monitor.get_statistics()
    print(
        f"  agents={stats['total_agents']} steps={stats['total_steps']} "
        f"sessions={stats['total_sessions']} cost=${stats['total_cost_usd']:.4f}"
    )
    report = await monitor.health_check()
    for line in str(report).splitlines():
        print("  " + line)
    if not report.ok:
        raise SystemExit("health check failed")

    print("\n== Secrets never reach the disk")
    on_disk = tracker.persistence_file.read_text()
    if "THISISNOTAREALKEY" in on_disk or "abcdef0123456789xyz" in on_disk:
        raise SystemExit("a secret reached the journal")
    print("  the journal holds only [REDACTED:…] markers for the key and the bearer token")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="claude-sessions-demo-") as tmp:
        asyncio.run(main(Path(tmp)))
    print("\nlibrary demo: OK")
