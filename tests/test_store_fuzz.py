"""Hypothesis: the loader never crashes on any bytes and never loses a valid record before the damage."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_claude_sessions.errors import StoreWarning
from pytest_claude_sessions.models import SessionInfo, utcnow
from pytest_claude_sessions.store import SessionStore, parse_journal
from pytest_claude_sessions.tracker import SessionTracker

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
    assert len(parsed.records) + len(parsed.damaged) <= data.count(b"\n")


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
