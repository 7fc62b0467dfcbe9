"""Assertions for test authors: session continuity and budgets. Each raises ``AssertionError`` with the
chain as a table. Names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.assertions.budget import (
        BudgetLimits,
        BudgetVerdict,
        Spend,
        SuiteBudgetGuard,
        check_budget,
    )
    from pytest_claude_sessions.assertions.continuity import (
        ChainLike,
        HasChain,
        assert_chain_continuous,
        assert_forked,
        assert_no_shared_sessions,
        assert_resumed,
        assert_within_budget,
        chain_continuity,
        chain_session_ids,
        format_chain,
        shared_sessions,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "budget": (
        "BudgetLimits",
        "BudgetVerdict",
        "Spend",
        "SuiteBudgetGuard",
        "check_budget",
    ),
    "continuity": (
        "ChainLike",
        "HasChain",
        "assert_chain_continuous",
        "assert_forked",
        "assert_no_shared_sessions",
        "assert_resumed",
        "assert_within_budget",
        "chain_continuity",
        "chain_session_ids",
        "format_chain",
        "shared_sessions",
    ),
}

__all__ = [
    "BudgetLimits",
    "BudgetVerdict",
    "ChainLike",
    "HasChain",
    "Spend",
    "SuiteBudgetGuard",
    "assert_chain_continuous",
    "assert_forked",
    "assert_no_shared_sessions",
    "assert_resumed",
    "assert_within_budget",
    "chain_continuity",
    "chain_session_ids",
    "check_budget",
    "format_chain",
    "shared_sessions",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
