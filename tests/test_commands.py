"""The ``claude-sessions`` command on real stores: two real pytest runs (the real CLI against the stub,
``-n 2``), then each subcommand in-process (``main([...])``) and once through the console script."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from inner_runs import SUITE, claude_sessions, clean_env, run_pytest

from pytest_claude_sessions.commands.main import build_parser, main
from pytest_claude_sessions.store import runs as run_dirs

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose store holds two runs: variant 1, then variant 2 (a longer chain, one test gone, one
    added). Transcripts stay under <project>/bt (the inner runs' basetemp)."""
    from conftest import find_claude_bin

    claude = find_claude_bin()
    if claude is None:
        pytest.skip("the Claude Code CLI is not installed (bash scripts/install-claude-cli.sh)")
    root = tmp_path_factory.mktemp("commands")
    for variant, basetemp in (("1", "bt1"), ("2", "bt2")):
        done = run_pytest(
            root,
            "-n",
            "2",
            f"--claude-bin={claude}",
            f"--basetemp={root / basetemp}",
            suite=SUITE,
            env=clean_env(SUITE_VARIANT=variant),
        )
        assert done.returncode == 1, done.stdout + done.stderr  # test_fails fails on purpose
        assert "1 failed" in done.stdout, done.stdout
    return root


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    names = sorted(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert {"runs", "show", "diff", "merge", "validate"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: claude-sessions {name}")
        assert "exit codes:" in out


def test_runs_lists_newest_first(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = project / ".claude_sessions"
    code, out, _ = cli(capsys, "runs", "--store", str(store))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "run",
        "id",
        "started",
        "(UTC)",
        "tests",
        "calls",
        "sessions",
        "cost",
        "errors",
    ]
    ids = [p.name for p in run_dirs.list_runs(store)]
    assert [line.split()[0] for line in lines[1:]] == ids[::-1]
    # variant 2: test_chain 4 calls, test_fails 1, test_added 1, test_raises 0 calls but one error
    assert re.search(r"\s4\s+6\s+4\s+\$0\.\d{4}\s+1$", lines[1]), lines[1]
    code, out, _ = cli(capsys, "runs", "--store", str(store), "--json")
    data = json.loads(out)
    assert [r["run_id"] for r in data["runs"]] == ids[::-1]
    assert data["runs"][0]["tests"] == 4 and data["runs"][0]["failed_tests"] == 1


def test_show_tree_and_conversation(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)  # the default store is ./.claude_sessions
    code, out, _ = cli(capsys, "show", "-k", "chain or fails", "--conversation")
    assert code == 0
    assert "test_inner.py::test_chain  passed  4 calls, 2 sessions" in out
    assert "continuity ok" in out
    assert "test_inner.py::test_fails  failed  1 call, 1 session" in out
    assert "test_raises" not in out  # -k
    chain = out[out.index("test_inner.py::test_chain") :]
    sid = re.search(rf"1 new  ({UUID})", chain)
    assert sid, chain
    # resumes go on below their step, the fork branches off the last one
    assert re.search(rf"\n  2 resume  {sid.group(1)} ", chain)
    assert re.search(rf"\n  3 resume  {sid.group(1)} ", chain)
    fork = re.search(rf"\n  └─ 4 fork  ({UUID}) ", chain)
    assert fork and fork.group(1) != sid.group(1)
    # what was said, read from the transcripts
    assert "user: what is my name?" in chain
    assert re.search(r"assistant: .*Alice", chain)

    code, out, _ = cli(capsys, "show", "-k", "raises")
    assert "test_inner.py::test_raises  passed  0 calls, 0 sessions, $0.0000, 0 turns, 1 error" in out
    assert re.search(r"raised: resume \w+Error: ", out), out
    raised = re.search(r"raised: resume (\w+Error): (.*)", out)
    assert raised and not raised.group(2).startswith(raised.group(1)), out  # the type once

    code, out, _ = cli(capsys, "show", "-2", "--json", "-k", "chain")
    data = json.loads(out)
    assert [t["nodeid"] for t in data["tests"]] == ["test_inner.py::test_chain"]
    assert [s["kind"] for s in data["tests"][0]["steps"]] == ["new", "resume", "fork"]


def test_show_conversation_without_transcripts(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "store"
    shutil.copytree(project / ".claude_sessions", copy)
    # the transcripts are gone (a CI artifact holds only the store): no conversation, no error
    moved = tmp_path / "away"
    shutil.move(project / "bt2", moved)
    try:
        code, out, _ = cli(capsys, "show", "--store", str(copy), "-k", "fails", "--conversation")
    finally:
        shutil.move(moved, project / "bt2")
    assert code == 0
    assert "(no transcript)" in out


def test_diff_names_changed_added_and_gone(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(project / ".claude_sessions")
    code, out, _ = cli(capsys, "diff", "-2", "-1", "--store", store)
    assert code == 0
    assert re.search(
        r"test_inner.py::test_chain\s+changed\s+passed\s+3 → 4\s+3 → 4\s+\$0\.\d+ → \$0\.\d+", out
    )
    assert re.search(r"test_inner.py::test_gone\s+gone\s+passed → -", out)
    assert re.search(r"test_inner.py::test_added\s+added\s+passed\s+1\s+1", out)
    counts = re.search(r"(\d+) changed, 1 added, 1 gone, (\d+) same", out)
    assert counts, out
    table = out.split("totals:")[0].splitlines()[2:]  # after the run ids and the header
    assert len(table) == int(counts.group(1)) + 2  # unchanged tests are hidden...
    code, out, _ = cli(capsys, "diff", "-2", "-1", "--store", store, "--all")
    assert len(out.split("totals:")[0].splitlines()[2:]) == 5  # ...unless --all
    assert not re.search(r"\b(True|False|None)\b", out), out  # continuity in words: ok, broken, -
    code, _, _ = cli(capsys, "diff", "-2", "-1", "--store", store, "--exit-code")
    assert code == 1
    code, out, _ = cli(capsys, "diff", "-1", "-1", "--store", store, "--exit-code", "--json")
    assert code == 0
    assert {t["status"] for t in json.loads(out)["tests"]} == {"same"}


def test_validate_names_file_and_line(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = next(p for p in (project / "bt1").glob("*/test_chain0/.claude"))
    code, out, _ = cli(capsys, "validate", str(config))
    assert code == 0
    assert re.search(r"2 transcripts in .*: 2 ok, 0 broken", out), out
    broken = tmp_path / "claude"
    shutil.copytree(config, broken)
    victim = sorted(broken.glob("projects/*/*.jsonl"))[0]
    lines = victim.read_text().splitlines()
    rec = json.loads(lines[-1]) if "uuid" in lines[-1] else None
    lines.append(
        json.dumps(
            {
                "type": "user",
                "uuid": "11111111-1111-4111-8111-111111111111",
                "parentUuid": "22222222-2222-4222-8222-222222222222",
                "sessionId": victim.stem,
                "message": {"role": "user", "content": "orphan"},
            }
        )
    )
    del rec
    victim.write_text("\n".join(lines) + "\n")
    code, out, _ = cli(capsys, "validate", str(broken), "--json")
    assert code == 1
    bad = [t for t in json.loads(out)["transcripts"] if not t["ok"]]
    assert len(bad) == 1 and bad[0]["path"] == str(victim)
    assert str(victim) in bad[0]["error"] and f"line {len(lines)}" in bad[0]["error"]


def test_bad_input_exits_2_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "show", "--store", str(tmp_path / "nothing"))
    assert code == 2
    assert err.startswith("claude-sessions: error: no run in the store ")
    code, _, err = cli(capsys, "validate", str(tmp_path))
    assert code == 2 and "is not a directory" in err
    (tmp_path / "report.json").write_text("{not json")
    code, _, err = cli(capsys, "show", str(tmp_path / "report.json"))
    assert code == 2 and "not a readable JSON report" in err
    code, _, err = cli(capsys, "show", "-k", "a and (b", "--store", str(tmp_path))
    assert code == 2 and "-k 'a and (b'" in err


def test_console_script_and_python_m(project: Path) -> None:
    done = claude_sessions("runs", "--store", str(project / ".claude_sessions"))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3
    import subprocess
    import sys

    store = str(project / ".claude_sessions")
    done2 = subprocess.run(
        [sys.executable, "-m", "pytest_claude_sessions", "runs", "--store", store],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert done2.returncode == 0 and done2.stdout == done.stdout


def test_a_missing_store_or_no_transcript_is_one_error_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "runs", "--store", str(tmp_path / "nope"))
    assert code == 2 and out == "" and "no store at" in err and "nope" in err
    (tmp_path / "cfg" / "projects").mkdir(parents=True)
    code, out, err = cli(capsys, "validate", str(tmp_path / "cfg"))
    assert code == 2 and out == "" and "no transcript found" in err


def test_a_run_is_named_by_a_unique_prefix_or_suffix_of_its_id(tmp_path: Path) -> None:
    from pytest_claude_sessions.report.model import RunNotFoundError, find_run

    root = tmp_path / "runs"
    ids = ["2026-11-24T05-56-58.671053Z-61a42f", "2026-11-25T05-56-58.671053Z-b99118"]
    for run_id in ids:
        (root / run_id).mkdir(parents=True)
    assert find_run(tmp_path, "2026-11-24").name == ids[0]
    assert find_run(tmp_path, "b99118").name == ids[1]  # the random tail people copy
    with pytest.raises(RunNotFoundError, match="ambiguous"):
        find_run(tmp_path, "2026-11-2")
    with pytest.raises(RunNotFoundError, match="no run 'zzz'"):
        find_run(tmp_path, "zzz")
