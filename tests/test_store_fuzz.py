"""Hypothesis: the loader never crashes on any bytes and never loses a valid record before the damage."""

from __future__ import annotations

import copy
import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings, strategies as st

from pytest_claude_sessions.errors import StoreWarning
from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.store.journal import parse_journal, parse_record, record_from_parsed
from pytest_claude_sessions.store.session_store import SessionStore
from pytest_claude_sessions.store.tracker import SessionTracker

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_FILES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.text(max_size=40)


def _journal(directory: Path, prompts: list[str]) -> tuple[SessionStore, list[SessionInfo]]:
    store = SessionStore(directory, fsync=False)
    infos = []
    for i, prompt in enumerate(prompts):

        def build(count: int, last: SessionInfo | None, i: int = i, prompt: str = prompt) -> SessionInfo:
            return SessionInfo(f"s{i}", utcnow(), count, prompt, "r", step_id=f"step-{i}", agent_id="a")

        infos.append(store.append("a", build))
    return store, infos


def _line_ends(data: bytes) -> list[int]:
    ends, pos = [], 0
    while (nl := data.find(b"\n", pos)) >= 0:
        ends.append(nl + 1)
        pos = nl + 1
    return ends


@FUZZ
@given(st.binary(max_size=2000))
def test_parse_journal_is_total_on_random_bytes(data: bytes) -> None:
    parsed = parse_journal(data)
    assert parsed.complete_length + parsed.torn_tail == len(data)
    assert len(parsed.records) <= data.count(b"\n")
    assert len(parsed.damaged) <= data.count(b"\n")


@FUZZ
@given(
    st.lists(st.text(alphabet=st.characters(), max_size=30), min_size=1, max_size=8),
    st.data(),
)
def test_damage_anywhere_never_loses_the_records_before_it(prompts: list[str], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store, infos = _journal(Path(tmp), prompts)
        path = store.journal_path("a")
        original = path.read_bytes()
        offset = data.draw(st.integers(0, len(original)), label="offset")
        mode = data.draw(st.sampled_from(["truncate", "replace_tail", "insert", "overwrite"]), label="mode")
        junk = data.draw(st.binary(min_size=1, max_size=200), label="junk")
        if mode == "truncate":
            damaged = original[:offset]
        elif mode == "replace_tail":
            damaged = original[:offset] + junk
        elif mode == "insert":
            damaged = original[:offset] + junk + original[offset:]
        else:
            damaged = original[:offset] + junk + original[offset + len(junk) :]
        path.write_bytes(damaged)
        # records whose whole line (newline included) lies before the damage must survive
        ends = _line_ends(original)[1:]  # skip the header line
        intact = [info.step_id for info, end in zip(infos, ends, strict=True) if end <= offset]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StoreWarning)
            loaded = [s.step_id for s in SessionStore(Path(tmp)).load("a")]
        assert loaded[: len(intact)] == intact
        # the file is usable afterwards: an append gets the next count
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StoreWarning)
            tracker = SessionTracker("a", tmp, fsync=False)
            before = tracker.interaction_count
            assert tracker.update_session("next", "p", "r").interaction_count == before + 1
            assert [s.interaction_count for s in tracker.session_chain] == list(range(1, before + 2))
        # nothing is ever silently dropped: a damaged original is kept byte for byte
        if not parse_journal(damaged).ok:
            kept = [p.read_bytes() for p in store.quarantined_files()]
            assert damaged in kept


@FUZZ_FILES
@given(st.binary(max_size=3000))
def test_a_journal_of_random_bytes_loads_and_accepts_writes(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SessionStore(tmp, fsync=False)
        store.journal_path("a").write_bytes(blob)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StoreWarning)
            tracker = SessionTracker("a", tmp, fsync=False)
            n = tracker.interaction_count
            tracker.update_session("s", "p", "r")
            assert [s.interaction_count for s in tracker.session_chain] == list(range(1, n + 2))
        if blob and not parse_journal(blob).ok:
            assert blob in [p.read_bytes() for p in store.quarantined_files()]


_FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False),
    st.sampled_from(["new", "resume", "fork", "bogus", "2026-01-01T10:00:00Z", "s-1", ""]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_RECORD_KEYS = st.sampled_from([*SessionInfo.__dataclass_fields__, "custom", "__journal__", "extra"])


@FUZZ
@given(
    st.dictionaries(_RECORD_KEYS, _FIELD_VALUES, max_size=12),
    st.sampled_from(["s-1", None, 5]),
    st.sampled_from(["2026-01-01T10:00:00+00:00", 0, "nope", None]),
)
def test_the_loaders_fast_path_builds_what_from_dict_builds(
    base: dict[str, object], session_id: object, created_at: object
) -> None:
    # The store builds records from freshly parsed JSON without copying; it must agree with the public
    # SessionInfo.from_dict (via parse_record) on every record, valid or not.
    record: dict[str, object] = {"session_id": session_id, "created_at": created_at, **base}
    expected: SessionInfo | str
    try:
        expected = parse_record(copy.deepcopy(record))
    except ValueError as exc:
        expected = f"ValueError: {exc}"
    got: SessionInfo | str
    try:
        got = record_from_parsed(copy.deepcopy(record))
    except ValueError as exc:
        got = f"ValueError: {exc}"
    assert got == expected


def test_from_dict_never_mutates_or_aliases_its_argument() -> None:
    data = {
        "session_id": "s",
        "created_at": "2026-01-01T10:00:00Z",
        "interaction_count": 1,
        "last_prompt": "p",
        "last_response": "r",
        "metadata": {"nested": {"k": [1, 2]}},
        "usage": {"input_tokens": 3},
        "unknown": [{"a": 1}],
    }
    before = copy.deepcopy(data)
    info = SessionInfo.from_dict(data)
    assert data == before
    assert info.metadata is not None and info.usage is not None
    info.metadata["nested"]["k"].append(3)
    info.usage["input_tokens"] = 99
    info.extra["unknown"][0]["a"] = 2
    assert data == before


# any code point, lone surrogates included: what Python strings can hold, an agent id may be
agent_ids = st.text(
    alphabet=st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)),
    max_size=300,
)


@FUZZ_FILES
@given(st.lists(agent_ids, min_size=1, max_size=4, unique=True))
@example(["\ud800", "\ud83d\ude00", "a\udfffb", "sk-ant-api03-" + "K" * 40])  # lone, paired, a key
def test_any_agent_id_is_read_back_exactly(agents: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SessionStore(Path(tmp), fsync=False)
        for n, agent in enumerate(agents):

            def build(count: int, last: SessionInfo | None, agent: str = agent, n: int = n) -> SessionInfo:
                return SessionInfo(
                    f"s{n}", utcnow(), count, agent, agent, agent_id=agent, metadata={agent: 1}
                )

            store.append(agent, build)
        again = SessionStore(Path(tmp), fsync=False)  # a fresh reader: nothing cached
        assert sorted(again.agent_ids()) == sorted(agents)
        for n, agent in enumerate(agents):
            (step,) = again.load(agent)
            assert (step.agent_id, step.session_id, step.last_prompt) == (agent, f"s{n}", agent)
            assert step.metadata == {agent: 1}
        assert all(p.parent == Path(tmp) for p in again.journal_files())
