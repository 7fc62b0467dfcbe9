"""The regression gate's logic: threshold specs, figures, offences (relative and absolute), baselines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_claude_sessions.report.compare import (
    CompareError,
    Threshold,
    baseline_from_records,
    compare,
    load_baseline_file,
    parse_thresholds,
    write_baseline,
)


def record(nodeid: str, cost: float, turns: int, calls: int, duration: int = 100) -> dict[str, object]:
    steps = [{"duration_ms": duration // calls if calls else 0} for _ in range(calls)]
    return {"nodeid": nodeid, "cost_usd": cost, "turns": turns, "calls": calls, "steps": steps}


def test_parse_thresholds() -> None:
    assert parse_thresholds("cost:10%, turns:2,calls:1,duration:500") == [
        Threshold("cost", 10.0, True),
        Threshold("turns", 2.0, False),
        Threshold("calls", 1.0, False),
        Threshold("duration", 500.0, False),
    ]
    assert str(parse_thresholds("COST:2.5%")[0]) == "cost:2.5%"


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("speed:10%", "is not FIELD:LIMIT"),
        ("cost", "is not FIELD:LIMIT"),
        ("cost:ten%", "'ten' is not a number"),
        ("turns:-1", "finite number >= 0"),
        ("cost:nan", "finite number >= 0"),
        ("", "no threshold given"),
    ],
)
def test_bad_threshold_specs_say_what(spec: str, why: str) -> None:
    with pytest.raises(CompareError, match="--claude-compare-fail: ") as info:
        parse_thresholds(spec)
    assert why in str(info.value)


def test_offences_relative_and_absolute() -> None:
    base = baseline_from_records(
        [
            record("t::same", 0.1, 2, 1),
            record("t::costly", 0.1, 2, 1),
            record("t::chatty", 0.1, 2, 1),
            record("t::gone", 0.1, 1, 1),
            record("t::free", 0.0, 0, 0),
        ]
    )["tests"]
    now = [
        record("t::same", 0.1, 2, 1),
        record("t::costly", 0.111, 2, 1),  # +11 %
        record("t::chatty", 0.105, 5, 2),  # +5 % cost, +3 turns, +1 call
        record("t::free", 0.01, 1, 1),  # from nothing: any growth is beyond a relative limit
        record("t::new", 9.0, 99, 9),  # not in the baseline: shown, never an offence
    ]
    result = compare(now, base, parse_thresholds("cost:10%,turns:2,calls:1"), baseline_name="base")
    offenders = sorted((o.nodeid, o.threshold.field) for o in result.offences)
    assert offenders == [("t::chatty", "turns"), ("t::costly", "cost"), ("t::free", "cost")]
    assert result.failed
    text = "\n".join(result.lines())
    assert "t::costly: cost $0.1000 → $0.1110 (+11.0% > 10%)" in text
    assert "t::chatty: turns 2 → 5 (+3 > 2)" in text
    assert "t::free: cost $0.0000 → $0.0100 (+inf% > 10%)" in text
    assert re.search(r"t::new +\(new\)", text) and re.search(r"t::gone +\(gone\)", text)
    # a cheaper run never regresses, and no threshold means nothing fails
    assert not compare([record("t::costly", 0.01, 1, 1)], base, parse_thresholds("cost:0%")).failed
    assert not compare(now, base).failed


def test_baseline_file_round_trip_and_json_report(tmp_path: Path) -> None:
    data = baseline_from_records([record("b", 0.2, 3, 2, 400), record("a", 0.1, 1, 1)], run_id="r1")
    path = tmp_path / "sub" / "baseline.json"
    write_baseline(path, data)
    assert list(json.loads(path.read_text())["tests"]) == ["a", "b"]
    assert load_baseline_file(path) == {
        "a": {"cost": 0.1, "turns": 1.0, "calls": 1.0, "duration": 100.0},
        "b": {"cost": 0.2, "turns": 3.0, "calls": 2.0, "duration": 400.0},
    }
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"version": 1, "tests": [record("a", 0.1, 1, 1)]}))
    assert load_baseline_file(report)["a"]["cost"] == 0.1
    (tmp_path / "other.json").write_text("[1, 2]")
    with pytest.raises(CompareError, match="neither a baseline"):
        load_baseline_file(tmp_path / "other.json")
    with pytest.raises(CompareError, match="cannot be read"):
        load_baseline_file(tmp_path / "missing.json")
