"""examples/library_demo.py runs end to end (the main job of scripts/demo.sh)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_library_demo_runs_and_reports_ok(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TMPDIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "library_demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "second merge: {'support-bot': 0, 'worker-0': 0, 'worker-1': 0, 'worker-2': 0}" in out
    assert "health: ok" in out
    assert "[REDACTED:anthropic-key]" in out
    assert out.rstrip().endswith("library demo: OK")
    assert not list(tmp_path.iterdir())  # the demo cleans up its temporary store
