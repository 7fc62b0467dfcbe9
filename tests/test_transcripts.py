"""SessionValidator on real sample transcripts and on transcripts the tests write (forks, resumes, damage)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import uuid as uuidlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_claude_sessions.errors import InvalidSessionIdError, SessionNotFoundError, TranscriptError
from pytest_claude_sessions.ids import encode_project_path, is_session_id, project_dir_name
from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.transcripts import (
    ContinuityVerdict,
    SessionValidator,
    default_config_dir,
    leaf_uuid,
)

# Real transcripts of Claude Code 2.1.330, kept in the repository.
SAMPLES = Path(__file__).resolve().parent / "data" / "samples"
ORIGINAL = "13530587-ae0e-4e17-8473-cad43d4119bb"
FORK = "a02b54dc-67cc-4d65-b03f-94324021454f"
SAMPLE_CWD = "/home/user/proj_resume"
SAMPLE_PROJECT = "-home-user-proj-resume"
# Leaves after each step of the sample session, read from its last-prompt records.
LEAF_NEW = "4f3ff111-36b3-4139-bac3-b311f05d5598"
LEAF_RESUME = "1ab5319d-f4c9-429e-b899-596c437a3c16"
LEAF_CONTINUE = "29e7aa37-7449-4087-b0b4-189ff0ab3a4d"
LEAF_FORK = "efd732be-15f1-4c95-9c57-d5569923f731"
LEAF_LAST_RESUME = "20075533-1804-474c-8154-56996e1c67bc"


def _sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.is_file():
        msg = f"sample transcript {path} is missing from the checkout"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return path


def _new_id() -> str:
    return str(uuidlib.uuid4())


# --------------------------------------------------------------------------- a transcript writer


class Transcript:
    """Writes CLI-shaped transcripts: the record types, fields and chain layout of Claude Code 2.1.330."""

    def __init__(self, config: Path, session_id: str, cwd: str = "/home/user/work") -> None:
        self.session_id = session_id
        self.cwd = cwd
        self.path = config / "projects" / project_dir_name(cwd) / f"{session_id}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.leaf: str | None = None
        self.clock = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
        self.cost = 0.0

    def _ts(self) -> str:
        self.clock += timedelta(milliseconds=37)
        return self.clock.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def write(self, *records: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def node(self, rtype: str, parent: str | None, **fields: Any) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "parentUuid": parent,
            "isSidechain": False,
            "type": rtype,
            "uuid": str(uuidlib.uuid4()),
            "timestamp": self._ts(),
            "userType": "external",
            "entrypoint": "sdk-cli",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": "2.1.330",
            "gitBranch": "HEAD",
        }
        rec.update(fields)
        return rec

    def turn(self, prompt: str, reply: str = "ok", *, parent: str | None = None, tool: bool = False) -> str:
        """Append one prompt/answer turn the way the CLI does; returns the new leaf uuid."""
        sid = self.session_id
        parent = self.leaf if parent is None else parent
        user = self.node("user", parent, message={"role": "user", "content": prompt}, promptId=_new_id())
        recs: list[dict[str, Any]] = [
            {"type": "queue-operation", "operation": "enqueue", "timestamp": self._ts(), "sessionId": sid},
            {"type": "queue-operation", "operation": "dequeue", "timestamp": self._ts(), "sessionId": sid},
            user,
        ]
        last: str = user["uuid"]
        if parent is None:  # a new session injects context attachments into the chain
            for kind in ("environment", "model", "prompt_snapshot"):
                att = self.node("attachment", last, attachment={"type": kind})
                recs.append(att)
                last = att["uuid"]
            recs.append({"type": "atis-latch", "atis": "", "sessionId": sid})
        recs.append(
            {
                "type": "api-request-blob",
                "sessionId": sid,
                "hash": "0" * 64,
                "message": {"role": "user", "content": [{"type": "text", "text": prompt}]},
            }
        )
        recs.append({"type": "api-request", "sessionId": sid, "id": _new_id(), "timestamp": self._ts()})
        msg_id = f"msg_fake_{uuidlib.uuid4().hex[:20]}"
        blocks: list[dict[str, Any]] = [{"type": "text", "text": reply}]
        if tool:
            blocks.append({"type": "tool_use", "id": "toolu_fake_1", "name": "Read", "input": {}})
        for block in blocks:  # one record per content block, sharing message.id
            rec = self.node(
                "assistant",
                last,
                message={"id": msg_id, "role": "assistant", "model": "claude-opus-5-5", "content": [block]},
                requestId="req_fake_1",
            )
            recs.append(rec)
            last = rec["uuid"]
        if tool:
            result = self.node(
                "user",
                last,
                message={
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_fake_1", "content": "x"}],
                },
                toolUseResult={"stdout": "x"},
            )
            final = self.node(
                "assistant",
                result["uuid"],
                message={
                    "id": f"msg_fake_{uuidlib.uuid4().hex[:20]}",
                    "role": "assistant",
                    "model": "claude-opus-5-5",
                    "content": [{"type": "text", "text": "done"}],
                },
            )
            recs += [result, final]
            last = final["uuid"]
        self.cost += 0.018
        recs += [
            {"type": "last-prompt", "lastPrompt": prompt, "leafUuid": last, "sessionId": sid},
            {"type": "cost-state", "sessionId": sid, "totalCostUSD": round(self.cost, 6)},
        ]
        self.write(*recs)
        self.leaf = last
        return last

    def fork(self, new_id: str) -> Transcript:
        """What ``--resume <id> --fork-session`` writes: the chain copied, sessionId rewritten."""
        other = Transcript(self.path.parents[2], new_id, self.cwd)
        other.clock, other.cost = self.clock, self.cost
        other.write(
            {"type": "mode", "mode": "normal", "sessionId": new_id},
            {"type": "atis-latch", "atis": "", "sessionId": new_id},
        )
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec["type"] in ("user", "assistant", "attachment"):
                    other.write({**rec, "sessionId": new_id})
        other.leaf = self.leaf
        return other


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.mkdir()
    return path


@pytest.fixture
def validator(config: Path) -> SessionValidator:
    return SessionValidator(config)


@pytest.fixture
def samples(config: Path) -> Path:
    """The two real sample transcripts laid out as the CLI stores them."""
    project = config / "projects" / SAMPLE_PROJECT
    project.mkdir(parents=True)
    shutil.copy(_sample("transcript_original_after_resume_and_continue.jsonl"), project / f"{ORIGINAL}.jsonl")
    shutil.copy(_sample("transcript_fork.jsonl"), project / f"{FORK}.jsonl")
    return project


@pytest.fixture
def alice(config: Path) -> Transcript:
    t = Transcript(config, _new_id())
    t.turn("my name is Alice", "Nice to meet you, Alice!")
    return t


# --------------------------------------------------------------------------- names and places


class TestProjectDirName:
    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            # the examples of claude-code-cli.md §6.2
            ("/home/user/cwdtest/a.b_c d-e+f@g~h,i", "-home-user-cwdtest-a-b-c-d-e-f-g-h-i"),
            ("/home/user/cwdtest/ünï😀", "-home-user-cwdtest--n---"),
            ("/home/user/cafe\u0301", "-home-user-cafe-"),  # NFD: not normalised, U+0301 is one unit
            ("/home/user/caf\u00e9", "-home-user-caf-"),  # NFC é: one unit, one dash
            ("/home/user/proj_resume", SAMPLE_PROJECT),
            ("/home/user/proj.dir_x", "-home-user-proj-dir-x"),
        ],
    )
    def test_encoding_examples(self, path: str, expected: str) -> None:
        assert encode_project_path(path) == expected

    def test_names_collide_as_in_the_cli(self) -> None:
        assert encode_project_path("/a/b_c") == encode_project_path("/a/b.c") == encode_project_path("/a/b-c")

    def test_long_path_observed_from_the_real_cli(self) -> None:
        # Recorded from Claude Code 2.1.330 run in this 246-character cwd (tests/test_transcripts_cli.py
        # checks the same rule live).
        path = "/tmp/tv1/wörk dir.x/seg-" + "x" * 120 + "/" + "y" * 100
        expected = "-tmp-tv1-w-rk-dir-x-seg-" + "x" * 120 + "-" + "y" * 55 + "-as51vm"
        assert encode_project_path(path) == expected
        assert len(expected) == 200 + 1 + len("as51vm")

    def test_hash_suffix_edge_cases(self) -> None:
        exactly = "/" + "a" * 199
        assert encode_project_path(exactly) == "-" + "a" * 199  # 200 units: no suffix
        over = "/" + "a" * 200
        assert encode_project_path(over).startswith("-" + "a" * 199 + "-")
        # an astral character counts as two units, so it pushes the length over 200
        astral = "/" + "c" * 198 + "😀"
        assert len(encode_project_path(astral)) > 200

    def test_js_hash_matches_java_string_hashcode(self) -> None:
        from pytest_claude_sessions.ids import _base36, _js_hash32

        assert _js_hash32("") == 0
        assert _js_hash32("hello") == 99162322
        assert _js_hash32("polygenelubricants") == -(2**31)
        assert _base36(abs(_js_hash32("polygenelubricants"))) == "zik0zk"
        assert _js_hash32("😀") == 0xD83D * 31 + 0xDE00  # the surrogate pair, not the code point

    def test_realpath_not_pwd(self, tmp_path: Path) -> None:
        work = tmp_path / "work dir"
        work.mkdir()
        link = tmp_path / "link_to_work"
        link.symlink_to(work)
        assert project_dir_name(link) == project_dir_name(work) == encode_project_path(str(work.resolve()))
        assert "link" not in project_dir_name(link)

    def test_relative_path_is_resolved(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        assert project_dir_name(".") == encode_project_path(str(tmp_path.resolve()))

    def test_project_dir_is_inside_config(self, validator: SessionValidator, tmp_path: Path) -> None:
        d = validator.project_dir("/x/../../../etc")
        assert d.parent == validator.config_dir / "projects"
        assert d.name == "-etc"


class TestConfigDirAndIds:
    def test_default_config_dir(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))
        assert default_config_dir() == tmp_path
        assert SessionValidator().config_dir == tmp_path
        monkeypatch.setenv("CLAUDE_CONFIG_DIR", "")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert default_config_dir() == tmp_path / "home" / ".claude"
        monkeypatch.delenv("CLAUDE_CONFIG_DIR")
        assert default_config_dir() == tmp_path / "home" / ".claude"

    def test_explicit_config_dir_is_absolute(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.chdir(tmp_path)
        assert SessionValidator("cfg").config_dir == tmp_path / "cfg"

    @pytest.mark.parametrize(
        ("value", "ok"),
        [
            (ORIGINAL, True),
            (ORIGINAL.upper(), True),
            (ORIGINAL + "\n", False),
            (ORIGINAL[:-1], False),
            ("bf260767", False),
            ("../x", False),
            ("", False),
            ("a\x00b", False),
            (None, False),
            (uuidlib.UUID(ORIGINAL), False),
            ("../" + ORIGINAL, False),
        ],
    )
    def test_is_session_id(self, value: object, ok: bool) -> None:
        assert is_session_id(value) is ok


# --------------------------------------------------------------------------- the real samples


class TestRealSamples:
    def test_both_samples_are_valid(self, validator: SessionValidator, samples: Path) -> None:
        assert validator.validate_session_file(ORIGINAL, SAMPLE_CWD) == (True, None)
        assert validator.validate_session_file(FORK) == (True, None)  # found by the fallback search

    def test_info_of_the_original(self, validator: SessionValidator, samples: Path) -> None:
        info = validator.get_session_info(ORIGINAL, SAMPLE_CWD)
        assert info is not None
        assert info["session_id"] == ORIGINAL
        assert info["file_path"] == str(samples / f"{ORIGINAL}.jsonl")
        assert info["size_bytes"] == (samples / f"{ORIGINAL}.jsonl").stat().st_size
        assert info["line_count"] == 44
        # 4 prompts + 4 assistant messages; the 2 api-request-blob records with role user do not count
        assert info["user_message_count"] == 4
        assert info["assistant_message_count"] == 4
        assert info["message_count"] == 8
        assert info["prompts"] == [
            "my name is Alice",
            "what is my name?",
            "list my messages",
            "what is my name?",
        ]
        assert info["record_counts"]["api-request-blob"] == 2
        assert info["record_counts"]["queue-operation"] == 8
        assert sum(info["record_counts"].values()) == 44
        assert info["total_cost_usd"] == pytest.approx(0.073328)
        assert info["leaf_uuid"] == LEAF_LAST_RESUME
        assert info["cwd"] == SAMPLE_CWD
        assert info["cli_version"] == "2.1.330"
        assert info["first_timestamp"] == datetime(2026, 11, 24, 3, 41, 44, 155000, tzinfo=UTC)
        assert info["last_timestamp"] > info["first_timestamp"]
        assert info["last_timestamp"].tzinfo is not None
        assert info["is_valid"] is True
        assert info["error"] is None

    def test_leaf_matches_the_clis_last_prompt_record(
        self, validator: SessionValidator, samples: Path
    ) -> None:
        for sid in (ORIGINAL, FORK):
            records = list(validator.iter_records(sid))
            last_prompt = [r for r in records if r["type"] == "last-prompt"][-1]
            info = validator.get_session_info(sid)
            assert info is not None
            assert info["leaf_uuid"] == last_prompt["leafUuid"] == leaf_uuid(samples / f"{sid}.jsonl")

    def test_fork_is_a_continuation_of_the_original(self, validator: SessionValidator, samples: Path) -> None:
        verdict = validator.check_continuity(ORIGINAL, FORK, previous_leaf_uuid=LEAF_CONTINUE)
        assert verdict.ok, verdict.reason
        assert verdict.kind == "fork"
        assert verdict.basis == "leaf"
        assert verdict.previous_path == samples / f"{ORIGINAL}.jsonl"
        assert verdict.next_path == samples / f"{FORK}.jsonl"
        assert verdict.next_leaf_uuid == LEAF_FORK

    def test_fork_without_a_recorded_leaf_finds_the_branch_point(
        self, validator: SessionValidator, samples: Path
    ) -> None:
        # The original was resumed again after the fork, so its current leaf is not in the fork.
        verdict = validator.check_continuity(ORIGINAL, FORK)
        assert verdict.ok, verdict.reason
        assert verdict.basis == "branch_point"
        assert verdict.previous_leaf_uuid == LEAF_CONTINUE
        assert LEAF_LAST_RESUME in verdict.reason
        assert verdict.strength == "weak"
        assert verdict.weak_reason is not None and "no leaf was recorded" in verdict.weak_reason

    def test_fork_from_a_later_leaf_is_rejected(self, validator: SessionValidator, samples: Path) -> None:
        verdict = validator.check_continuity(ORIGINAL, FORK, previous_leaf_uuid=LEAF_LAST_RESUME)
        assert not verdict
        assert f"does not contain previous leaf '{LEAF_LAST_RESUME}'" in verdict.reason
        assert LEAF_CONTINUE in verdict.reason  # it says where the fork really branched

    def test_resumes_of_the_original(self, validator: SessionValidator, samples: Path) -> None:
        verdicts = validator.check_chain(
            [
                (ORIGINAL, LEAF_NEW),
                {"session_id": ORIGINAL, "leaf_uuid": LEAF_RESUME, "kind": "resume"},
                {"session_id": ORIGINAL, "leaf_uuid": LEAF_CONTINUE, "kind": "continue"},
                {"session_id": FORK, "leaf_uuid": LEAF_FORK, "kind": "fork"},
            ]
        )
        assert [v.ok for v in verdicts] == [True, True, True], [v.reason for v in verdicts]
        assert [v.kind for v in verdicts] == ["resume", "continue", "fork"]
        assert all(v.basis == "leaf" for v in verdicts)
        assert all(v.strength == "strong" and v.weak_reason is None for v in verdicts)
        assert verdicts[0].next_leaf_uuid == LEAF_RESUME  # pinned, although the file grew further

    def test_resume_after_the_fork(self, validator: SessionValidator, samples: Path) -> None:
        verdict = validator.check_continuity(ORIGINAL, ORIGINAL, previous_leaf_uuid=LEAF_CONTINUE)
        assert verdict.ok, verdict.reason
        assert verdict.next_leaf_uuid == LEAF_LAST_RESUME
        assert "line 35" in verdict.reason  # the previous leaf's line
        # but the fork's leaf is not in the original's file
        bad = validator.check_continuity(ORIGINAL, ORIGINAL, previous_leaf_uuid=LEAF_FORK)
        assert not bad
        assert f"does not contain previous leaf '{LEAF_FORK}'" in bad.reason

    def test_unrelated_sessions_are_not_continuous(
        self, validator: SessionValidator, samples: Path, alice: Transcript
    ) -> None:
        for prev, nxt in ((ORIGINAL, alice.session_id), (alice.session_id, FORK)):
            verdict = validator.check_continuity(prev, nxt)
            assert not verdict
            assert "it starts a new conversation" in verdict.reason
            assert nxt in verdict.reason
        as_new = validator.check_continuity(ORIGINAL, alice.session_id, kind="new")
        assert as_new.ok, as_new.reason
        assert as_new.basis == "disjoint"
        fork_as_new = validator.check_continuity(ORIGINAL, FORK, kind="new")
        assert not fork_as_new
        assert "not a new conversation" in fork_as_new.reason

    def test_sample_under_another_id_is_another_session(
        self, validator: SessionValidator, samples: Path
    ) -> None:
        other = _new_id()
        shutil.copy(samples / f"{FORK}.jsonl", samples / f"{other}.jsonl")
        ok, error = validator.validate_session_file(other)
        assert not ok
        assert error is not None
        assert "line 1 belongs to another session" in error
        assert FORK in error
        assert validator.get_session_info(other) is None


# --------------------------------------------------------------------------- written transcripts


class TestValidation:
    def test_written_transcript_is_valid(self, validator: SessionValidator, alice: Transcript) -> None:
        assert validator.validate_session_file(alice.session_id, alice.cwd) == (True, None)

    def test_not_found_says_where_it_looked(self, validator: SessionValidator, config: Path) -> None:
        sid = _new_id()
        ok, error = validator.validate_session_file(sid, "/home/user/work")
        assert not ok
        assert error is not None
        assert str(validator.project_dir("/home/user/work") / f"{sid}.jsonl") in error
        assert "every project directory" in error

    def test_working_dir_with_nul(self, validator: SessionValidator, alice: Transcript) -> None:
        assert validator.find_transcript(alice.session_id, "/a\x00b") == alice.path  # by the search
        ok, error = validator.validate_session_file(_new_id(), "/a\x00b")
        assert not ok
        assert "no project directory for working dir" in (error or "")

    def test_empty_file(self, validator: SessionValidator, config: Path) -> None:
        t = Transcript(config, _new_id())
        t.path.touch()
        ok, error = validator.validate_session_file(t.session_id)
        assert not ok
        assert error == f"{t.path}: the transcript is empty"
        t.path.write_text("\n  \n")
        assert validator.validate_session_file(t.session_id) == (
            False,
            f"{t.path}: the transcript is empty (blank lines only)",
        )

    def test_invalid_json_names_the_line(self, validator: SessionValidator, alice: Transcript) -> None:
        lines = alice.path.read_text().splitlines(keepends=True)
        lines[6] = lines[6][: len(lines[6]) // 2] + "\n"
        alice.path.write_text("".join(lines))
        ok, error = validator.validate_session_file(alice.session_id)
        assert not ok
        assert error is not None
        assert "line 7 is not valid JSON" in error
        assert str(alice.path) in error

    def test_non_object_line(self, validator: SessionValidator, alice: Transcript) -> None:
        with alice.path.open("a") as fh:
            fh.write('["a list"]\n')
        ok, error = validator.validate_session_file(alice.session_id)
        assert not ok
        assert "is a JSON list, not a record object" in (error or "")

    def test_invalid_utf8(self, validator: SessionValidator, alice: Transcript) -> None:
        with alice.path.open("ab") as fh:
            fh.write(b'{"type": "mode", "mode": "\xff"}\n')
        ok, error = validator.validate_session_file(alice.session_id)
        assert not ok
        n = len(alice.path.read_bytes().splitlines())
        assert f"line {n} is not valid UTF-8" in (error or "")

    def test_deeply_nested_line(self, validator: SessionValidator, alice: Transcript) -> None:
        with alice.path.open("a") as fh:
            fh.write("[" * 100_000 + "\n")
        ok, error = validator.validate_session_file(alice.session_id)
        assert not ok
        assert "nested too deeply" in (error or "")
        with pytest.raises(TranscriptError, match="not valid JSON"):
            list(validator.iter_records(alice.session_id))
        assert leaf_uuid(alice.path) == alice.leaf

    def test_blank_lines_are_tolerated(self, validator: SessionValidator, alice: Transcript) -> None:
        with alice.path.open("a") as fh:
            fh.write("\n   \n")
        alice.turn("again")
        assert validator.validate_session_file(alice.session_id) == (True, None)

    def test_record_of_another_session(self, validator: SessionValidator, alice: Transcript) -> None:
        stranger = _new_id()
        alice.write({"type": "mode", "mode": "normal", "sessionId": stranger})
        n = len(alice.path.read_text().splitlines())
        ok, error = validator.validate_session_file(alice.session_id)
        assert not ok
        assert f"line {n} belongs to another session: sessionId '{stranger}'" in (error or "")

    def test_broken_chain_names_the_line(self, validator: SessionValidator, alice: Transcript) -> None:
        ghost = _new_id()
        orphan = alice.node("user", ghost, message={"role": "user", "content": "where am I?"})
        alice.write(orphan)
        n = len(alice.path.read_text().splitlines())
        ok, error = validator.validate_session_file(alice.session_id)
        assert not ok
        assert f"line {n}: broken chain: user record '{orphan['uuid']}' has parentUuid '{ghost}'" in (
            error or ""
        )

    def test_parent_written_later_is_broken(self, validator: SessionValidator, config: Path) -> None:
        t = Transcript(config, _new_id())
        child = t.node("user", None, message={"role": "user", "content": "hi"})
        parent = t.node("attachment", None, attachment={"type": "date"})
        child["parentUuid"] = parent["uuid"]
        t.write(child, parent)
        ok, error = validator.validate_session_file(t.session_id)
        assert not ok
        assert "line 1: broken chain" in (error or "")

    def test_chain_node_without_uuid(self, validator: SessionValidator, alice: Transcript) -> None:
        rec = alice.node("assistant", alice.leaf, message={"id": "m", "role": "assistant", "content": []})
        del rec["uuid"]
        alice.write(rec)
        ok, error = validator.validate_session_file(alice.session_id)
        assert not ok
        assert "assistant record has no string 'uuid'" in (error or "")

    def test_other_record_types_are_not_chain_nodes(
        self, validator: SessionValidator, alice: Transcript
    ) -> None:
        sid = alice.session_id
        alice.write(
            {"type": "some-future-type", "sessionId": sid, "parentUuid": _new_id()},  # no uuid: ignored
            {"type": "last-prompt", "lastPrompt": "x", "leafUuid": _new_id(), "sessionId": sid},
            {"type": "file-history-snapshot", "messageId": "m"},  # no sessionId at all
        )
        alice.turn("still fine")
        assert validator.validate_session_file(sid) == (True, None)

    def test_unknown_chain_like_record_can_be_a_parent(
        self, validator: SessionValidator, alice: Transcript
    ) -> None:
        progress = {
            "type": "progress",
            "uuid": _new_id(),
            "parentUuid": alice.leaf,
            "sessionId": alice.session_id,
        }
        alice.write(progress)
        alice.turn("after progress", parent=progress["uuid"])
        assert validator.validate_session_file(alice.session_id) == (True, None)

    def test_torn_last_line(self, config: Path, alice: Transcript, caplog: pytest.LogCaptureFixture) -> None:
        data = alice.path.read_bytes()
        alice.path.write_bytes(data + b'{"type":"user","uuid":"abc","mess')
        n = data.count(b"\n") + 1
        ok, error = SessionValidator(config).validate_session_file(alice.session_id)
        assert not ok
        assert f"line {n} is torn: the file ends mid-record without a newline" in (error or "")
        tolerant = SessionValidator(config, allow_torn_tail=True)
        assert tolerant.validate_session_file(alice.session_id) == (True, None)
        info = tolerant.get_session_info(alice.session_id)
        assert info is not None
        assert info["torn_tail_skipped"] is True
        assert info["leaf_uuid"] == alice.leaf
        assert "torn last line" in caplog.text

    def test_complete_last_line_without_newline_is_fine(
        self, validator: SessionValidator, alice: Transcript
    ) -> None:
        alice.path.write_bytes(alice.path.read_bytes().rstrip(b"\n"))
        assert validator.validate_session_file(alice.session_id) == (True, None)

    def test_line_longer_than_the_limit(self, config: Path, alice: Transcript) -> None:
        alice.turn("x" * 5000)
        ok, error = SessionValidator(config, max_line_bytes=4096).validate_session_file(alice.session_id)
        assert not ok
        assert "is longer than 4096 bytes" in (error or "")
        with pytest.raises(TranscriptError, match="is longer than 4096 bytes"):
            list(SessionValidator(config, max_line_bytes=4096).iter_records(alice.session_id))


class TestHostileIds:
    @pytest.mark.parametrize(
        "bad",
        [
            "../x",
            "../..",
            "/",
            "a\x00b",
            ORIGINAL[:-1] + "\x00",
            "",
            "not-a-session",
            "bf260767",
            "../../secret",
            "/etc/passwd",
            ORIGINAL + "/..",
            ORIGINAL + "\n",
            "x" * 10_000,
            ORIGINAL * 300,
            "ünïcødé 🚀",
            ORIGINAL[:-1] + "\uff11",  # a fullwidth digit: \d would take it, the CLI's UUID form does not
            "\ud800" + ORIGINAL[1:],
        ],
        ids=lambda bad: repr(bad)[:24],
    )
    def test_rejected_everywhere(self, validator: SessionValidator, config: Path, bad: str) -> None:
        ok, error = validator.validate_session_file(bad, "/home/user/work")
        assert not ok
        assert error is not None
        assert "invalid session id" in error
        assert validator.get_session_info(bad) is None
        with pytest.raises(InvalidSessionIdError):
            validator.find_transcript(bad)
        with pytest.raises(InvalidSessionIdError):
            validator.iter_records(bad)
        verdict = validator.check_continuity(bad, bad)
        assert not verdict
        assert "is not a UUID" in verdict.reason
        (in_chain,) = validator.check_chain([(ORIGINAL, None), (bad, None)], working_dir="/home/user/work")
        assert not in_chain
        assert "is not a UUID" in in_chain.reason

    def test_traversal_target_is_never_read(self, validator: SessionValidator, config: Path) -> None:
        # A valid transcript sits where "../../secret" would lead from a project directory.
        secret = config / "secret.jsonl"
        secret.write_text(json.dumps({"type": "mode", "sessionId": "../../secret"}) + "\n")
        (config / "projects" / "-home-user-work").mkdir(parents=True)
        ok, error = validator.validate_session_file("../../secret", "/home/user/work")
        assert (ok, "invalid session id" in (error or "")) == (False, True)

    def test_transcript_symlinked_outside_config_is_ignored(
        self, validator: SessionValidator, tmp_path: Path, alice: Transcript, caplog: pytest.LogCaptureFixture
    ) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        moved = outside / alice.path.name
        alice.path.rename(moved)
        alice.path.symlink_to(moved)
        with caplog.at_level(logging.WARNING):
            assert validator.find_transcript(alice.session_id) is None
        assert "resolves outside" in caplog.text
        ok, error = validator.validate_session_file(alice.session_id, alice.cwd)
        assert not ok
        assert "no transcript" in (error or "")


class TestLocating:
    def test_exact_location_first(self, validator: SessionValidator, config: Path) -> None:
        sid = _new_id()
        here = Transcript(config, sid, "/home/user/a")
        here.turn("a")
        there = Transcript(config, sid, "/home/user/b")
        there.turn("b")
        assert validator.find_transcript(sid, "/home/user/a") == here.path
        assert validator.find_transcript(sid, "/home/user/b") == there.path

    def test_fallback_searches_every_project(self, validator: SessionValidator, config: Path) -> None:
        t = Transcript(config, _new_id(), "/home/user/work_a")
        t.turn("hi")
        # --resume from another cwd finds it; so do we
        assert validator.find_transcript(t.session_id, "/home/user/work_b") == t.path
        assert validator.find_transcript(t.session_id) == t.path
        assert validator.find_transcript(_new_id()) is None

    def test_duplicates_pick_the_newest_and_warn(
        self, validator: SessionValidator, config: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        sid = _new_id()
        old = Transcript(config, sid, "/p/old")
        old.turn("x")
        new = Transcript(config, sid, "/p/new")
        new.turn("y")
        os.utime(old.path, (1_000_000, 1_000_000))
        with caplog.at_level(logging.WARNING):
            assert validator.find_transcript(sid) == new.path
        assert "has 2 transcripts" in caplog.text

    def test_missing_config_dir(self, tmp_path: Path) -> None:
        v = SessionValidator(tmp_path / "nowhere")
        assert v.find_transcript(ORIGINAL) is None
        assert v.list_sessions() == []
        ok, error = v.validate_session_file(ORIGINAL)
        assert not ok
        assert "(0 searched)" in (error or "")

    def test_iter_records(self, validator: SessionValidator, alice: Transcript) -> None:
        records = list(validator.iter_records(alice.session_id, alice.cwd))
        assert [r["type"] for r in records][:3] == ["queue-operation", "queue-operation", "user"]
        assert len(records) == len(alice.path.read_text().splitlines())
        with pytest.raises(SessionNotFoundError, match="looked in"):
            validator.iter_records(_new_id())
        with alice.path.open("a") as fh:
            fh.write("{oops\n")
        n = len(alice.path.read_text().splitlines())
        with pytest.raises(TranscriptError, match=f"line {n} is not valid JSON"):
            list(validator.iter_records(alice.session_id))

    def test_list_sessions(self, validator: SessionValidator, config: Path) -> None:
        a = Transcript(config, _new_id(), "/p/a")
        a.turn("x")
        b = Transcript(config, _new_id(), "/p/b")
        b.turn("y")
        (a.path.parent / "notes.jsonl").write_text("{}\n")  # not a session id: skipped
        os.utime(a.path, (1_000_000, 1_000_000))
        listed = validator.list_sessions()
        assert [s["session_id"] for s in listed] == [a.session_id, b.session_id]
        assert listed[0]["project"] == "-p-a"
        assert listed[0]["modified"].tzinfo is not None
        assert [s["session_id"] for s in validator.list_sessions("/p/b")] == [b.session_id]


class TestSessionInfo:
    def test_message_counting_with_tools(self, validator: SessionValidator, config: Path) -> None:
        t = Transcript(config, _new_id())
        t.turn("read the file", "let me look", tool=True)
        info = validator.get_session_info(t.session_id)
        assert info is not None
        # user: prompt + tool result; assistant: 2 content-block records of one message + the final one
        assert info["record_counts"]["assistant"] == 3
        assert info["user_message_count"] == 2
        assert info["assistant_message_count"] == 2
        assert info["message_count"] == 4
        assert info["prompts"] == ["read the file"]  # a tool result is not a prompt
        assert info["total_cost_usd"] == pytest.approx(0.018)

    def test_meta_user_records_and_api_errors(self, validator: SessionValidator, alice: Transcript) -> None:
        meta = alice.node("user", alice.leaf, isMeta=True, message={"role": "user", "content": "<caveat>"})
        error = alice.node(
            "assistant",
            meta["uuid"],
            isApiErrorMessage=True,
            message={"id": "e1", "role": "assistant", "model": "<synthetic>", "content": []},
        )
        alice.write(meta, error)
        info = validator.get_session_info(alice.session_id)
        assert info is not None
        assert info["user_message_count"] == 1
        assert info["api_error_count"] == 1
        assert info["models"] == ["claude-opus-5-5"]
        assert info["leaf_uuid"] == error["uuid"]

    def test_sidechain_nodes_are_not_the_leaf(self, validator: SessionValidator, alice: Transcript) -> None:
        side = alice.node("user", None, isSidechain=True, message={"role": "user", "content": "sub-agent"})
        alice.write(side)
        info = validator.get_session_info(alice.session_id)
        assert info is not None
        assert info["leaf_uuid"] == alice.leaf

    def test_prompts_are_capped(self, config: Path) -> None:
        t = Transcript(config, _new_id())
        for i in range(5):
            t.turn(f"prompt {i}")
        info = SessionValidator(config, max_prompts=2).get_session_info(t.session_id)
        assert info is not None
        assert info["prompts"] == ["prompt 0", "prompt 1"]
        assert info["prompt_count"] == 5
        assert info["prompts_truncated"] is True
        assert info["last_prompt"] == "prompt 4"

    def test_fork_file_without_cost_state(self, validator: SessionValidator, alice: Transcript) -> None:
        fork = alice.fork(_new_id())
        info = validator.get_session_info(fork.session_id)
        assert info is not None
        assert info["total_cost_usd"] is None
        assert info["record_counts"].get("cost-state") is None

    def test_invalid_gives_none_and_logs(
        self, validator: SessionValidator, alice: Transcript, caplog: pytest.LogCaptureFixture
    ) -> None:
        with alice.path.open("a") as fh:
            fh.write("not json\n")
        with caplog.at_level(logging.WARNING, logger="pytest_claude_sessions.transcripts"):
            assert validator.get_session_info(alice.session_id) is None
        assert "is not valid JSON" in caplog.text
        with caplog.at_level(logging.WARNING, logger="pytest_claude_sessions.transcripts"):
            assert validator.get_session_info(_new_id()) is None
        assert "no transcript for session" in caplog.text

    def test_info_is_json_safe_but_for_timestamps(
        self, validator: SessionValidator, alice: Transcript
    ) -> None:
        info = validator.get_session_info(alice.session_id)
        assert info is not None
        json.dumps({k: v for k, v in info.items() if not k.endswith("_timestamp")})


# --------------------------------------------------------------------------- continuity, written files


class TestContinuity:
    def test_resume_append(self, validator: SessionValidator, alice: Transcript) -> None:
        first = alice.leaf
        second = alice.turn("what is my name?", "Your name is Alice.")
        verdict = validator.check_continuity(alice.session_id, alice.session_id, previous_leaf_uuid=first)
        assert verdict.ok, verdict.reason
        assert verdict.kind == "resume"
        assert verdict.next_leaf_uuid == second
        assert isinstance(verdict, ContinuityVerdict)
        assert bool(verdict) is True

    def test_resume_that_wrote_nothing(self, validator: SessionValidator, alice: Transcript) -> None:
        verdict = validator.check_continuity(
            alice.session_id, alice.session_id, previous_leaf_uuid=alice.leaf, kind="continue"
        )
        assert not verdict
        assert "did not grow past previous leaf" in verdict.reason
        assert "the continue wrote no new turn" in verdict.reason

    def test_branched_history(self, validator: SessionValidator, alice: Transcript) -> None:
        base = alice.leaf
        branch_a = alice.turn("A")
        alice.turn("B", parent=base)  # a parallel resume wrote a sibling branch last
        verdict = validator.check_continuity(alice.session_id, alice.session_id, previous_leaf_uuid=branch_a)
        assert not verdict
        assert "does not descend from previous leaf" in verdict.reason
        assert "branched" in verdict.reason

    def test_previous_leaf_of_another_transcript(
        self, validator: SessionValidator, alice: Transcript
    ) -> None:
        alice.turn("again")
        ghost = _new_id()
        verdict = validator.check_continuity(alice.session_id, alice.session_id, previous_leaf_uuid=ghost)
        assert not verdict
        assert f"does not contain previous leaf '{ghost}'" in verdict.reason

    def test_same_id_without_a_leaf_is_a_weak_check(
        self, validator: SessionValidator, alice: Transcript
    ) -> None:
        weak = validator.check_continuity(alice.session_id, alice.session_id)
        assert not weak
        assert "holds 1 prompt(s)" in weak.reason
        assert weak.strength == "strong"  # a failure is a failure, never "weak"
        alice.turn("second")
        weak = validator.check_continuity(alice.session_id, alice.session_id)
        assert weak.ok
        assert weak.basis == "prompt_count"
        assert "weak check" in weak.reason
        assert weak.strength == "weak"
        assert weak.weak_reason == (
            f"no leaf was recorded for the previous step: only the prompt count (2) of session "
            f"{alice.session_id[:8]} was checked"
        )
        data = json.loads(json.dumps(weak.to_dict()))
        assert (data["ok"], data["strength"], data["weak_reason"]) == (True, "weak", weak.weak_reason)

    def test_fork_copy(self, validator: SessionValidator, alice: Transcript) -> None:
        prev_leaf = alice.leaf
        fork = alice.fork(_new_id())
        fork_leaf = fork.turn("what is my name?")
        for leaf in (prev_leaf, None):
            verdict = validator.check_continuity(alice.session_id, fork.session_id, previous_leaf_uuid=leaf)
            assert verdict.ok, verdict.reason
            assert verdict.basis == "leaf"
            assert verdict.next_leaf_uuid == fork_leaf
            assert verdict.strength == ("strong" if leaf else "weak")
        assert json.loads(json.dumps(verdict.to_dict()))["next_path"] == str(fork.path)

    def test_fork_that_added_nothing(self, validator: SessionValidator, alice: Transcript) -> None:
        fork = alice.fork(_new_id())
        verdict = validator.check_continuity(alice.session_id, fork.session_id)
        assert not verdict
        assert "added no new turn" in verdict.reason

    def test_fork_that_kept_the_old_session_id(self, validator: SessionValidator, alice: Transcript) -> None:
        fork_id = _new_id()
        shutil.copy(alice.path, alice.path.with_name(f"{fork_id}.jsonl"))  # copied, sessionId not rewritten
        verdict = validator.check_continuity(alice.session_id, fork_id)
        assert not verdict
        assert "invalid transcript" in verdict.reason
        assert "belongs to another session" in verdict.reason

    def test_kind_must_match_the_ids(
        self, validator: SessionValidator, alice: Transcript, config: Path
    ) -> None:
        other = Transcript(config, _new_id())
        other.turn("hello")
        v = validator.check_continuity(alice.session_id, other.session_id, kind="continue")
        assert not v
        assert "a continue keeps the session id" in v.reason
        v = validator.check_continuity(alice.session_id, alice.session_id, kind="fork")
        assert not v
        assert "gets a new session id" in v.reason
        with pytest.raises(ValueError, match="unknown step kind 'rewind'"):
            validator.check_continuity(alice.session_id, alice.session_id, kind="rewind")

    def test_missing_transcripts(self, validator: SessionValidator, alice: Transcript) -> None:
        ghost = _new_id()
        v = validator.check_continuity(alice.session_id, ghost)
        assert not v
        assert f"next session '{ghost}' has no transcript: looked in" in v.reason
        v = validator.check_continuity(ghost, alice.session_id)
        assert not v
        assert f"previous session '{ghost}' has no transcript" in v.reason
        v = validator.check_continuity(ghost, alice.session_id, kind="new")
        assert v.ok, v.reason

    def test_pinned_next_leaf_must_exist(self, validator: SessionValidator, alice: Transcript) -> None:
        first = alice.leaf
        alice.turn("two")
        v = validator.check_continuity(
            alice.session_id, alice.session_id, previous_leaf_uuid=first, next_leaf_uuid="nope"
        )
        assert not v
        assert "does not contain its recorded leaf 'nope'" in v.reason
        v = validator.check_continuity(
            alice.session_id, alice.session_id, previous_leaf_uuid=first, next_leaf_uuid=first
        )
        assert not v

    def test_compaction_boundary_is_walked_through(
        self, validator: SessionValidator, alice: Transcript
    ) -> None:
        before = alice.leaf
        boundary = alice.node("system", None, subtype="compact_boundary", logicalParentUuid=before)
        alice.write(boundary)
        after = alice.turn("after compaction", parent=boundary["uuid"])
        assert validator.validate_session_file(alice.session_id) == (True, None)
        v = validator.check_continuity(alice.session_id, alice.session_id, previous_leaf_uuid=before)
        assert v.ok, v.reason
        assert v.next_leaf_uuid == after

    def test_check_chain_accepts_steps_in_several_shapes(
        self, validator: SessionValidator, alice: Transcript, config: Path
    ) -> None:
        leaf1 = alice.leaf
        leaf2 = alice.turn("two")
        fork = alice.fork(_new_id())
        leaf3 = fork.turn("three")
        stranger = Transcript(config, _new_id())
        stranger.turn("hello")
        step3 = SessionInfo(
            session_id=fork.session_id,
            created_at=datetime.now(UTC),
            interaction_count=3,
            last_prompt="three",
            last_response="",
            metadata={"leaf_uuid": leaf3},
            kind="fork",
        )
        verdicts = validator.check_chain(
            [
                (alice.session_id, leaf1),
                {"session_id": alice.session_id, "metadata": {"leaf_uuid": leaf2}, "cwd": alice.cwd},
                step3,
                {"session_id": stranger.session_id, "leaf_uuid": stranger.leaf},
            ]
        )
        assert [v.ok for v in verdicts] == [True, True, False]
        assert [v.kind for v in verdicts] == ["resume", "fork", "fork"]
        assert "starts a new conversation" in verdicts[2].reason
        assert validator.check_chain([(alice.session_id, leaf1)]) == []
        with pytest.raises(TypeError, match="step 1"):
            validator.check_chain([(alice.session_id, leaf1), 42])

    def test_check_chain_follows_parent_session_id(
        self, validator: SessionValidator, alice: Transcript, config: Path
    ) -> None:
        leaf1 = alice.leaf
        other = Transcript(config, _new_id())
        leaf2 = other.turn("an unrelated new session")
        fork = alice.fork(_new_id())
        leaf3 = fork.turn("fork of the first session")
        steps: list[dict[str, Any]] = [
            {"session_id": alice.session_id, "leaf_uuid": leaf1, "kind": "new"},
            {"session_id": other.session_id, "leaf_uuid": leaf2, "kind": "new"},
            {
                "session_id": fork.session_id,
                "leaf_uuid": leaf3,
                "kind": "fork",
                "parent_session_id": alice.session_id,
            },
        ]
        verdicts = validator.check_chain(steps)
        assert [v.ok for v in verdicts] == [True, True], [v.reason for v in verdicts]
        assert verdicts[1].previous_session_id == alice.session_id
        assert verdicts[1].basis == "leaf"
        # without the parent link the fork is judged against the unrelated step, and fails
        del steps[2]["parent_session_id"]
        assert not validator.check_chain(steps)[1]
        # a parent outside the chain: judged against its transcript alone
        steps[2]["parent_session_id"] = alice.session_id
        lone = validator.check_chain(steps[1:])
        assert lone[0].ok, lone[0].reason
        assert lone[0].previous_session_id == alice.session_id

    def test_verdict_is_frozen(self, validator: SessionValidator, alice: Transcript) -> None:
        v = validator.check_continuity(alice.session_id, alice.session_id)
        with pytest.raises(dataclasses.FrozenInstanceError):
            v.ok = True  # type: ignore[misc]


def test_leaf_uuid_helper_is_tolerant(alice: Transcript) -> None:
    leaf = alice.leaf
    with alice.path.open("a") as fh:
        fh.write("garbage\n")
        fh.write(json.dumps({"type": "cost-state", "sessionId": alice.session_id}) + "\n")
    assert leaf_uuid(alice.path) == leaf


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as fh:
        for line in fh:
            yield json.loads(line)


def test_writer_matches_the_real_layout(config: Path) -> None:
    """Guard for the helper above: its records have the keys the real CLI's records have."""
    real = {r["type"]: set(r) for r in _lines(_sample("transcript_original_after_resume_and_continue.jsonl"))}
    t = Transcript(config, _new_id())
    t.turn("x")
    mine = {r["type"]: set(r) for r in _lines(t.path)}
    for rtype in ("user", "assistant", "attachment"):
        core = {"parentUuid", "isSidechain", "type", "uuid", "timestamp", "cwd", "sessionId", "version"}
        assert core <= real[rtype]
        assert core <= mine[rtype]


# --------------------------------------------------------------------------- fuzzing


class TestFuzz:
    """Whatever the bytes, the validator answers (never raises) and never calls damage valid."""

    @staticmethod
    def _valid_file(tmp_path: Path) -> tuple[SessionValidator, Transcript, bytes]:
        config = tmp_path / "fuzz-config"
        config.mkdir(exist_ok=True)
        t = Transcript(config, "0b1c2d3e-0000-4000-8000-000000000001")
        if not t.path.exists():
            t.turn("my name is Alice", "hi")
            t.turn("read it", "ok", tool=True)
        return SessionValidator(config), t, t.path.read_bytes()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.binary(max_size=2000))
    def test_random_bytes(self, tmp_path: Path, data: bytes) -> None:
        v, t, _ = self._valid_file(tmp_path)
        original = t.path.read_bytes()
        try:
            t.path.write_bytes(data)
            ok, error = v.validate_session_file(t.session_id)
            assert isinstance(ok, bool)
            assert ok == (error is None)
            info = v.get_session_info(t.session_id)
            assert (info is not None) == ok
            assert isinstance(v.check_continuity(t.session_id, t.session_id), ContinuityVerdict)
        finally:
            t.path.write_bytes(original)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(cut=st.floats(min_value=0, max_value=1, exclude_max=True))
    def test_truncation(self, tmp_path: Path, cut: float) -> None:
        v, t, full = self._valid_file(tmp_path)
        size = int(len(full) * cut)
        try:
            t.path.write_bytes(full[:size])
            ok, error = v.validate_session_file(t.session_id)
            head = full[:size]
            if size == 0:
                assert error is not None
                assert "empty" in error
            elif head.endswith(b"\n") or full[size : size + 1] == b"\n":
                assert ok, error  # a cut at a record boundary leaves a valid prefix
            else:
                assert not ok
                assert "is torn" in (error or "")
        finally:
            t.path.write_bytes(full)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(pos=st.floats(min_value=0, max_value=1, exclude_max=True), byte=st.integers(0, 255))
    def test_one_byte_changed_never_crashes(self, tmp_path: Path, pos: float, byte: int) -> None:
        v, t, full = self._valid_file(tmp_path)
        i = int(len(full) * pos)
        try:
            t.path.write_bytes(full[:i] + bytes([byte]) + full[i + 1 :])
            ok, error = v.validate_session_file(t.session_id)
            assert ok == (error is None)
            if not ok:
                assert str(t.path) in (error or "")
        finally:
            t.path.write_bytes(full)
