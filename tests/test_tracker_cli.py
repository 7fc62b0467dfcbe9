"""SessionTracker.continuity / assert_continuous on chains the real Claude Code CLI wrote against the stub."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import run_cli_json

from pytest_claude_sessions.models import StepKind
from pytest_claude_sessions.store.tracker import SessionTracker
from pytest_claude_sessions.transcripts.validator import SessionValidator

if TYPE_CHECKING:
    from pytest_claude_sessions.stub.server import MessagesStub


class Agent:
    """Runs ``claude -p --output-format json`` isolated under ``root`` and records each call in a tracker,
    as an agent built on the library would (leaf uuid from the transcript in the step's metadata)."""

    def __init__(self, claude_bin: Path, stub: MessagesStub, root: Path) -> None:
        self.claude_bin = claude_bin
        self.config = root / "config"
        tmp = root / "tmp"
        self.work = root / "work"
        for d in (self.config, tmp, self.work):
            d.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            **stub.env(),
            "CLAUDE_CONFIG_DIR": str(self.config),
            "TMPDIR": str(tmp),
            "XDG_RUNTIME_DIR": str(tmp),
            "PWD": str(self.work),
        }
        self.validator = SessionValidator(self.config)
        self.store_dir = root / "sessions"
        self.tracker = SessionTracker("agent/with ../odd id", self.store_dir)

    def call(self, prompt: str, *options: str, kind: StepKind | None = None) -> dict[str, Any]:
        result = run_cli_json(self.claude_bin, prompt, *options, cwd=self.work, env=self.env)
        assert result["is_error"] is False, result
        sid = result["session_id"]
        info = self.validator.get_session_info(sid, self.work)
        assert info is not None, self.validator.validate_session_file(sid, self.work)
        self.tracker.update_session(
            sid,
            prompt,
            result["result"],
            {"leaf_uuid": info["leaf_uuid"]},
            kind=kind,
            cwd=str(self.work),
            total_cost_usd=result.get("total_cost_usd"),
        )
        return result


@pytest.fixture
def agent(claude_bin: Path, api_stub: MessagesStub, tmp_path: Path) -> Agent:
    return Agent(claude_bin, api_stub, tmp_path)


def test_new_resume_fork_chain_is_continuous(agent: Agent) -> None:
    sid = agent.call("my name is Alice")["session_id"]
    agent.call("what is my name?", "--resume", sid)  # same id: recorded as a resume
    fork = agent.call("and now?", "--resume", sid, "--fork-session", kind="fork")
    assert fork["session_id"] != sid

    chain = agent.tracker.get_session_chain()
    assert [(s.kind, s.parent_session_id) for s in chain] == [("new", None), ("resume", sid), ("fork", sid)]
    assert agent.tracker.continuity(agent.validator) == []
    agent.tracker.assert_continuous(agent.validator)
    # another tracker on the same directory (another process, a later run) judges the same chain
    assert SessionTracker(agent.tracker.agent_id, agent.store_dir).continuity(agent.validator) == []


def test_a_forgotten_resume_is_reported_with_the_chain(agent: Agent) -> None:
    sid = agent.call("my name is Alice")["session_id"]
    # The agent meant to resume but did not pass --resume: the CLI started a fresh conversation.
    other = agent.call("what is my name?", kind="resume")["session_id"]
    assert other != sid

    reasons = agent.tracker.continuity(agent.validator)
    assert len(reasons) == 1
    assert reasons[0].startswith(f"resume {sid[:8]} -> {other[:8]}: a resume keeps the session id")
    with pytest.raises(AssertionError) as failure:
        agent.tracker.assert_continuous(agent.validator)
    message = str(failure.value)
    assert "session chain is not continuous" in message
    assert reasons[0] in message
    assert "chain of agent agent/with ../odd id" in message
    assert sid in message and other in message  # the table lists both steps


def test_a_resume_that_does_not_continue_the_recorded_leaf_is_reported(agent: Agent) -> None:
    sid = agent.call("my name is Alice")["session_id"]
    agent.call("what is my name?", "--resume", sid)
    # A third step claims to resume the second, but its recorded leaf is the first step's: the transcript
    # shows the second step's turn was not the one continued. Recorded by hand as a broken agent would.
    first_leaf = agent.tracker.session_chain[0].metadata
    assert first_leaf is not None
    agent.tracker.update_session(sid, "again", "x", dict(first_leaf), kind="resume", cwd=str(agent.work))
    reasons = agent.tracker.continuity(agent.validator)
    assert len(reasons) == 1, reasons
    assert reasons[0].startswith(f"resume {sid[:8]} -> {sid[:8]}: the newest turn of session")
    assert "does not descend from previous leaf" in reasons[0]
    with pytest.raises(AssertionError, match="session chain is not continuous"):
        agent.tracker.assert_continuous(agent.validator)


def test_an_agent_without_steps_is_not_continuous(tmp_path: Path) -> None:
    tracker = SessionTracker("empty", tmp_path)
    validator = SessionValidator(tmp_path / "config")
    assert tracker.continuity(validator) == ["the chain is empty: no Claude call was recorded"]
    with pytest.raises(AssertionError, match="the chain is empty"):
        tracker.assert_continuous(validator)


def test_the_tracker_module_does_not_import_pytest() -> None:
    code = "import sys, pytest_claude_sessions.store.tracker; print('pytest' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
