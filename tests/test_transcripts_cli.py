"""SessionValidator on transcripts written by the real Claude Code CLI (new -> resume -> fork).

Two sources of real transcripts: the loopback Messages API stub (successful turns), and a refused
loopback port (the CLI still writes the prompt and a synthetic API-error answer), which needs no stub
and shows the project-directory rule on awkward working directories.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import run_cli_json

from pytest_claude_sessions.ids import project_dir_name
from pytest_claude_sessions.transcripts.validator import SessionValidator

if TYPE_CHECKING:
    from pytest_claude_sessions.stub.server import MessagesStub


def _refused_url() -> str:
    """A loopback URL nothing listens on: the CLI's request is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Cli:
    """Runs ``claude -p --output-format json`` isolated under ``root``; records each step's leaf."""

    def __init__(self, claude_bin: Path, root: Path, api_env: Mapping[str, str]) -> None:
        self.claude_bin = claude_bin
        self.config = root / "config"
        self.tmp = root / "tmp"
        for d in (self.config, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            **api_env,
            "CLAUDE_CONFIG_DIR": str(self.config),
            "TMPDIR": str(self.tmp),
            "XDG_RUNTIME_DIR": str(self.tmp),
        }
        self.validator = SessionValidator(self.config)
        self.steps: list[dict[str, Any]] = []

    def run(self, cwd: Path, prompt: str, *options: str, kind: str = "new") -> dict[str, Any]:
        env = {**self.env, "PWD": str(cwd)}  # as a shell would set it, even for a symlinked cwd
        result = run_cli_json(self.claude_bin, prompt, *options, cwd=cwd, env=env)
        sid = result["session_id"]
        # What the executor does right after each call: record the transcript's leaf.
        info = self.validator.get_session_info(sid, cwd)
        assert info is not None, self.validator.validate_session_file(sid, cwd)
        self.steps.append({"session_id": sid, "leaf_uuid": info["leaf_uuid"], "kind": kind, "cwd": str(cwd)})
        return result


@pytest.fixture
def refused_cli(claude_bin: Path, tmp_path: Path) -> Cli:
    return Cli(
        claude_bin,
        tmp_path,
        {
            "ANTHROPIC_BASE_URL": _refused_url(),
            "ANTHROPIC_API_KEY": "sk-ant-test-dummy",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_MAX_RETRIES": "0",
        },
    )


class TestRealCliWithoutAnswers:
    """The API is unreachable: each call is a failed turn, yet transcripts are real CLI output."""

    def test_project_dir_of_a_unicode_long_symlinked_cwd(self, refused_cli: Cli, tmp_path: Path) -> None:
        real = tmp_path / "wörk dir.x" / ("seg-" + "x" * 120) / "ünï😀_" / ("y" * 90)
        real.mkdir(parents=True)
        link = tmp_path / "link_to_work"
        link.symlink_to(real)
        assert len(project_dir_name(real)) > 200  # the hash-suffix rule is in play

        result = refused_cli.run(link, "hello from a long cwd")
        sid = result["session_id"]
        v = refused_cli.validator
        expected = v.project_dir(real) / f"{sid}.jsonl"
        assert expected.is_file()  # computed exactly as the CLI did, through realpath
        assert v.project_dir(link) == v.project_dir(real)
        assert [p.name for p in v.projects_dir.iterdir()] == [project_dir_name(real)]
        assert v.find_transcript(sid, link) == expected
        assert v.validate_session_file(sid, link) == (True, None)
        info = v.get_session_info(sid, link)
        assert info is not None
        assert info["cwd"] == str(real.resolve())
        assert info["prompts"] == ["hello from a long cwd"]
        assert info["api_error_count"] == 1
        assert info["cli_version"] is not None

    def test_resume_and_fork_after_failed_turns(self, refused_cli: Cli, tmp_path: Path) -> None:
        work = tmp_path / "work"
        work.mkdir()
        first = refused_cli.run(work, "my name is Alice")
        sid = first["session_id"]
        assert first["is_error"] is True
        again = refused_cli.run(work, "what is my name?", "--resume", sid, kind="resume")
        assert again["session_id"] == sid
        fork = refused_cli.run(work, "and now?", "--resume", sid, "--fork-session", kind="fork")
        assert fork["session_id"] != sid

        verdicts = refused_cli.validator.check_chain(refused_cli.steps)
        assert [v.ok for v in verdicts] == [True, True], [v.reason for v in verdicts]
        assert [v.kind for v in verdicts] == ["resume", "fork"]
        info = refused_cli.validator.get_session_info(fork["session_id"], work)
        assert info is not None
        assert info["prompts"] == ["my name is Alice", "what is my name?", "and now?"]


class TestRealCliWithStub:
    """Successful turns answered by the loopback stub: the continuity the model saw matches the files."""

    def test_new_resume_continue_fork(self, claude_bin: Path, api_stub: MessagesStub, tmp_path: Path) -> None:
        cli = Cli(claude_bin, tmp_path, api_stub.env())
        work = tmp_path / "proj.dir_x"
        work.mkdir()
        v = cli.validator

        first = cli.run(work, "my name is Alice")
        sid = first["session_id"]
        assert first["is_error"] is False, first
        resumed = cli.run(work, "what is my name?", "--resume", sid, kind="resume")
        assert resumed["session_id"] == sid
        assert "Alice" in resumed["result"]  # the model was sent the earlier turn
        continued = cli.run(work, "list my messages", "--continue", kind="continue")
        assert continued["session_id"] == sid
        fork = cli.run(work, "what is my name?", "--resume", sid, "--fork-session", kind="fork")
        fork_id = fork["session_id"]
        assert fork_id != sid
        assert "Alice" in fork["result"]

        assert v.find_transcript(sid, work) == v.project_dir(work) / f"{sid}.jsonl"
        for session in (sid, fork_id):
            assert v.validate_session_file(session, work) == (True, None)
        verdicts = v.check_chain(cli.steps)
        assert [(x.kind, x.ok) for x in verdicts] == [("resume", True), ("continue", True), ("fork", True)], [
            x.reason for x in verdicts
        ]
        assert all(x.basis == "leaf" for x in verdicts)

        info = v.get_session_info(sid, work)
        assert info is not None
        assert info["prompts"] == ["my name is Alice", "what is my name?", "list my messages"]
        assert info["user_message_count"] == 3
        assert info["assistant_message_count"] == 3
        assert info["api_error_count"] == 0
        assert info["total_cost_usd"] == pytest.approx(continued["total_cost_usd"])
        assert info["cwd"] == str(work.resolve())
        fork_info = v.get_session_info(fork_id, work)
        assert fork_info is not None
        assert fork_info["prompts"] == [*info["prompts"], "what is my name?"]

        # An unrelated new session is not a continuation, and is judged a new conversation.
        other = cli.run(work, "hello")
        unrelated = v.check_continuity(
            fork_id, other["session_id"], previous_leaf_uuid=cli.steps[-2]["leaf_uuid"]
        )
        assert not unrelated
        assert "it starts a new conversation" in unrelated.reason
        assert v.check_continuity(fork_id, other["session_id"], kind="new").ok

    def test_resume_from_another_cwd_appends_to_the_original(
        self, claude_bin: Path, api_stub: MessagesStub, tmp_path: Path
    ) -> None:
        cli = Cli(claude_bin, tmp_path, api_stub.env())
        work_a, work_b = tmp_path / "work_a", tmp_path / "work_b"
        work_a.mkdir()
        work_b.mkdir()
        sid = cli.run(work_a, "my name is Bob")["session_id"]
        cli.run(work_b, "what is my name?", "--resume", sid, kind="resume")
        v = cli.validator
        # the file stays in work_a's project; looking from work_b finds it by the fallback search
        assert v.find_transcript(sid, work_b) == v.project_dir(work_a) / f"{sid}.jsonl"
        assert not v.project_dir(work_b).joinpath(f"{sid}.jsonl").exists()
        (verdict,) = v.check_chain(cli.steps)
        assert verdict.ok, verdict.reason
        info = v.get_session_info(sid)
        assert info is not None
        assert info["cwd"] == str(work_b.resolve())  # the last records carry the new cwd
