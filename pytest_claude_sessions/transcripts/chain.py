"""Continuity of a recorded chain of steps: the one judgement the tracker, the assertions and the plugin use.

Every step after the first must continue the chain (resume/continue the previous session, or fork an
earlier one), checked in the CLI's transcripts. The result keeps every verdict, so a caller can say not only
whether the chain holds but how strongly it was checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.tables import format_chain
from pytest_claude_sessions.transcripts.continuity import ContinuityVerdict, Strength
from pytest_claude_sessions.transcripts.validator import SessionValidator

__all__ = [
    "ChainContinuity",
    "chain_continuity",
    "check_chain_continuity",
    "continuity_error",
    "new_session_breaks",
    "recorded_config_dir",
    "recorded_leaf",
    "require_continuity",
    "validator_for",
]


def recorded_leaf(step: SessionInfo) -> str | None:
    """The transcript leaf recorded right after the step's call (``None`` if the executor found none)."""
    value = (step.metadata or {}).get("leaf_uuid")
    return value if isinstance(value, str) else None


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


def validator_for(
    steps: Sequence[SessionInfo], validator: SessionValidator | None = None
) -> SessionValidator:
    """``validator``, else one on the config dir the steps' transcripts were written under, else the
    default (``$CLAUDE_CONFIG_DIR`` or ``~/.claude``).

    A step's ``transcript_path`` is ``<config dir>/projects/<project slug>/<session id>.jsonl``: reading
    the chain's own config dir (an isolated one in tests) beats guessing from the environment.
    """
    if validator is not None:
        return validator
    config_dir = recorded_config_dir(steps)
    return SessionValidator(config_dir) if config_dir is not None else SessionValidator()


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


def _label(verdict: ContinuityVerdict) -> str:
    prev = (verdict.previous_session_id or "-")[:8]
    nxt = (verdict.next_session_id or "-")[:8]
    return f"{verdict.kind or 'step'} {prev} -> {nxt}"


@dataclass(frozen=True)
class ChainContinuity:
    """The judgement of a whole chain: truthy when it is continuous.

    ``reasons`` are the breaks (empty: continuous); ``verdicts`` one per step after the first. ``strength``
    is ``"weak"`` when the chain holds but at least one step could only be checked weakly; ``weak_reasons``
    says which and why.
    """

    reasons: tuple[str, ...]
    verdicts: tuple[ContinuityVerdict, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def weak_reasons(self) -> tuple[str, ...]:
        return tuple(f"{_label(v)}: {v.weak_reason}" for v in self.verdicts if v.strength == "weak")

    @property
    def strength(self) -> Strength:
        return "weak" if self.ok and self.weak_reasons else "strong"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``checked``, ``ok``, ``reason`` (the breaks joined, or None), ``strength``,
        ``weak_reasons`` and ``verdicts`` (each :meth:`ContinuityVerdict.to_dict`)."""
        return {
            "checked": True,
            "ok": self.ok,
            "reason": "; ".join(self.reasons) or None,
            "strength": self.strength,
            "weak_reasons": list(self.weak_reasons),
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


def check_chain_continuity(
    steps: Sequence[SessionInfo],
    validator: SessionValidator | None = None,
    *,
    allow_new_sessions: bool = False,
) -> ChainContinuity:
    """Judge ``steps`` from the real transcripts (see :class:`ChainContinuity`).

    A ``new`` step after the first breaks the chain unless ``allow_new_sessions`` (a test that starts
    several conversations on purpose; each one is then still checked step by step). Without ``validator``
    the transcripts are read from the config dir the steps recorded them in.
    """
    steps = list(steps)
    if not steps:
        return ChainContinuity(reasons=("the chain is empty: no Claude call was recorded",))
    reasons = [] if allow_new_sessions else new_session_breaks(steps)
    payload = [
        {
            "session_id": s.session_id,
            "leaf_uuid": recorded_leaf(s),
            "kind": s.kind,
            "parent_session_id": s.parent_session_id,
            "cwd": s.cwd,
        }
        for s in steps
    ]
    verdicts = validator_for(steps, validator).check_chain(payload)
    reasons.extend(f"{_label(v)}: {v.reason}" for v in verdicts if not v.ok)
    return ChainContinuity(reasons=tuple(reasons), verdicts=tuple(verdicts))


def chain_continuity(
    steps: Sequence[SessionInfo],
    validator: SessionValidator | None = None,
    *,
    allow_new_sessions: bool = False,
) -> list[str]:
    """The reasons the chain is not continuous (empty: continuous); see :func:`check_chain_continuity`."""
    return list(check_chain_continuity(steps, validator, allow_new_sessions=allow_new_sessions).reasons)


def continuity_error(
    reason: str, steps: Sequence[SessionInfo], agent_id: str | None = None
) -> AssertionError:
    """The ``AssertionError`` a failed chain check raises: the reason, then the chain as a table."""
    agent = agent_id or (steps[0].agent_id if steps else None) or "?"
    table = format_chain(steps) if steps else "(no steps)"
    return AssertionError(f"{reason}\nchain of agent {agent}:\n{table}")


def require_continuity(
    steps: Sequence[SessionInfo],
    validator: SessionValidator | None = None,
    *,
    allow_new_sessions: bool = False,
    agent_id: str | None = None,
) -> None:
    """Raise :func:`continuity_error` with every break unless the chain is continuous."""
    __tracebackhide__ = True
    reasons = chain_continuity(steps, validator, allow_new_sessions=allow_new_sessions)
    if reasons:
        message = "session chain is not continuous:\n  " + "\n  ".join(reasons)
        raise continuity_error(message, steps, agent_id)
