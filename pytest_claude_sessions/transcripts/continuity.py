"""Continuity verdicts: did a step really continue (resume, continue, fork) or really not continue (new) the
previous step's conversation, judged from the CLI's transcripts.

The judge is a decision table kept in one module: the checks shared by every kind, then one method per kind
(same session, new conversation, fork). A verdict says what it rests on (``basis``) and whether that
evidence is strong; a check made without the previous step's recorded leaf is *weak* and says why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from pytest_claude_sessions.ids import is_session_id
from pytest_claude_sessions.transcripts.info import InfoCollector
from pytest_claude_sessions.transcripts.scan import ChainIndex, RecordHook, Scan

__all__ = ["CONTINUITY_KINDS", "ContinuityJudge", "ContinuityVerdict", "Strength"]

CONTINUITY_KINDS: Final = ("new", "resume", "continue", "fork")
Strength = Literal["strong", "weak"]


@dataclass(frozen=True)
class ContinuityVerdict:
    """Whether ``next_session_id`` really continued ``previous_session_id``; truthy when it did.

    ``basis`` names the evidence: ``"leaf"`` (the recorded previous leaf is an ancestor of the new turn),
    ``"branch_point"`` (no leaf recorded; the fork shares the previous chain up to a common node),
    ``"prompt_count"`` (no leaf recorded for a same-id step), ``"disjoint"`` (a new conversation shares
    nothing with the previous one), or ``""`` when the check stopped early.

    ``strength`` is ``"weak"`` when the check could not use the evidence a strict check needs (no leaf was
    recorded for the previous step, or the previous session has no transcript); ``weak_reason`` then says
    what was missing. A failed verdict is always ``"strong"``: what it found is a real break.
    """

    ok: bool
    kind: str
    reason: str
    previous_session_id: str
    next_session_id: str
    previous_path: Path | None = None
    next_path: Path | None = None
    previous_leaf_uuid: str | None = None
    next_leaf_uuid: str | None = None
    basis: str = ""
    weak_reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    @property
    def strength(self) -> Strength:
        """``"weak"`` when the check lacked the evidence for a strict one (see ``weak_reason``)."""
        return "weak" if self.ok and self.weak_reason is not None else "strong"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (paths as strings)."""
        return {
            "ok": self.ok,
            "kind": self.kind,
            "reason": self.reason,
            "previous_session_id": self.previous_session_id,
            "next_session_id": self.next_session_id,
            "previous_path": None if self.previous_path is None else str(self.previous_path),
            "next_path": None if self.next_path is None else str(self.next_path),
            "previous_leaf_uuid": self.previous_leaf_uuid,
            "next_leaf_uuid": self.next_leaf_uuid,
            "basis": self.basis,
            "strength": self.strength,
            "weak_reason": self.weak_reason,
        }


def _walk_up(index: Mapping[str, tuple[str | None, int]], start: str) -> Iterator[str]:
    """``start`` and its ancestors, nearest first, while the index knows them."""
    cur: str | None = start
    limit = len(index) + 1  # parents are earlier lines, so no cycle; the bound guards unknown record types
    for _ in range(limit + 1):
        if cur is None:
            return
        yield cur
        entry = index.get(cur)
        if entry is None:
            return
        cur = entry[0]


def walk_reaches(index: Mapping[str, tuple[str | None, int]], start: str, target: str) -> int | None:
    """Steps from ``start`` up the parent chain to ``target``, or None when the chain never reaches it."""
    return next((steps for steps, node in enumerate(_walk_up(index, start)) if node == target), None)


def first_shared_ancestor(
    index: Mapping[str, tuple[str | None, int]], start: str, other: Mapping[str, Any]
) -> str | None:
    """The first node on the way up from ``start`` that ``other`` also holds, or None."""
    return next((node for node in _walk_up(index, start) if node in other), None)


class ScanFunction(Protocol):
    """How the judge reads a transcript (the validator's limits already bound)."""

    def __call__(
        self, path: Path, session_id: str, *, want_index: bool = ..., on_record: RecordHook | None = ...
    ) -> Scan: ...


Locate = Callable[[str, str | os.PathLike[str] | None], tuple[Path | None, str]]


@dataclass
class _Case:
    """One pair of steps under judgement: what is known so far goes into every verdict."""

    prev_id: str
    next_id: str
    kind: str
    base: dict[str, Any] = field(default_factory=dict)

    def fail(self, reason: str, **extra: Any) -> ContinuityVerdict:
        return ContinuityVerdict(ok=False, reason=reason, **{**self.base, **extra})

    def success(self, reason: str, basis: str, weak: str | None = None, **extra: Any) -> ContinuityVerdict:
        return ContinuityVerdict(
            ok=True, reason=reason, basis=basis, weak_reason=weak, **{**self.base, **extra}
        )


@dataclass
class _Next:
    """The next step's transcript, scanned with an index, and the leaf its turn ended on."""

    path: Path
    scan: Scan
    index: ChainIndex
    leaf: str
    leaf_line: int
    prompts: InfoCollector | None


class ContinuityJudge:
    """Judges steps against the transcripts ``locate`` finds; a judge caches scans, so judging a whole chain
    reads each file once (the cache key includes size and mtime: a file that grew is read again)."""

    def __init__(self, locate: Locate, scan: ScanFunction) -> None:
        self._locate = locate
        self._scan = scan
        self._cache: dict[tuple[Path, int, int], Scan] = {}

    def judge(
        self,
        prev_id: str,
        next_id: str,
        *,
        working_dir: str | os.PathLike[str] | None = None,
        previous_leaf_uuid: str | None = None,
        kind: str | None = None,
        next_leaf_uuid: str | None = None,
    ) -> ContinuityVerdict:
        """The verdict for the step ``next_id`` after ``prev_id`` (see :class:`ContinuityVerdict`)."""
        if kind is not None and kind not in CONTINUITY_KINDS:
            raise ValueError(f"unknown step kind {kind!r}; expected one of {', '.join(CONTINUITY_KINDS)}")
        same = prev_id == next_id
        judged = kind if kind is not None else ("resume" if same else "fork")
        case = _Case(prev_id, next_id, judged)
        case.base = {
            "kind": judged,
            "previous_session_id": prev_id,
            "next_session_id": next_id,
            "previous_leaf_uuid": previous_leaf_uuid,
        }
        early = self._claims(case, same)
        if early is not None:
            return early
        nxt = self._next(case, working_dir, next_leaf_uuid, weak=same and previous_leaf_uuid is None)
        if isinstance(nxt, ContinuityVerdict):
            return nxt
        if same:
            return self._same_session(case, nxt, previous_leaf_uuid)
        prev_path, prev_where = self._locate(prev_id, working_dir)
        if prev_path is None and judged == "fork":
            return case.fail(f"previous session {prev_id!r} has no transcript: looked in {prev_where}")
        case.base["previous_path"] = prev_path
        prev: Scan | None = None
        if prev_path is not None:
            prev = self._indexed(prev_path, prev_id)
            if prev.error is not None:
                return case.fail(f"previous session {prev_id!r} has an invalid transcript: {prev.error}")
            assert prev.index is not None
            if previous_leaf_uuid is not None and previous_leaf_uuid not in prev.index:
                return case.fail(
                    f"previous leaf {previous_leaf_uuid!r} is not in the transcript of previous session "
                    f"{prev_id!r} ({prev_path})"
                )
        if judged == "new":
            return self._new_session(case, nxt, prev, previous_leaf_uuid, prev_where)
        assert prev is not None  # a fork without a previous transcript failed above
        return self._fork(case, nxt, prev, previous_leaf_uuid)

    # ----------------------------------------------------------------- shared checks

    def _indexed(self, path: Path, session_id: str) -> Scan:
        try:
            st = path.stat()
            key: tuple[Path, int, int] | None = (path, st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        if key is not None and key in self._cache:
            return self._cache[key]
        scan = self._scan(path, session_id, want_index=True)
        if key is not None:
            self._cache[key] = scan
        return scan

    @staticmethod
    def _claims(case: _Case, same: bool) -> ContinuityVerdict | None:
        """What the ids alone refute: a non-UUID id, a resume with a new id, a fork with the same id."""
        for label, sid in (("previous", case.prev_id), ("next", case.next_id)):
            if not is_session_id(sid):
                return case.fail(f"{label} session id {sid[:80]!r} is not a UUID")
        if case.kind in ("resume", "continue") and not same:
            return case.fail(
                f"a {case.kind} keeps the session id, but the next step has {case.next_id!r} after "
                f"{case.prev_id!r} (--continue silently starts a new session when the cwd has none)"
            )
        if case.kind in ("fork", "new") and same:
            return case.fail(
                f"a {case.kind} step gets a new session id, but both steps have {case.prev_id!r}"
            )
        return None

    def _next(
        self,
        case: _Case,
        working_dir: str | os.PathLike[str] | None,
        next_leaf_uuid: str | None,
        *,
        weak: bool,
    ) -> _Next | ContinuityVerdict:
        """The next step's transcript and leaf, or the verdict that it has none usable."""
        next_id = case.next_id
        path, where = self._locate(next_id, working_dir)
        if path is None:
            return case.fail(f"next session {next_id!r} has no transcript: looked in {where}")
        case.base["next_path"] = path
        prompts: InfoCollector | None = None
        if weak:  # only the weak check counts prompts; it needs a fresh pass with a collector
            prompts = InfoCollector(max_prompts=0)
            scan = self._scan(path, next_id, want_index=True, on_record=prompts)
        else:
            scan = self._indexed(path, next_id)
        if scan.error is not None:
            return case.fail(f"next session {next_id!r} has an invalid transcript: {scan.error}")
        assert scan.index is not None
        if next_leaf_uuid is not None:
            if next_leaf_uuid not in scan.index:
                return case.fail(
                    f"next session {next_id!r} does not contain its recorded leaf {next_leaf_uuid!r}"
                )
            leaf, leaf_line = next_leaf_uuid, scan.line_of(next_leaf_uuid)
        elif scan.leaf is not None:
            leaf, leaf_line = scan.leaf, scan.leaf_line
        else:
            return case.fail(f"next session {next_id!r} has no conversation records in {path}")
        case.base["next_leaf_uuid"] = leaf
        return _Next(path, scan, scan.index, leaf, leaf_line, prompts)

    # ----------------------------------------------------------------- one method per kind

    @staticmethod
    def _same_session(case: _Case, nxt: _Next, previous_leaf: str | None) -> ContinuityVerdict:
        """A resume or continue: the same file grew, and its new leaf descends from the previous one."""
        next_id, judged = case.next_id, case.kind
        case.base["previous_path"] = nxt.path
        if previous_leaf is None:
            assert nxt.prompts is not None
            count = nxt.prompts.prompt_count
            if count > 1:
                return case.success(
                    f"no previous leaf was recorded, so only a weak check was made: session {next_id!r} "
                    f"has a valid chain holding {count} prompts (a {judged} adds one). "
                    f"Record the leaf uuid after each call for a real check.",
                    "prompt_count",
                    weak=f"no leaf was recorded for the previous step: only the prompt count ({count}) of "
                    f"session {next_id[:8]} was checked",
                )
            return case.fail(
                f"no previous leaf was recorded and session {next_id!r} holds {count} "
                f"prompt(s): nothing shows that a {judged} added a turn"
            )
        if previous_leaf not in nxt.index:
            return case.fail(
                f"session {next_id!r} does not contain previous leaf {previous_leaf!r} "
                f"({nxt.path}): the recorded leaf belongs to another transcript"
            )
        prev_line = nxt.scan.line_of(previous_leaf)
        if nxt.leaf == previous_leaf:
            return case.fail(
                f"session {next_id!r} did not grow past previous leaf {previous_leaf!r} "
                f"(line {prev_line}): the {judged} wrote no new turn"
            )
        steps = walk_reaches(nxt.index, nxt.leaf, previous_leaf)
        if steps is None or nxt.leaf_line <= prev_line:
            return case.fail(
                f"the newest turn of session {next_id!r} (leaf {nxt.leaf!r}, line {nxt.leaf_line}) does not "
                f"descend from previous leaf {previous_leaf!r} (line {prev_line}): the history "
                f"branched (another resume of the same session in parallel?) or was rewound"
            )
        return case.success(
            f"session {next_id!r} grew from leaf {previous_leaf!r} (line {prev_line}) to "
            f"{nxt.leaf!r} (line {nxt.leaf_line}); the new turn's parent chain reaches the previous leaf in "
            f"{steps} step(s)",
            "leaf",
        )

    @staticmethod
    def _new_session(
        case: _Case, nxt: _Next, prev: Scan | None, previous_leaf: str | None, prev_where: str
    ) -> ContinuityVerdict:
        """A new conversation: the next chain shares no record with the previous one."""
        prev_id, next_id = case.prev_id, case.next_id
        if prev is not None:
            assert prev.index is not None
            shared = first_shared_ancestor(nxt.index, nxt.leaf, prev.index)
            if shared is not None:
                return case.fail(
                    f"next session {next_id!r} is not a new conversation: its chain carries "
                    f"{shared!r} of previous session {prev_id!r} "
                    f"(line {nxt.scan.line_of(shared)} of {nxt.path})"
                )
            return case.success(
                f"next session {next_id!r} shares no record with previous session {prev_id!r}: "
                f"a new conversation",
                "disjoint",
            )
        if previous_leaf is not None and walk_reaches(nxt.index, nxt.leaf, previous_leaf) is not None:
            return case.fail(f"next session {next_id!r} descends from previous leaf {previous_leaf!r}")
        weak = f"previous session {prev_id[:8]} has no transcript to compare with"
        if previous_leaf is not None:
            return case.success(
                f"previous session {prev_id!r} has no transcript ({prev_where}); next session {next_id!r} "
                f"does not descend from the previous leaf",
                "disjoint",
                weak=weak,
            )
        return case.success(
            f"previous session {prev_id!r} has no transcript ({prev_where}); nothing to share",
            "disjoint",
            weak=weak,
        )

    @staticmethod
    def _fork(case: _Case, nxt: _Next, prev: Scan, previous_leaf: str | None) -> ContinuityVerdict:
        """A fork: a new id whose file copies the previous chain (same uuids, sessionId rewritten; the scan
        already proved every record says the fork's id) and adds a turn below the previous leaf."""
        prev_id, next_id = case.prev_id, case.next_id
        assert prev.index is not None
        target = previous_leaf if previous_leaf is not None else prev.leaf
        if target is None:
            return case.fail(f"previous session {prev_id!r} has no conversation records in {prev.path}")
        case.base["previous_leaf_uuid"] = target
        weak = None if previous_leaf is not None else "no leaf was recorded for the previous step"
        if target in nxt.index:
            target_line = nxt.scan.line_of(target)
            if nxt.leaf == target:
                return case.fail(
                    f"fork {next_id!r} copied the previous chain up to {target!r} but added no new turn"
                )
            steps = walk_reaches(nxt.index, nxt.leaf, target)
            if steps is None:
                return case.fail(
                    f"fork {next_id!r} contains previous leaf {target!r} (line {target_line}) but its newest "
                    f"turn (leaf {nxt.leaf!r}, line {nxt.leaf_line}) does not descend from it"
                )
            return case.success(
                f"fork {next_id!r} carries the previous chain up to leaf {target!r} (line {target_line} of "
                f"{nxt.path.name}, every record rewritten to the fork's id) and its new turn descends from "
                f"it in {steps} step(s)",
                "leaf",
                weak=None if weak is None else f"{weak}: judged against the previous session's current leaf",
            )
        shared = first_shared_ancestor(nxt.index, nxt.leaf, prev.index)
        if previous_leaf is None and shared is not None:
            return case.success(
                f"no previous leaf was recorded, and the current leaf {target!r} of session {prev_id!r} "
                f"is not in the fork (the previous session grew after the fork); fork {next_id!r} carries "
                f"the previous chain up to {shared!r} (line {prev.line_of(shared)} of the previous "
                f"transcript) and its new turn descends from it",
                "branch_point",
                weak=f"{weak}: only a shared branch point with session {prev_id[:8]} was found",
                previous_leaf_uuid=shared,
            )
        if shared is not None:
            return case.fail(
                f"next session {next_id!r} does not contain previous leaf {target!r}; it branches from the "
                f"previous chain earlier, at {shared!r} (line {prev.line_of(shared)} of the previous "
                f"transcript)"
            )
        return case.fail(
            f"next session {next_id!r} does not contain previous leaf {target!r}; "
            f"it starts a new conversation"
        )
