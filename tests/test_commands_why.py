"""``claude-sessions why``: real cassettes recorded with the real CLI against the stub, real misses left in
the run's report.json by replays of a changed suite; the explanation is the plugin's own diff."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
from inner_runs import GATE_SUITE, claude_sessions, record_gate_cassettes, replay_gate

from pytest_claude_sessions.commands.main import main

CHAIN = "cassettes-base/test_inner/test_chain.json"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import find_claude_bin

    claude = find_claude_bin()
    if claude is None:
        pytest.skip("the Claude Code CLI is not installed (bash scripts/install-claude-cli.sh)")
    return record_gate_cassettes(tmp_path_factory.mktemp("why"), claude)


@pytest.fixture
def project(recorded: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(recorded, copy)
    return copy


def why(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["why", *args])
    return code, out.getvalue(), err.getvalue()


def test_a_changed_prompt_is_explained_with_the_plugins_diff(project: Path) -> None:
    (project / "test_inner.py").write_text(GATE_SUITE.replace('"my name is Alice"', '"I am Alice"'))
    failed = replay_gate(project, "base")
    assert failed.returncode == 1 and "CassetteMismatchError" in failed.stdout, failed.stdout
    code, out, _ = why(str(project / CHAIN), "--store", str(project / ".claude_sessions"))
    assert code == 1
    assert "miss: call #1 of test_inner.py::test_chain (run " in out
    assert "nearest: recorded interaction #1, differing on: prompt" in out
    assert '-  "prompt": "my name is Alice",' in out and '+  "prompt": "I am Alice",' in out
    # the diff is the one the failing test printed, line for line (labels included)
    diff = out[out.index("--- recorded interaction #1") :].splitlines()
    printed = {line.removeprefix("E").strip() for line in failed.stdout.splitlines()}
    assert len(diff) > 4 and all(line.strip() in printed for line in diff), (diff, failed.stdout)

    code, out, _ = why(str(project / CHAIN), "--store", str(project / ".claude_sessions"), "--json")
    data = json.loads(out)
    assert code == 1
    [miss] = data["misses"]
    assert (miss["nodeid"], miss["position"], miss["nearest"], miss["differs_on"]) == (
        "test_inner.py::test_chain",
        1,
        1,
        ["prompt"],
    )
    assert miss["request"]["prompt"] == "I am Alice" and miss["recorded"]["prompt"] == "my name is Alice"

    # the installed console script, as a user runs it, from the project directory
    done = claude_sessions("why", CHAIN, cwd=project)
    assert done.returncode == 1 and "differing on: prompt" in done.stdout, done.stdout + done.stderr


def test_a_call_past_the_recording_is_shown_against_the_nearest(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = replay_gate(project, "more", "--claude-cassette-dir=cassettes-base")  # one call more than recorded
    assert done.returncode == 1 and "CassetteMissError" in done.stdout, done.stdout
    monkeypatch.chdir(project)
    code, out, _ = why(CHAIN, "--test", "test_inner.py::test_chain")
    assert code == 1
    assert "miss: call #3 of test_inner.py::test_chain" in out
    assert "nearest: recorded interaction #2, differing on: prompt" in out  # the resume it resembles
    assert '+  "prompt": "and once more?",' in out


def test_a_given_request(project: Path, tmp_path: Path) -> None:
    recorded = json.loads((project / CHAIN).read_text())["interactions"]
    same = tmp_path / "same.json"
    same.write_text(json.dumps(recorded[1]))  # a whole interaction: its request is used
    code, out, _ = why(str(project / CHAIN), "--request", str(same))
    assert code == 0
    assert "matches recorded interaction #2 on every criterion but order" in out
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**recorded[0]["request"], "options": {"model": "opus"}}))
    code, out, _ = why(str(project / CHAIN), "--request", str(other))
    assert code == 1
    assert "nearest: recorded interaction #1, differing on: options\n" in out
    assert '+    "model": "opus"' in out
    # criteria of one's own choosing: the model alone is named; without options the request matches
    code, out, _ = why(str(project / CHAIN), "--request", str(other), "--match-on", "prompt,model")
    assert code == 1 and "differing on: model\n" in out
    code, out, _ = why(str(project / CHAIN), "--request", str(other), "--match-on", "kind,prompt")
    assert code == 0 and "matches recorded interaction #1" in out


def test_bad_input_exits_2_naming_it(project: Path, tmp_path: Path) -> None:
    code, _, err = why(str(project / CHAIN), "--store", str(project / ".claude_sessions"), "--test", "nope")
    assert code == 2 and "no recorded miss on" in err and "by nope" in err
    code, _, err = why(str(tmp_path / "missing.json"))
    assert code == 2 and "no such cassette file" in err
    damaged = tmp_path / "damaged.json"
    damaged.write_text("{not json")
    code, _, err = why(str(damaged), "--request", "-")
    assert code == 2 and str(damaged) in err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code, _, err = why(str(project / CHAIN), "--request", str(bad))
    assert code == 2 and "expected a JSON object" in err


def test_help() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main(["why", "--help"])
    assert exit_.value.code == 0
    assert "--request FILE" in out.getvalue() and "exit codes:" in out.getvalue()
