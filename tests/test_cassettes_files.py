"""Cassette files without the CLI: safe names, format, corrupt files, concurrent saves, unused cassettes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_claude_sessions.cassettes.files import (
    CASSETTE_FORMAT,
    MAX_NAME_LENGTH,
    CassetteCorruptError,
    cassette_lock,
    default_cassette_path,
    dump_cassette,
    find_unused_cassettes,
    load_cassette_data,
    prune_cassettes,
    safe_cassette_name,
)
from pytest_claude_sessions.cassettes.matching import normalize_match_on
from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor, parse_record_mode, use_cassette
from pytest_claude_sessions.models import CliCall, CliOutcome

HOSTILE = [
    "../../etc/passwd",
    "test_x[../../../escape]",
    "test_x[a/b\\c]",
    "test_x[\x00nul]",
    "test_x[" + "y" * 400 + "]",
    "test_x[ünï😀]",
    ".hidden",
    "..",
    "test_x[a b]",
    "test_x[a-b]",
    "TestA.test_b[CON]",
    "test x\n\t",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_stay_inside_the_directory(tmp_path: Path, name: str) -> None:
    module = tmp_path / "tests" / "test_mod.py"
    path = default_cassette_path(module, name)
    directory = tmp_path / "tests" / "cassettes" / "test_mod"
    assert path.parent == directory
    assert path.suffix == ".json" and not path.name.startswith(".")
    assert len(path.name.encode()) <= MAX_NAME_LENGTH + len(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")  # a real, creatable file name
    assert list(directory.iterdir()) == [path]


def test_distinct_ids_get_distinct_files() -> None:
    names = {safe_cassette_name(n) for n in HOSTILE}
    assert len(names) == len(HOSTILE)
    assert safe_cassette_name("TestA.test_b[x-1]") == "TestA.test_b[x-1]"  # common ids stay readable
    long_a, long_b = "t[" + "a" * 300 + "1]", "t[" + "a" * 300 + "2]"
    assert safe_cassette_name(long_a) != safe_cassette_name(long_b)
    with pytest.raises(ValueError, match="empty"):
        safe_cassette_name("")


def test_name_and_dir_overrides(tmp_path: Path) -> None:
    module = tmp_path / "test_m.py"
    assert default_cassette_path(module, "test_a", name="shared") == tmp_path / "cassettes/test_m/shared.json"
    assert default_cassette_path(module, "test_a", cassette_dir=tmp_path / "x") == tmp_path / "x/test_a.json"


def test_dump_keeps_one_record_per_line_and_round_trips() -> None:
    record = {"type": "user", "message": {"content": 'quote " and \\ and \x00 and é'}, "n": [1, 2]}
    data = {
        "format": CASSETTE_FORMAT,
        "version": 1,
        "header": {},
        "interactions": [
            {
                "request": {"prompt": "p"},
                "response": {"stdout": {"lines": [{"type": "result"}, "raw text line"]}},
                "transcripts": [{"path": "p/s.jsonl", "mode": "create", "lines": [record, "not json"]}],
            }
        ],
    }
    text = dump_cassette(data)
    assert json.loads(text) == data
    line = next(x for x in text.splitlines() if '"type":"user"' in x)
    assert json.loads(line.strip().rstrip(",")) == record


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "is not valid JSON"),
        ('{"interactions": []}', "is not a pytest-claude-sessions cassette"),
        (json.dumps({"format": CASSETTE_FORMAT, "version": 99, "interactions": []}), "format version 99"),
        (
            json.dumps({"format": CASSETTE_FORMAT, "version": 1, "interactions": {}}),
            "no list of interactions",
        ),
    ],
)
def test_unusable_cassette_is_an_error_and_is_kept(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(content)
    for mode in ("none", "once", "new_episodes", "all"):
        with pytest.raises(CassetteCorruptError, match=match) as info:
            CassetteInterceptor(path, mode=mode)
        assert info.value.path == path and str(path) in str(info.value)
    assert path.read_text() == content  # never re-recorded over
    assert load_cassette_data(tmp_path / "absent.json") is None


def test_bad_mode_and_match_on_name_the_valid_values() -> None:
    assert parse_record_mode("New-Episodes") == "new_episodes"
    with pytest.raises(ValueError, match=r"invalid record mode 'sometimes'; use one of: none, once"):
        parse_record_mode("sometimes")
    with pytest.raises(ValueError, match=r"unknown match_on criteria \['promt'\]; valid: order, kind"):
        normalize_match_on("order, promt")
    assert normalize_match_on("prompt,model") == ("prompt", "model")


# --------------------------------------------------------------------------- concurrent saves

_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pytest_claude_sessions.cassettes.recorder import CassetteInterceptor
    from pytest_claude_sessions.models import CliCall, CliOutcome

    path, mode, tag, calls = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    same_prompts = sys.argv[6] == "same"
    work = Path(sys.argv[5])
    cfg = work / "cfg"
    cassette = CassetteInterceptor(path, mode=mode, allow_unused=True)
    for n in range(calls):
        prompt = f"p-{n}" if same_prompts else f"{tag}-{n}"
        call = CliCall(argv=["claude"], prompt=prompt, kind="new", cwd=work, config_dir=cfg,
                       env={}, timeout=5.0)
        def proceed(c):
            return CliOutcome(0, '{"type":"result","session_id":"s","result":"%s"}' % tag, "", 0.01)
        cassette.intercept(call, proceed)
    report = cassette.finish()
    print(report.saved)
    """
)


def _spawn(
    path: Path, mode: str, tag: str, calls: int, work: Path, prompts: str = "own"
) -> subprocess.Popen[str]:
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), mode, tag, str(calls), str(work), prompts],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_concurrent_new_episodes_appends_are_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "shared.json"
    procs = [_spawn(path, "new_episodes", f"w{i}", 5, tmp_path / f"w{i}") for i in range(6)]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "True"
    data = load_cassette_data(path)
    assert data is not None
    prompts = sorted(i["request"]["prompt"] for i in data["interactions"])
    assert prompts == sorted(f"w{i}-{n}" for i in range(6) for n in range(5))
    assert [p.name for p in path.parent.iterdir()] == ["shared.json"]  # no temp or lock file left beside it


def test_concurrent_once_keeps_exactly_one_recording(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    # same requests, different answers: a writer that starts after the first save replays instead
    procs = [_spawn(path, "once", f"w{i}", 3, tmp_path / f"w{i}", "same") for i in range(5)]
    saved = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        saved.append(out.strip())
    assert saved.count("True") == 1 and saved.count("False") == 4
    data = load_cassette_data(path)
    assert data is not None
    answers = {i["response"]["stdout"]["json"]["result"] for i in data["interactions"]}
    assert len(answers) == 1 and len(data["interactions"]) == 3  # one writer's whole recording, not a mix
    assert [i["request"]["prompt"] for i in data["interactions"]] == ["p-0", "p-1", "p-2"]


# --------------------------------------------------------------------------- unused cassettes


def test_find_and_prune_unused(tmp_path: Path) -> None:
    root = tmp_path / "cassettes"
    used = root / "test_a" / "test_one.json"
    stale = root / "test_a" / "test_gone.json"
    orphan = root / "test_deleted" / "test_x.json"
    for p in (used, stale, orphan):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("{}")
    (root / "test_a" / "test_one.json.lock").write_text("")
    (root / "test_a" / ".test_one.json.123.tmp").write_text("")
    unused = find_unused_cassettes([used], [root])
    assert unused == sorted([stale, orphan])
    assert prune_cassettes(unused) == unused
    assert used.exists() and not stale.exists() and not orphan.exists()
    assert not orphan.parent.exists()  # emptied directories go too
    assert find_unused_cassettes([used], [root, tmp_path / "missing"]) == []


# --------------------------------------------------------------------------- plain outcomes through the seam


def _plain_call(tmp_path: Path, prompt: str) -> CliCall:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return CliCall(
        argv=["claude"], prompt=prompt, kind="new", cwd=work, config_dir=work / "cfg", env={}, timeout=1.0
    )


def test_use_cassette_replays_timeouts_and_keeps_nothing_on_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    partial = CliOutcome(None, '{"type":"system","subtype":"init"}\n', "killed", 1.0, timed_out=True)
    with use_cassette(path, mode="once") as cassette:
        out = cassette.intercept(_plain_call(tmp_path, "slow"), lambda c: partial)
        assert out is partial
    with use_cassette(path) as replay:
        again = replay.intercept(_plain_call(tmp_path, "slow"), lambda c: pytest.fail("must not run"))
    assert again.replayed and again.timed_out and again.returncode is None
    assert (again.stdout, again.stderr) == (partial.stdout, partial.stderr)

    other = tmp_path / "other.json"

    def block() -> None:
        with use_cassette(other, mode="once") as failing:
            failing.intercept(_plain_call(tmp_path, "x"), lambda c: CliOutcome(0, "{}", "", 0.1))
            raise RuntimeError("the block failed")

    with pytest.raises(RuntimeError, match="the block failed"):
        block()
    assert not other.exists()


def test_use_cassette_never_masks_the_blocks_exception(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    raised = KeyError("from the block")

    def block() -> None:
        # saving a failed block's recording needs the lock, which another run holds: the save fails
        with use_cassette(path, mode="once", record_on_failure=True, lock_timeout=0.2) as cassette:
            cassette.intercept(_plain_call(tmp_path, "x"), lambda c: CliOutcome(0, "{}", "", 0.1))
            raise raised

    with cassette_lock(path), pytest.raises(KeyError) as info:
        block()
    assert info.value is raised  # the block's exception itself, raised once, not the lock error
    notes = getattr(info.value, "__notes__", [])
    assert len(notes) == 1 and f"finishing cassette {path} failed: CassetteLockError" in notes[0]
    assert not path.exists()


def test_proceed_errors_record_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    cassette = CassetteInterceptor(path, mode="once")

    def boom(call: CliCall) -> CliOutcome:
        raise OSError("no binary")

    with pytest.raises(OSError, match="no binary"):
        cassette.intercept(_plain_call(tmp_path, "x"), boom)
    report = cassette.finish()
    assert report.recorded == 0 and report.not_saved_reason == "nothing was recorded" and not path.exists()


def test_new_episodes_inserts_a_new_call_where_it_is_made(tmp_path: Path) -> None:
    path = tmp_path / "c.json"

    def answer(call: CliCall) -> CliOutcome:
        return CliOutcome(
            0, json.dumps({"type": "result", "session_id": "s", "result": call.prompt}), "", 0.01
        )

    def run(mode: str, prompts: list[str], proceed: object = answer) -> list[bool]:
        cassette = CassetteInterceptor(path, mode=mode)
        outs = [cassette.intercept(_plain_call(tmp_path, p), proceed) for p in prompts]  # type: ignore[arg-type]
        cassette.finish()
        return [o.replayed for o in outs]

    def never(call: CliCall) -> CliOutcome:
        raise AssertionError(f"{call.prompt!r} should have been replayed")

    assert run("once", ["A", "B"]) == [False, False]
    assert run("new_episodes", ["A", "X", "B"]) == [True, False, True]
    data = load_cassette_data(path)
    assert data is not None and [i["request"]["prompt"] for i in data["interactions"]] == ["A", "X", "B"]
    assert run("none", ["A", "X", "B"], never) == [True, True, True]  # strict order finds X in its place


def test_header_holds_provenance_and_no_secret_from_the_node_id(tmp_path: Path) -> None:
    key = "sk-ant-api03-" + "Q" * 30
    path = tmp_path / "c.json"
    cassette = CassetteInterceptor(path, mode="once", node_id=f"tests/t.py::test_x[{key}]")
    cassette.intercept(_plain_call(tmp_path, "hi"), lambda c: CliOutcome(0, "{}", "", 0.1))
    assert cassette.finish().saved
    data = load_cassette_data(path)
    assert data is not None and key not in path.read_text(encoding="utf-8")
    header = data["header"]
    assert header["node_id"] == "tests/t.py::test_x[[REDACTED:anthropic-key]]"
    assert header["plugin_version"] and header["recorded_at"].endswith("+00:00")
