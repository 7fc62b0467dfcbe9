"""``cassettes list|lint`` and ``drift`` on the project's real recorded cassettes (the example suites)
and on damaged copies of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_claude_sessions.commands.main import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "support_agent" / "tests" / "cassettes"


@pytest.fixture
def cassettes(tmp_path: Path) -> Path:
    target = tmp_path / "tests" / "cassettes"
    shutil.copytree(EXAMPLES, target)
    return target


def one(cassettes: Path) -> Path:
    return sorted(cassettes.rglob("*.json"))[0]


def test_list_and_clean_lint(cassettes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    count = len(list(cassettes.rglob("*.json")))
    assert main(["cassettes", "list", str(cassettes.parent), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["cassettes"]
    assert len(listed) == count and all(c["interactions"] >= 1 and c["cli_versions"] for c in listed)
    assert main(["cassettes", "lint", str(cassettes.parent)]) == 0
    assert f"{count} cassette(s), 0 with problems" in capsys.readouterr().out


def test_lint_finds_a_secret_a_bad_placeholder_and_mixed_versions(
    cassettes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = one(cassettes)
    data = json.loads(path.read_text())
    data["interactions"][0]["request"]["prompt"] = (
        "use key sk-ant-api03-" + "A" * 40 + " and {{PCS_cwd}} {{PCS_BOGUS}} {{PCS_HOME_REAL}} {{PCS_HOME"
    )
    data["interactions"].append(dict(data["interactions"][0], cli_version="9.9.9"))
    path.write_text(json.dumps(data, indent=1))
    assert main(["cassettes", "lint", str(path), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["cassettes"][0]["problems"]
    assert any("a secret is still in it (anthropic-key)" in p for p in problems), problems
    assert "malformed placeholder '{{PCS_cwd}}'" in problems
    assert "unknown placeholder '{{PCS_BOGUS}}' (a replay cannot fill it)" in problems
    assert "2 unterminated placeholder(s): '{{PCS_' without its '}}'" in problems  # the prompt is there twice
    assert not any("PCS_HOME_REAL" in p for p in problems), problems  # a real name is fine
    assert any("several CLI versions (2.1.330, 9.9.9)" in p for p in problems)
    path.write_text("{broken")
    assert main(["cassettes", "lint", str(path)]) == 1
    assert "is not valid JSON" in capsys.readouterr().out


def test_drift_reparses_and_compares_versions_and_fails_closed(
    cassettes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], claude_bin: Path
) -> None:
    assert main(["drift", str(cassettes), f"--claude-bin={claude_bin}"]) == 0
    assert "against CLI 2.1.330: 0 drifted" in capsys.readouterr().out
    path = one(cassettes)
    data = json.loads(path.read_text())
    data["interactions"][0]["cli_version"] = "2.0.1"
    data["interactions"][0]["response"]["stdout"] = {"text": "not json at all"}
    path.write_text(json.dumps(data))
    assert main(["drift", str(cassettes), f"--claude-bin={claude_bin}", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)["cassettes"]
    bad = next(r for r in rows if r["path"] == str(path))["problems"]
    assert "interaction 1: recorded with CLI 2.0.1, installed 2.1.330" in bad
    assert "interaction 1: the recorded output is no JSON result today's parser reads" in bad
    (tmp_path / "empty").mkdir()
    assert main(["drift", str(tmp_path / "empty")]) == 1
    assert "no cassette found: drift checked nothing" in capsys.readouterr().err
