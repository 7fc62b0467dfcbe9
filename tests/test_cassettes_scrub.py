"""Redaction, path placeholders and request matching on plain CliCall objects (no CLI needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_claude_sessions.cassettes.matching import differences, normalize_request, request_diff
from pytest_claude_sessions.cassettes.scrub import CassetteScrubber
from pytest_claude_sessions.cassettes.transcript_records import (
    apply_chunks,
    collect_chunks,
    safe_relative,
    snapshot_sizes,
)
from pytest_claude_sessions.ids import project_dir_name
from pytest_claude_sessions.models import CliCall


def _call(tmp_path: Path, cwd: Path | None = None, **kw: object) -> CliCall:
    cwd = cwd or tmp_path / "work"
    cwd.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(tmp_path / "home-dir"),
        "TMPDIR": str(tmp_path / "tmp-dir"),
        "ANTHROPIC_API_KEY": "k3y-Val",
    }
    return CliCall(
        argv=["claude"],
        prompt=str(kw.pop("prompt", "hi")),
        kind="new",
        cwd=cwd,
        config_dir=tmp_path / "work" / "cfg",
        env=env,
        timeout=5.0,
        **kw,  # type: ignore[arg-type]
    )


def test_paths_become_placeholders_and_come_back(tmp_path: Path) -> None:
    call = _call(tmp_path)
    scrub = CassetteScrubber.create().for_call(call)
    cwd, cfg = str(call.cwd), str(call.config_dir)
    record = {
        "cwd": cwd,
        "memory": f"{cfg}/projects/{project_dir_name(cwd)}/memory/",
        "home": str(tmp_path / "home-dir") + "/.gitconfig",
        "sock": str(tmp_path / "tmp-dir") + "/cc-socks/1.sock",
        "other": cwd + "2/x",  # a sibling path that merely starts with the cwd text stays as it is
        cwd: "keys too",
    }
    out = scrub.scrub(record)
    assert out["cwd"] == "{{PCS_CWD}}"
    assert out["memory"] == "{{PCS_CONFIG_DIR}}/projects/{{PCS_CWD_PROJECT}}/memory/"
    assert out["home"] == "{{PCS_HOME}}/.gitconfig" and out["sock"] == "{{PCS_TMPDIR}}/cc-socks/1.sock"
    assert out["other"] == cwd + "2/x"
    assert out["{{PCS_CWD}}"] == "keys too"

    # replayed elsewhere, with a quote in the path: the JSON stays valid and holds the new paths
    other = _call(tmp_path, cwd=tmp_path / 'el"se where')
    restore = CassetteScrubber.create().for_call(other).restorer(json_text=True)
    back = json.loads(restore(json.dumps(out)))
    assert back["cwd"] == str(other.cwd)
    assert back["memory"] == f"{other.config_dir}/projects/{project_dir_name(other.cwd)}/memory/"


def test_realpath_forms_are_replaced_too(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    call = _call(tmp_path, cwd=link)
    scrub = CassetteScrubber.create().for_call(call)
    assert scrub.scrub_text(f"{real}/a and {link}/b") == "{{PCS_CWD_REAL}}/a and {{PCS_CWD}}/b"
    plain = _call(tmp_path)  # a replay where cwd is no symlink still fills the realpath placeholder
    restore = CassetteScrubber.create().for_call(plain).restorer(json_text=False)
    assert restore("{{PCS_CWD_REAL}}/a") == f"{plain.cwd}/a"


def test_a_slug_alone_is_scrubbed_and_plain_text_resolves_no_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    call = _call(tmp_path)
    scrub = CassetteScrubber.create().for_call(call)
    slug = project_dir_name(call.cwd)
    resolved: list[str] = []
    real_realpath = os.path.realpath

    def counting(path: str) -> str:
        resolved.append(path)
        return real_realpath(path)

    monkeypatch.setattr(os.path, "realpath", counting)
    for plain in ("my name is Alice", "stream-json", "a-b-c", ""):
        assert scrub.scrub_text(plain) == plain
    assert resolved == []  # plain text needs no realpath: a replay's request costs no lstat
    assert "/" not in slug and scrub.scrub_text(f"dir {slug}!") == "dir {{PCS_CWD_PROJECT}}!"
    assert resolved  # a text that may hold a path resolves them once...
    count = len(resolved)
    assert scrub.scrub_text(f"again {slug}") == "again {{PCS_CWD_PROJECT}}"
    assert len(resolved) == count  # ...and only once per call scrubber


def test_secrets_are_masked(tmp_path: Path) -> None:
    call = _call(tmp_path)
    scrub = CassetteScrubber.create(patterns=[r"corp-\d+"]).for_call(call)
    out = scrub.scrub(
        {
            "text": "key sk-ant-api03-abcdefghijklmnop, env k3y-Val, host corp-42",
            "headers": {"Authorization": "Bearer abc", "x-api-key": "anything"},
        }
    )
    flat = json.dumps(out)
    for secret in ("sk-ant-api03-abcdefghijklmnop", "k3y-Val", "corp-42", "Bearer abc", "anything"):
        assert secret not in flat
    assert (
        "[REDACTED:anthropic-key]" in flat and "[REDACTED:secret-env]" in flat and "[REDACTED:custom]" in flat
    )


def test_matching_criteria_and_diff(tmp_path: Path) -> None:
    base = normalize_request(
        _call(tmp_path, options={"model": "m1", "max_turns": None, "allowed_tools": ["A"]})
    )
    assert base["options"] == {"model": "m1", "allowed_tools": ["A"]}  # unset flags are dropped
    other = {**base, "prompt": "changed", "options": {"model": "m2", "allowed_tools": ["A"]}}
    assert differences(base, other, ["order", "kind", "prompt", "options"]) == ["prompt", "options"]
    assert differences(base, other, ["allowed_tools"]) == []
    assert differences(base, other, ["model"]) == ["model"]
    diff = request_diff(base, other, recorded_label="recorded #1")
    assert diff.startswith("--- recorded #1\n+++ actual call")
    assert '-  "prompt": "hi",' in diff and '+  "prompt": "changed",' in diff


def test_session_criterion_maps_supplied_ids() -> None:
    recorded = {"resume": "rec-id", "session_id": None}
    assert (
        differences(recorded, {"resume": "new-id", "session_id": None}, ["session"], ids={"new-id": "rec-id"})
        == []
    )
    assert differences(recorded, {"resume": "new-id", "session_id": None}, ["session"]) == ["session"]
    assert differences({"session_id": "a"}, {"session_id": "b"}, ["session"]) == []
    assert differences({"session_id": None}, {"session_id": "b"}, ["session"]) == ["session"]


def test_transcript_delta_round_trip(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    project = cfg / "projects" / "-proj"
    project.mkdir(parents=True)
    (project / "old.jsonl").write_text('{"a":1}\n')
    before = snapshot_sizes(cfg)
    with open(project / "old.jsonl", "a") as f:
        f.write('{"a":2}\nnot json\n')
    (project / "new.jsonl").write_text('{"b":1}\n')
    chunks = {c.path: c for c in collect_chunks(cfg, before)}
    assert chunks["-proj/old.jsonl"].mode == "append" and chunks["-proj/old.jsonl"].lines == [
        {"a": 2},
        "not json",
    ]
    assert chunks["-proj/new.jsonl"].mode == "create" and chunks["-proj/new.jsonl"].lines == [{"b": 1}]
    target = tmp_path / "replay"
    apply_chunks(target, [("-proj/new.jsonl", "create", '{"b":1}\n')])
    assert (target / "projects" / "-proj" / "new.jsonl").read_text() == '{"b":1}\n'


@pytest.mark.parametrize("rel", ["../x.jsonl", "/etc/x.jsonl", "a/../../x", "a\\..\\x", "", "a//b", "a\x00b"])
def test_transcript_paths_from_a_cassette_cannot_escape(rel: str) -> None:
    with pytest.raises(Exception, match="unsafe transcript path"):
        safe_relative(rel)
