"""Cost, turn and call budgets: per test (the ``claude_budget`` marker) and per run (``--claude-budget-usd``).

Cost is always the sum of each call's own ``cost_usd`` (the delta), never the CLI's ``total_cost_usd``,
which is cumulative over resumes and forks and would count earlier calls again.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_claude_sessions.errors import BudgetExceededError
from pytest_claude_sessions.models import CliCall, SessionInfo


@dataclass(frozen=True)
class Spend:
    """What a set of steps spent."""

    cost_usd: float = 0.0
    turns: int = 0
    calls: int = 0

    @classmethod
    def of(cls, steps: Iterable[SessionInfo]) -> Spend:
        cost = 0.0
        turns = calls = 0
        for step in steps:
            calls += 1
            cost += step.cost_usd or 0.0
            turns += step.num_turns or 0
        return cls(round(cost, 10), turns, calls)

    def to_dict(self) -> dict[str, Any]:
        return {"cost_usd": self.cost_usd, "turns": self.turns, "calls": self.calls}


@dataclass(frozen=True)
class BudgetLimits:
    """Per-test limits; ``None`` means unlimited."""

    max_cost_usd: float | None = None
    max_turns: int | None = None
    max_calls: int | None = None

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], *, where: str = "claude_budget") -> BudgetLimits:
        """Validate marker arguments; raises ``ValueError`` naming the bad argument."""
        unknown = set(kwargs) - {"max_cost_usd", "max_turns", "max_calls"}
        if unknown:
            raise ValueError(f"{where}: unknown argument(s) {', '.join(sorted(unknown))}")
        cost = kwargs.get("max_cost_usd")
        if cost is not None and (
            isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0
        ):
            raise ValueError(f"{where}: max_cost_usd must be a number >= 0, got {cost!r}")
        ints: dict[str, int | None] = {}
        for name in ("max_turns", "max_calls"):
            value = kwargs.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{where}: {name} must be an integer >= 0, got {value!r}")
            ints[name] = value
        return cls(
            None if cost is None else float(cost),
            max_turns=ints["max_turns"],
            max_calls=ints["max_calls"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {"max_cost_usd": self.max_cost_usd, "max_turns": self.max_turns, "max_calls": self.max_calls}


@dataclass(frozen=True)
class BudgetVerdict:
    """The outcome of comparing a spend with limits; ``reasons`` lists each limit exceeded, with figures."""

    ok: bool
    spend: Spend
    limits: BudgetLimits
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "spent": self.spend.to_dict(),
            "limits": self.limits.to_dict(),
            "reasons": list(self.reasons),
        }


def check_budget(steps: Iterable[SessionInfo], limits: BudgetLimits) -> BudgetVerdict:
    """Compare what ``steps`` spent with ``limits``."""
    spend = Spend.of(steps)
    reasons: list[str] = []
    if limits.max_cost_usd is not None and spend.cost_usd > limits.max_cost_usd:
        reasons.append(f"cost ${spend.cost_usd:.6f} > max_cost_usd ${limits.max_cost_usd:.6f}")
    if limits.max_turns is not None and spend.turns > limits.max_turns:
        reasons.append(f"turns {spend.turns} > max_turns {limits.max_turns}")
    if limits.max_calls is not None and spend.calls > limits.max_calls:
        reasons.append(f"calls {spend.calls} > max_calls {limits.max_calls}")
    return BudgetVerdict(not reasons, spend, limits, tuple(reasons))


class SuiteBudgetGuard:
    """An executor guard: refuses a live CLI call once the run has spent ``limit_usd``.

    ``spent`` returns what the whole run has spent so far (every worker's steps, read from the shared
    store), so the limit holds across xdist workers. A call already running is never interrupted: the
    budget can be exceeded by at most the calls in flight when it ran out.
    """

    def __init__(self, limit_usd: float, spent: Callable[[], Spend]) -> None:
        self.limit_usd = limit_usd
        self._spent = spent

    def __call__(self, call: CliCall) -> None:
        spend = self._spent()
        if spend.cost_usd >= self.limit_usd:
            raise BudgetExceededError(
                f"suite budget spent: this run has spent ${spend.cost_usd:.6f} of its "
                f"${self.limit_usd:.6f} limit (--claude-budget-usd) over {spend.calls} call(s); "
                f"refusing the live call {excerpt_prompt(call.prompt)!r}"
            )


def excerpt_prompt(prompt: str, width: int = 60) -> str:
    flat = " ".join(prompt.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
