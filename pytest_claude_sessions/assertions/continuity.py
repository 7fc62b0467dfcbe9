"""Continuity and budget assertions for session chains, importable from test code.

Each raises ``AssertionError`` with the chain as a table and the reason; ``__tracebackhide__`` keeps the
helper's own frame out of pytest's traceback. They do not rely on assertion rewriting, so they behave the
same under ``python -O``.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from pytest_claude_sessions.assertions.budget import BudgetLimits, check_budget
from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.tables import format_chain as _format_steps
from pytest_claude_sessions.transcripts.chain import (
    chain_continuity as _chain_reasons,
    continuity_error,
    recorded_leaf,
    require_continuity,
    validator_for,
)
from pytest_claude_sessions.transcripts.validator import SessionValidator

__all__ = [
    "ChainLike",
    "HasChain",
    "assert_chain_continuous",
    "assert_forked",
    "assert_no_shared_sessions",
    "assert_resumed",
    "assert_within_budget",
    "chain_continuity",
    "chain_session_ids",
    "compare_repr",
    "format_chain",
    "shared_sessions",
]


class HasChain(Protocol):
    """Anything with a ``session_chain`` (a :class:`~pytest_claude_sessions.SessionTracker`)."""

    @property
    def session_chain(self) -> list[SessionInfo]: ...


#: What the assertions accept as a chain: a list of steps, or a tracker.
ChainLike = Sequence[SessionInfo] | HasChain


def _steps(chain: ChainLike) -> list[SessionInfo]:
    if isinstance(chain, Sequence):
        return list(chain)
    return list(chain.session_chain)


def _agent(steps: Sequence[SessionInfo], chain: object) -> str | None:
    agent = getattr(chain, "agent_id", None) or (steps[0].agent_id if steps else None)
    return str(agent) if agent else None


def format_chain(chain: ChainLike) -> str:
    """The chain as a compact table: #, kind, session id, parent, prompt excerpt, cost, turns, error."""
    return _format_steps(_steps(chain))


def _fail(reason: str, steps: Sequence[SessionInfo], chain: object) -> AssertionError:
    return continuity_error(reason, steps, _agent(steps, chain))


def chain_continuity(
    chain: ChainLike, validator: SessionValidator | None = None, *, allow_new_sessions: bool = False
) -> list[str]:
    """The reasons the chain is not continuous, from the real transcripts (empty list: continuous).

    Every step after the first must continue the chain: resume/continue the previous session, or fork an
    earlier one. A ``new`` step after the first breaks it, unless ``allow_new_sessions`` (a test that
    starts several conversations on purpose; each one is then still checked step by step).
    Without ``validator`` the transcripts are read from the config dir the steps recorded them in.
    """
    return _chain_reasons(_steps(chain), validator, allow_new_sessions=allow_new_sessions)


def assert_chain_continuous(
    chain: ChainLike, validator: SessionValidator | None = None, *, allow_new_sessions: bool = False
) -> None:
    """Every step of ``chain`` after the first continues the conversation (checked in the transcripts: a
    resume appended to the previous leaf, a fork copied it). A ``new`` step after the first fails
    ("step 2 started a new session ... instead of continuing ...") unless ``allow_new_sessions=True``.
    """
    __tracebackhide__ = True
    steps = _steps(chain)
    require_continuity(steps, validator, allow_new_sessions=allow_new_sessions, agent_id=_agent(steps, chain))


def _check_pair(
    step: SessionInfo, previous: SessionInfo, kind: str, validator: SessionValidator | None
) -> str | None:
    verdict = validator_for([previous, step], validator).check_continuity(
        previous.session_id,
        step.session_id,
        previous_leaf_uuid=recorded_leaf(previous),
        kind=kind,
    )
    return None if verdict.ok else str(verdict.reason)


def assert_resumed(
    step: SessionInfo, previous: SessionInfo, validator: SessionValidator | None = None
) -> None:
    """``step`` resumed ``previous``: same session, recorded as resume/continue, and the transcript
    continues from ``previous``'s leaf."""
    __tracebackhide__ = True
    steps = [previous, step]
    if step.kind not in ("resume", "continue"):
        raise _fail(f"step {step.interaction_count} is a {step.kind!r} step, not a resume", steps, step)
    if step.session_id != previous.session_id:
        raise _fail(
            f"step {step.interaction_count} runs in session {step.session_id}, "
            f"not in the resumed session {previous.session_id}",
            steps,
            step,
        )
    reason = _check_pair(step, previous, step.kind, validator)
    if reason:
        raise _fail(
            f"step {step.interaction_count} did not resume step {previous.interaction_count}: {reason}",
            steps,
            step,
        )


def assert_forked(fork: SessionInfo, parent: SessionInfo, validator: SessionValidator | None = None) -> None:
    """``fork`` forked ``parent``: a new session id, linked to the parent, whose transcript copies the
    parent's conversation up to its leaf."""
    __tracebackhide__ = True
    steps = [parent, fork]
    if fork.kind != "fork":
        raise _fail(f"step {fork.interaction_count} is a {fork.kind!r} step, not a fork", steps, fork)
    if fork.session_id == parent.session_id:
        raise _fail(f"the fork kept the parent's session id {parent.session_id}", steps, fork)
    if fork.parent_session_id != parent.session_id:
        raise _fail(f"the fork's parent is {fork.parent_session_id}, not {parent.session_id}", steps, fork)
    reason = _check_pair(fork, parent, "fork", validator)
    if reason:
        raise _fail(f"session {fork.session_id} is not a fork of {parent.session_id}: {reason}", steps, fork)


def _chains_by_agent(source: object) -> dict[str, list[SessionInfo]]:
    if isinstance(source, Mapping):
        return {str(k): _steps(v) for k, v in source.items()}
    if isinstance(source, str | Path):
        from pytest_claude_sessions.store.manager import SessionManager

        source = SessionManager(Path(source))
    all_sessions = getattr(source, "all_sessions", None)
    if all_sessions is None:
        raise TypeError(
            f"expected a SessionManager, a store directory or a mapping agent -> chain, got {source!r}"
        )
    chains: Mapping[str, Any] = all_sessions()
    return {str(k): _steps(v) for k, v in chains.items()}


def shared_sessions(source: object) -> dict[str, list[str]]:
    """Session ids used by more than one agent, with the agents (sorted); forks' parents do not count."""
    owners: dict[str, set[str]] = {}
    for agent, steps in _chains_by_agent(source).items():
        for step in steps:
            owners.setdefault(step.session_id, set()).add(agent)
    return {sid: sorted(agents) for sid, agents in sorted(owners.items()) if len(agents) > 1}


def assert_no_shared_sessions(source: object) -> None:
    """No session id appears in the chains of two different agents (tests own their sessions).

    ``source``: a ``SessionManager``, a store/run directory, or a mapping agent id -> chain.
    """
    __tracebackhide__ = True
    shared = shared_sessions(source)
    if shared:
        lines = [f"  {sid} used by: {', '.join(agents)}" for sid, agents in shared.items()]
        raise AssertionError(f"{len(shared)} session(s) shared between agents:\n" + "\n".join(lines))


def assert_within_budget(
    chain: ChainLike,
    *,
    max_cost_usd: float | None = None,
    max_turns: int | None = None,
    max_calls: int | None = None,
) -> None:
    """The chain spent no more than the limits (cost is the sum of per-call deltas)."""
    __tracebackhide__ = True
    steps = _steps(chain)
    limits = BudgetLimits.from_kwargs(
        {"max_cost_usd": max_cost_usd, "max_turns": max_turns, "max_calls": max_calls},
        where="assert_within_budget",
    )
    verdict = check_budget(steps, limits)
    if not verdict.ok:
        raise _fail("budget exceeded: " + "; ".join(verdict.reasons), steps, chain)


def _is_chain(value: object) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(v, SessionInfo) for v in value)


def _is_id_list(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(v, str) and len(v) == 36 and v.count("-") == 4 for v in value)
    )


def compare_repr(op: str, left: object, right: object) -> list[str] | None:
    """``pytest_assertrepr_compare`` explanation for ``==`` between two chains or session-id lists."""
    if op != "==":
        return None
    if _is_chain(left) and _is_chain(right):
        lrows = [_row(s) for s in cast("Sequence[SessionInfo]", left)]
        rrows = [_row(s) for s in cast("Sequence[SessionInfo]", right)]
        title = "session chains differ"
    elif _is_id_list(left) and _is_id_list(right):
        lrows = list(cast("Sequence[str]", left))
        rrows = list(cast("Sequence[str]", right))
        title = "session id lists differ"
    else:
        return None
    lines = [f"{title} ({len(lrows)} vs {len(rrows)} steps):"]
    for i in range(max(len(lrows), len(rrows))):
        a = lrows[i] if i < len(lrows) else "(missing)"
        b = rrows[i] if i < len(rrows) else "(missing)"
        mark = "  " if a == b else "!="
        lines.append(f"{mark} #{i + 1}: {a}  |  {b}")
    return lines


def _row(step: SessionInfo) -> str:
    parent = f" <- {step.parent_session_id[:8]}" if step.parent_session_id else ""
    return f"{step.kind} {step.session_id}{parent}"


def chain_session_ids(chain: Iterable[SessionInfo]) -> list[str]:
    """The session ids of a chain, in order (repeats kept: a resume repeats its session)."""
    return [s.session_id for s in chain]
