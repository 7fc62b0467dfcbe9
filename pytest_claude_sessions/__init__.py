"""pytest-claude-sessions: session chains, continuity checks and record/replay for Claude Code projects.

The root holds what a test author imports: the fixture types, the assertions, the executor and its result,
the store's tracker/manager/monitor, the transcript validator, the stub and its replies, ``use_cassette``,
the root error and the errors worth catching. Everything else is importable from its subpackage
(``pytest_claude_sessions.store``, ``.transcripts``, ``.executor``, ``.cassettes``, ``.stub``,
``.assertions``) or from the top-level modules (``errors``, ``models``, ``redact``, ``ids``).

Names are imported on first use (PEP 562): the pytest entry point imports this package on every pytest run,
and a suite that never touches Claude should not pay for loading the executor, the stub and the cassettes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports
from pytest_claude_sessions.version import __version__ as __version__

if TYPE_CHECKING:
    from pytest_claude_sessions.assertions.continuity import (
        assert_chain_continuous as assert_chain_continuous,
        assert_forked as assert_forked,
        assert_no_shared_sessions as assert_no_shared_sessions,
        assert_resumed as assert_resumed,
        assert_within_budget as assert_within_budget,
        chain_continuity as chain_continuity,
    )
    from pytest_claude_sessions.cassettes.recorder import (
        CassetteInterceptor as CassetteInterceptor,
        use_cassette as use_cassette,
    )
    from pytest_claude_sessions.errors import (
        BudgetExceededError as BudgetExceededError,
        CassetteError as CassetteError,
        CassetteMissError as CassetteMissError,
        ClaudeNotFoundError as ClaudeNotFoundError,
        ClaudeProcessError as ClaudeProcessError,
        ClaudeResultError as ClaudeResultError,
        ClaudeSessionsError as ClaudeSessionsError,
        ClaudeTimeoutError as ClaudeTimeoutError,
        InvalidSessionIdError as InvalidSessionIdError,
        SessionNotFoundError as SessionNotFoundError,
        StoreError as StoreError,
    )
    from pytest_claude_sessions.executor.executor import (
        ClaudeExecutor as ClaudeExecutor,
    )
    from pytest_claude_sessions.executor.options import (
        CallOptions as CallOptions,
    )
    from pytest_claude_sessions.models import (
        ClaudeResult as ClaudeResult,
        SessionInfo as SessionInfo,
        StepKind as StepKind,
    )
    from pytest_claude_sessions.redact import (
        Redactor as Redactor,
    )
    from pytest_claude_sessions.store.manager import (
        SessionManager as SessionManager,
    )
    from pytest_claude_sessions.store.monitor import (
        SessionMonitor as SessionMonitor,
    )
    from pytest_claude_sessions.store.runs import (
        SessionHistory as SessionHistory,
    )
    from pytest_claude_sessions.store.tracker import (
        SessionTracker as SessionTracker,
    )
    from pytest_claude_sessions.stub.conversation import (
        Conversation as Conversation,
    )
    from pytest_claude_sessions.stub.replies import (
        Delay as Delay,
        DropStream as DropStream,
        HttpError as HttpError,
        Reply as Reply,
        SseError as SseError,
        Stall as Stall,
        Text as Text,
        ToolUse as ToolUse,
    )
    from pytest_claude_sessions.stub.server import (
        MessagesStub as MessagesStub,
    )
    from pytest_claude_sessions.transcripts.continuity import (
        ContinuityVerdict as ContinuityVerdict,
    )
    from pytest_claude_sessions.transcripts.validator import (
        SessionValidator as SessionValidator,
    )

# submodule -> the public names it defines (what mypy sees is the block above; a test checks they agree)
_EXPORTS = {
    "assertions.continuity": (
        "assert_chain_continuous assert_forked assert_no_shared_sessions assert_resumed "
        "assert_within_budget chain_continuity"
    ),
    "cassettes.recorder": "CassetteInterceptor use_cassette",
    "errors": (
        "BudgetExceededError CassetteError CassetteMissError ClaudeNotFoundError "
        "ClaudeProcessError ClaudeResultError ClaudeSessionsError ClaudeTimeoutError "
        "InvalidSessionIdError SessionNotFoundError StoreError"
    ),
    "executor.executor": "ClaudeExecutor",
    "executor.options": "CallOptions",
    "models": "ClaudeResult SessionInfo StepKind",
    "redact": "Redactor",
    "store.manager": "SessionManager",
    "store.monitor": "SessionMonitor",
    "store.runs": "SessionHistory",
    "store.tracker": "SessionTracker",
    "stub.conversation": "Conversation",
    "stub.replies": "Delay DropStream HttpError Reply SseError Stall Text ToolUse",
    "stub.server": "MessagesStub",
    "transcripts.continuity": "ContinuityVerdict",
    "transcripts.validator": "SessionValidator",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS, also=["__version__"])
