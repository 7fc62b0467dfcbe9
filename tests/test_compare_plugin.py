"""The regression gate in real runs: cassettes recorded with the real CLI against the stub, then replayed
(no CLI call, the recorded figures) with ``--claude-save-baseline``, ``--claude-compare`` and
``--claude-compare-fail``, with and without xdist; bad values are start-up errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from inner_runs import INI, record_gate_cassettes, replay_gate


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import find_claude_bin

    claude = find_claude_bin()
    if claude is None:
        pytest.skip("the Claude Code CLI is not installed (bash scripts/install-claude-cli.sh)")
    root = record_gate_cassettes(tmp_path_factory.mktemp("gate"), claude)
    saved = replay_gate(root, "base", "--claude-save-baseline=baseline/base.json", store=".store-base")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    return root


def section(out: str, title: str) -> list[str]:
    """The lines of one ``---- title ----`` part of the terminal summary."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"-+ {title} -+", line))
    rest = lines[start + 1 :]
    end = next((i for i, line in enumerate(rest) if re.fullmatch(r"[-=]+ .* [-=]+", line)), len(rest))
    return rest[:end]


def test_the_baseline_holds_each_tests_recorded_figures(gate: Path) -> None:
    data = json.loads((gate / "baseline" / "base.json").read_text())
    assert data["format"] == "pytest-claude-sessions.baseline"
    assert sorted(data["tests"]) == ["test_inner.py::test_chain", "test_inner.py::test_steady"]
    chain = data["tests"]["test_inner.py::test_chain"]
    assert (chain["calls"], chain["turns"]) == (2, 2)
    assert chain["cost"] > 0 and chain["duration"] > 0  # the recorded figures, replayed


def test_a_regression_fails_the_run_naming_the_offenders_with_and_without_xdist(gate: Path) -> None:
    args = ("--claude-compare=baseline/base.json", "--claude-compare-fail=calls:0,cost:10%,turns:5")
    shown = []
    for extra in ((), ("-n", "2")):
        done = replay_gate(gate, "more", *args, *extra)
        assert done.returncode == 1, done.stdout + done.stderr  # every test passed: the gate failed the run
        assert "3 passed" in done.stdout
        lines = section(done.stdout, "claude compare")
        assert lines[0] == "compared with baseline/base.json:"
        offenders = lines[lines.index("REGRESSION: 2 figure(s) beyond the thresholds:") + 1 :]
        assert offenders[0] == "  test_inner.py::test_chain: calls 2 → 3 (+1 > 0)"
        assert re.fullmatch(
            r"  test_inner.py::test_chain: cost \$0\.\d{4} → \$0\.\d{4} \(\+\d+\.\d% > 10%\)", offenders[1]
        )
        assert not any("test_steady" in line for line in offenders)  # turns 2 -> 3 is within turns:5
        row = next(line for line in lines if line.startswith("  test_inner.py::test_chain "))
        assert "2 → 3 (+50.0%)" in row  # turns and calls then → now
        shown.append(lines)
    assert shown[0] == shown[1]  # xdist-identical


def test_within_the_thresholds_the_run_passes(gate: Path) -> None:
    done = replay_gate(
        gate, "more", "--claude-compare=baseline/base.json", "--claude-compare-fail=calls:1,turns:1,cost:0.06"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = section(done.stdout, "claude compare")
    assert not any(line.startswith("REGRESSION") for line in lines)
    assert any(line.startswith("  test_inner.py::test_chain ") and "2 → 3" in line for line in lines)
    # the same suite against itself: nothing changed, nothing fails even at zero tolerance
    same = replay_gate(gate, "base", "--claude-compare=baseline/base.json", "--claude-compare-fail=cost:0%")
    assert same.returncode == 0, same.stdout


def test_compare_with_the_previous_run_and_a_run_id(gate: Path) -> None:
    store = ".store-previous"
    first = replay_gate(
        gate, "base", "--claude-compare=previous", "--claude-compare-fail=calls:0", store=store
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "no earlier run in the store" in "\n".join(section(first.stdout, "claude outputs"))
    run_id = re.search(r"claude-sessions: run=\S+/runs/(\S+)", first.stdout)
    assert run_id is not None
    worse = replay_gate(
        gate, "more", "--claude-compare=previous", "--claude-compare-fail=calls:0", store=store
    )
    assert worse.returncode == 1
    assert section(worse.stdout, "claude compare")[0] == f"compared with the previous run {run_id[1]}:"
    by_id = replay_gate(
        gate, "more", f"--claude-compare={run_id[1][:26]}", "--claude-compare-fail=calls:0", store=store
    )
    assert by_id.returncode == 1
    assert "  test_inner.py::test_chain: calls 2 → 3 (+1 > 0)" in section(by_id.stdout, "claude compare")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--claude-compare=previous", "--claude-compare-fail=bogus:1"],
            {},
            "--claude-compare-fail: invalid value 'bogus:1' (from command line): 'bogus:1' is not "
            "FIELD:LIMIT or FIELD:LIMIT% with FIELD one of cost, turns, calls, duration",
        ),
        (
            ["--claude-compare=previous"],
            {"PYTEST_CLAUDE_COMPARE_FAIL": "cost:lots"},
            "--claude-compare-fail: invalid value 'cost:lots' (from env PYTEST_CLAUDE_COMPARE_FAIL): "
            "'cost:lots': 'lots' is not a number",
        ),
        (
            ["--claude-compare-fail=cost:10%"],
            {},
            "--claude-compare-fail: invalid value 'cost:10%' (from command line): needs "
            "--claude-compare=previous|RUN_ID|FILE (the baseline to compare with)",
        ),
        (
            ["--claude-compare=nosuchrun"],
            {},
            "--claude-compare: invalid value 'nosuchrun' (from command line): neither a file nor a run of "
            "the store: no run in the store",
        ),
        (
            ["--claude-save-baseline=adir"],
            {},
            "--claude-save-baseline: invalid value '*adir' (from command line): "
            "cannot write there: it is a directory",
        ),
        (
            ["--claude-html=adir"],
            {},
            "--claude-html: invalid value '*adir' (from command line): cannot write there: it is a directory",
        ),
    ],
    ids=[
        "unknown-field",
        "not-a-number-env",
        "fail-without-compare",
        "no-such-run",
        "baseline-dir",
        "html-dir",
    ],
)
def test_bad_values_are_start_up_errors(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (pytester.path / "adir").mkdir()
    pytester.makeini(INI)
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])
    assert not (pytester.path / ".claude_sessions" / "runs").exists()  # nothing made, nothing pruned


def test_compare_fail_from_the_ini_file_is_checked(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + "claude_compare = previous\nclaude_compare_fail = turns:-1\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--claude-compare-fail: invalid value 'turns:-1' (from ini key claude_compare_fail in "
            "*tox.ini): 'turns:-1': the limit must be a finite number >= 0*"
        ]
    )
