"""The interposed ``claude`` under a Node agent: a script that starts ``claude`` with ``child_process``.

Recorded live (the real CLI against the stub), then replayed with no CLI on ``PATH``: only node and
python are there.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

AGENT_JS = r"""
const { execFileSync } = require("node:child_process");
function ask(prompt, resume) {
  const args = ["-p", "--output-format", "json"];
  if (resume) args.push("--resume", resume);
  args.push("--", prompt);
  const out = execFileSync("claude", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return JSON.parse(out);
}
const first = ask("my name is Nia");
const second = ask("what is my name?", first.session_id);
console.log(JSON.stringify({ first: first.session_id, answer: second.result }));
"""

TEST_NODE = """
import json, subprocess, pytest

@pytest.mark.claude_cassette
@pytest.mark.claude_session(expect_continuity=True)
def test_node_agent(claude_api_stub, session_tracker):
    done = subprocess.run(["node", "agent.js"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "Nia" in out["answer"]
    assert [s.kind for s in session_tracker.session_chain] == ["new", "resume"]
    assert session_tracker.session_chain[1].parent_session_id == out["first"]
"""


def test_node_agent_records_then_replays_without_a_cli(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert NODE is not None
    (pytester.path / "agent.js").write_text(AGENT_JS, encoding="utf-8")
    pytester.makepyfile(test_node=TEST_NODE)
    live = pytester.runpytest_subprocess(
        "-p", "no:asyncio", "--claude-record-mode=once", f"--claude-bin={claude_bin}"
    )
    live.assert_outcomes(passed=1)
    live.stdout.fnmatch_lines(["*0 call(s) replayed, 2 recorded, 1 cassette(s) saved*"])

    bin_dir = tmp_path / "node-and-python"
    bin_dir.mkdir()
    (bin_dir / "node").symlink_to(NODE)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}")
    monkeypatch.delenv("CLAUDE_BIN", raising=False)
    for extra in ([], ["-n", "2"]):
        replayed = pytester.runpytest_subprocess("-p", "no:asyncio", *extra)
        replayed.assert_outcomes(passed=1)
        replayed.stdout.fnmatch_lines(["*2 call(s) replayed, 0 recorded*"])
