"""The CLI's transcripts: locating and scanning them, continuity verdicts, SessionValidator.

Layers inside: :mod:`.locate` (where files are) and :mod:`.scan` (one streaming pass) at the bottom,
:mod:`.info` (figures) and :mod:`.continuity` (the judge) on them, :mod:`.validator` binding them to a config
dir, :mod:`.chain` (a recorded chain of steps) on top. Names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.transcripts.chain import (
        ChainContinuity as ChainContinuity,
        chain_continuity as chain_continuity,
        check_chain_continuity as check_chain_continuity,
        recorded_config_dir as recorded_config_dir,
        recorded_leaf as recorded_leaf,
    )
    from pytest_claude_sessions.transcripts.continuity import (
        ContinuityJudge as ContinuityJudge,
        ContinuityVerdict as ContinuityVerdict,
        Strength as Strength,
    )
    from pytest_claude_sessions.transcripts.info import (
        InfoCollector as InfoCollector,
    )
    from pytest_claude_sessions.transcripts.locate import (
        default_config_dir as default_config_dir,
        locate_transcript as locate_transcript,
    )
    from pytest_claude_sessions.transcripts.scan import (
        CHAIN_NODE_TYPES as CHAIN_NODE_TYPES,
        ChainIndex as ChainIndex,
        Scan as Scan,
        iter_transcript_records as iter_transcript_records,
        leaf_uuid as leaf_uuid,
        scan_transcript as scan_transcript,
    )
    from pytest_claude_sessions.transcripts.validator import (
        SessionValidator as SessionValidator,
    )

# submodule -> the public names it defines (what mypy sees is the block above; a test checks they agree)
_EXPORTS = {
    "chain": "ChainContinuity chain_continuity check_chain_continuity recorded_config_dir recorded_leaf",
    "continuity": "ContinuityJudge ContinuityVerdict Strength",
    "info": "InfoCollector",
    "locate": "default_config_dir locate_transcript",
    "scan": "CHAIN_NODE_TYPES ChainIndex Scan iter_transcript_records leaf_uuid scan_transcript",
    "validator": "SessionValidator",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS)
