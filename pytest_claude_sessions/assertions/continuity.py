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
from typing import TYPE_CHECKING, Any, Protocol, cast

from pytest_claude_sessions.assertions.budget import BudgetLimits, check_budget
from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.plugin.reporting import format_table, step_record

if TYPE_CHECKING:
    from pytest_claude_sessions.transcripts.validator import SessionValidator


class _HasChain(Protocol):
    @property
    def session_chain(self) -> list[SessionInfo]: ...


ChainLike = Sequence[SessionInfo] | _HasChain


def _steps(chain: ChainLike) -> list[SessionInfo]:
    if isinstance(chain, Sequence):
        return list(chain)
    return list(chain.session_chain)


def _agent(steps: Sequence[SessionInfo], chain: object) -> str:
    agent = getattr(chain, "agent_id", None) or (steps[0].agent_id if steps else None)
    return str(agent) if agent else "?"


def format_chain(chain: ChainLike) -> str:
    """The chain as a compact table: #, kind, session id, parent, prompt excerpt, cost, turns, error."""
    return format_table([step_record(s) for s in _steps(chain)], with_transcripts=False)


def leaf_uuid(step: SessionInfo) -> str | None:
    """The transcript leaf recorded right after the step's call (``None`` if the executor found none)."""
    value = (step.metadata or {}).get("leaf_uuid")
    return value if isinstance(value, str) else None


def _fail(reason: str, steps: Sequence[SessionInfo], chain: object) -> AssertionError:
    table = format_chain(steps) if steps else "(no steps)"
    return AssertionError(f"{reason}\nchain of agent {_agent(steps, chain)}:\n{table}")


def _validator(validator: SessionValidator | None, steps: Sequence[SessionInfo] = ()) -> SessionValidator:
    """``validator``, else one on the config dir the steps' transcripts were written under, else the
    default (``$CLAUDE_CONFIG_DIR`` or ``~/.claude``).

    A step's ``transcript_path`` is ``<config dir>/projects/<project slug>/<session id>.jsonl``: reading
    the chain's own config dir (an isolated one in tests) beats guessing from the environment.
    """
    if validator is not None:
        return validator
    from pytest_claude_sessions.transcripts.validator import SessionValidator

    config_dir = recorded_config_dir(steps)
    return SessionValidator(config_dir) if config_dir is not None else SessionValidator()


def recorded_config_dir(steps: Iterable[SessionInfo]) -> Path | None:
    """The CLI config dir the steps' transcripts live in (the first step whose ``transcript_path`` has the
    ``<config>/projects/<slug>/<id>.jsonl`` shape), or ``None`` when no step recorded one."""
    for step in steps:
        if not step.transcript_path:
            continue
        path = Path(step.transcript_path)
        if len(path.parents) >= 3 and path.parents[1].name == "projects":
            return path.parents[2]
    return None


def new_session_breaks(steps: Sequence[SessionInfo]) -> list[str]:
    """A ``new`` step after the first one: the agent started over instead of continuing (the usual bug,
    a forgotten ``--resume``). One reason per such step."""
    reasons: list[str] = []
    for i in range(1, len(steps)):
        step = steps[i]
        if step.kind == "new":
            reasons.append(
                f"step {i + 1} started a new session {step.session_id} instead of continuing "
                f"{steps[i - 1].session_id} (a forgotten --resume? pass allow_new_sessions=True if the "
                f"test starts several conversations on purpose)"
            )
    return reasons


def chain_continuity(
    chain: ChainLike, validator: SessionValidator | None = None, *, allow_new_sessions: bool = False
) -> list[str]:
    """The reasons the chain is not continuous, from the real transcripts (empty list: continuous).

    Every step after the first must continue the chain: resume/continue the previous session, or fork an
    earlier one. A ``new`` step after the first breaks it, unless ``allow_new_sessions`` (a test that
    starts several conversations on purpose; each one is then still checked step by step).
    Without ``validator`` the transcripts are read from the config dir the steps recorded them in.
    """
    steps = _steps(chain)
    if not steps:
        return ["the chain is empty: no Claude call was recorded"]
    reasons = [] if allow_new_sessions else new_session_breaks(steps)
    payload = [
        {
            "session_id": s.session_id,
            "leaf_uuid": leaf_uuid(s),
            "kind": s.kind,
            "parent_session_id": s.parent_session_id,
            "cwd": s.cwd,
        }
        for s in steps
    ]
    for verdict in _validator(validator, steps).check_chain(payload):
        if not verdict.ok:
            prev = (verdict.previous_session_id or "-")[:8]
            nxt = (verdict.next_session_id or "-")[:8]
            reasons.append(f"{verdict.kind or 'step'} {prev} -> {nxt}: {verdict.reason}")
    return reasons


def assert_chain_continuous(
    chain: ChainLike, validator: SessionValidator | None = None, *, allow_new_sessions: bool = False
) -> None:
    """Every step of ``chain`` after the first continues the conversation (checked in the transcripts: a
    resume appended to the previous leaf, a fork copied it). A ``new`` step after the first fails
    ("step 2 started a new session ... instead of continuing ...") unless ``allow_new_sessions=True``.
    """
    __tracebackhide__ = True
    steps = _steps(chain)
    reasons = chain_continuity(steps, validator, allow_new_sessions=allow_new_sessions)
    if reasons:
        raise _fail("session chain is not continuous:\n  " + "\n  ".join(reasons), steps, chain)


def _check_pair(
    step: SessionInfo, previous: SessionInfo, kind: str, validator: SessionValidator | None
) -> str | None:
    verdict = _validator(validator, [previous, step]).check_continuity(
        previous.session_id,
        step.session_id,
        previous_leaf_uuid=leaf_uuid(previous),
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
