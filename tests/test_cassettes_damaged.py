"""Tampered cassettes of every wrong shape and type: a ``CassetteCorruptError`` naming the file and the
field, in a short failure without json frames; ``rewrite`` replaces a corrupt cassette."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import hide_every_claude

from pytest_claude_sessions.cassettes.files import CASSETTE_FORMAT, dump_cassette, load_cassette_data
from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor
from pytest_claude_sessions.cassettes.transcript_records import apply_chunks
from pytest_claude_sessions.errors import CassetteCorruptError, CassetteError

SID = "13530587-ae0e-4e17-8473-cad43d4119bb"

SOUND: dict[str, Any] = {
    "format": CASSETTE_FORMAT,
    "version": 1,
    "header": {"cli_version": "2.1.330", "recorded_at": "2026-01-01T00:00:00+00:00"},
    "interactions": [
        {
            "id": "a1",
            "position": 1,
            "cli_version": "2.1.330",
            "request": {
                "kind": "new",
                "prompt": "hi",
                "output_format": "json",
                "resume": None,
                "session_id": None,
                "fork": False,
                "continue": False,
                "options": {},
            },
            "response": {
                "returncode": 0,
                "stdout": {"json": {"type": "result", "session_id": SID, "result": "hello"}},
                "stderr": "",
                "timed_out": False,
                "elapsed": 0.5,
            },
            "transcripts": [
                {"path": f"-proj/{SID}.jsonl", "mode": "create", "lines": [{"type": "user", "uuid": "u1"}]}
            ],
        }
    ],
}


def _set(data: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the field at ``where`` (``a.b[0].c``) set to ``value``."""
    out = copy.deepcopy(data)
    parts = where.replace("[", ".").replace("]", "").split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out


DEEP = [{"type": "user", "x": json.loads("[" * 150 + "]" * 150)}]

WRONG: list[tuple[str, Any, str]] = [
    ("header", "a string", "header must be an object, got a string"),
    ("header.cli_version", 2, "header.cli_version must be a string or null, got a number"),
    ("interactions", 5, "'interactions' is a number"),
    ("interactions", {"0": {}}, "'interactions' is an object"),
    ("interactions[0]", "x", "interactions[0] must be an object, got a string"),
    ("interactions[0].id", 7, "interactions[0].id must be a string or null, got a number"),
    ("interactions[0].position", "1", "interactions[0].position must be a number or null, got a string"),
    ("interactions[0].request", [], "interactions[0].request must be an object, got a list"),
    ("interactions[0].request.prompt", 3, "interactions[0].request.prompt must be a string, got a number"),
    ("interactions[0].request.fork", "yes", "interactions[0].request.fork must be a boolean, got a string"),
    ("interactions[0].request.options", [], "interactions[0].request.options must be an object, got a list"),
    ("interactions[0].request.resume", 1.5, "interactions[0].request.resume must be a string or null"),
    ("interactions[0].response", None, "interactions[0].response must be an object, got null"),
    (
        "interactions[0].response.returncode",
        "0",
        "returncode must be a number or null, got a string",
    ),
    (
        "interactions[0].response.returncode",
        True,
        "returncode must be a number or null, got a boolean",
    ),
    (
        "interactions[0].response.stdout",
        42,
        "response.stdout must be an object, got a number",
    ),
    ("interactions[0].response.stdout", {}, "response.stdout must hold 'json', 'lines' or 'text'"),
    ("interactions[0].response.stdout", {"json": []}, "response.stdout.json must be an object"),
    ("interactions[0].response.stdout", {"lines": "x"}, "response.stdout.lines must be a list"),
    ("interactions[0].response.stdout", {"text": 1}, "response.stdout.text must be a string"),
    ("interactions[0].response.stderr", [], "interactions[0].response.stderr must be a string or null"),
    (
        "interactions[0].response.timed_out",
        "no",
        "timed_out must be a boolean or null, got a string",
    ),
    ("interactions[0].response.elapsed", "1s", "response.elapsed must be a number or null, got a string"),
    ("interactions[0].transcripts", {}, "interactions[0].transcripts must be a list, got an object"),
    ("interactions[0].transcripts[0]", 1, "interactions[0].transcripts[0] must be an object, got a number"),
    ("interactions[0].transcripts[0].path", None, "transcripts[0].path must be a string, got null"),
    (
        "interactions[0].transcripts[0].mode",
        "delete",
        "transcripts[0].mode must be create, append or",
    ),
    ("interactions[0].transcripts[0].lines", "x", "transcripts[0].lines must be a list, got a string"),
    ("interactions[0].transcripts[0].lines", DEEP, "nests deeper than 96 levels"),
    ("version", "1", "format version '1'"),
    ("version", True, "format version True"),
]


@pytest.mark.parametrize(("where", "value", "message"), WRONG, ids=[f"{w}={v!r}"[:60] for w, v, _ in WRONG])
def test_every_wrong_type_is_a_corrupt_cassette_naming_the_file_and_the_field(
    tmp_path: Path, where: str, value: Any, message: str
) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_set(SOUND, where, value)), encoding="utf-8")
    content = path.read_bytes()
    for mode in ("none", "once", "new_episodes", "all"):
        with pytest.raises(CassetteCorruptError) as info:
            CassetteInterceptor(path, mode=mode)
        assert message in str(info.value), str(info.value)
        assert str(path) in str(info.value)
        assert info.value.path == path
        exc = info.value  # no json/TypeError chain behind it
        assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    assert path.read_bytes() == content  # never re-recorded over
    assert CassetteInterceptor(path, mode="rewrite").interactions == []  # rewrite is what fixes it


def test_sound_base_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(dump_cassette(SOUND), encoding="utf-8")
    assert load_cassette_data(path) == SOUND


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (dump_cassette(SOUND)[:200], "is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "deeper than Python can parse"),
        ('{"format": "' + CASSETTE_FORMAT + '", "version": 1, "interactions": ' + "[" * 100_000, "JSON"),
        ("", "not valid JSON"),
        ("null", "is not a pytest-claude-sessions cassette"),
    ],
    ids=["truncated", "deep", "deep-inside", "empty", "null"],
)
def test_truncated_or_deep_text_is_a_corrupt_cassette(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CassetteCorruptError, match=message) as info:
        CassetteInterceptor(path)
    assert info.value.__cause__ is None


def test_bytes_that_are_not_utf8_are_a_corrupt_cassette(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(CassetteCorruptError, match="cannot read cassette"):
        CassetteInterceptor(path)


DAMAGED_TEST = """
import pytest

@pytest.mark.claude_cassette
def test_agent(claude_executor, claude_api_stub):
    result = claude_executor.run("my name is Alice")
    assert result.session_id
"""


def test_a_damaged_cassette_fails_short_without_json_frames(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytester.makepyfile(test_damaged=DAMAGED_TEST)
    path = pytester.path / "cassettes" / "test_damaged" / "test_agent.json"
    path.parent.mkdir(parents=True)
    hide_every_claude(monkeypatch, tmp_path)
    for damage in (dump_cassette(SOUND)[:300], json.dumps(_set(SOUND, "interactions[0].response.stdout", 7))):
        path.write_text(damage, encoding="utf-8")
        result = pytester.runpytest_subprocess()
        result.assert_outcomes(errors=1)
        out = result.stdout.str()
        assert "CassetteCorruptError" in out and str(path) in out
        assert "json/decoder.py" not in out and "json/__init__.py" not in out, out
        assert "cassettes/files.py" not in out and "cassettes/recorder.py" not in out, out  # hidden
        error_section = out.split("ERROR at setup")[1].split("short test summary")[0]
        assert len(error_section.splitlines()) < 80, error_section  # pytest-asyncio's and the plugin's frames


def test_rewrite_replaces_a_corrupt_cassette_with_the_real_cli(
    pytester: pytest.Pytester, claude_bin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytester.makepyfile(test_damaged=DAMAGED_TEST)
    path = pytester.path / "cassettes" / "test_damaged" / "test_agent.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_set(SOUND, "header", "broken")), encoding="utf-8")
    result = pytester.runpytest_subprocess("--claude-record-mode=rewrite", f"--claude-bin={claude_bin}")
    result.assert_outcomes(passed=1)
    assert "CassetteCorruptError" not in result.stdout.str()
    data = load_cassette_data(path)
    assert data is not None
    assert [i["request"]["prompt"] for i in data["interactions"]] == ["my name is Alice"]
    # and it replays, with no CLI at all
    hide_every_claude(monkeypatch, tmp_path)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_a_replay_never_writes_a_transcript_through_a_planted_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jsonl"
    outside.write_text("keep\n")
    project = tmp_path / "cfg" / "projects" / "-proj"
    project.mkdir(parents=True)
    (project / f"{SID}.jsonl").symlink_to(outside)
    for mode in ("append", "replace"):
        with pytest.raises(
            CassetteError, match=r"refusing to write the replayed transcript .*: it is a symbolic link"
        ):
            apply_chunks(tmp_path / "cfg", [(f"-proj/{SID}.jsonl", mode, '{"type":"user"}\n')])  # type: ignore[list-item]
    assert outside.read_text() == "keep\n"
