"""Assertions for test authors: session continuity and budgets. Each raises ``AssertionError`` with the
chain as a table. Names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.assertions.budget import (
        BudgetLimits as BudgetLimits,
        BudgetVerdict as BudgetVerdict,
        Spend as Spend,
        SuiteBudgetGuard as SuiteBudgetGuard,
        check_budget as check_budget,
    )
    from pytest_claude_sessions.assertions.continuity import (
        ChainLike as ChainLike,
        HasChain as HasChain,
        assert_chain_continuous as assert_chain_continuous,
        assert_forked as assert_forked,
        assert_no_shared_sessions as assert_no_shared_sessions,
        assert_resumed as assert_resumed,
        assert_within_budget as assert_within_budget,
        chain_continuity as chain_continuity,
        chain_session_ids as chain_session_ids,
        format_chain as format_chain,
        shared_sessions as shared_sessions,
    )

# submodule -> the public names it defines (what mypy sees is the block above; a test checks they agree)
_EXPORTS = {
    "budget": "BudgetLimits BudgetVerdict Spend SuiteBudgetGuard check_budget",
    "continuity": (
        "ChainLike HasChain assert_chain_continuous assert_forked assert_no_shared_sessions "
        "assert_resumed assert_within_budget chain_continuity chain_session_ids format_chain "
        "shared_sessions"
    ),
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS)
