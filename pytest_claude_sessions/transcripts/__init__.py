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
        ChainContinuity,
        chain_continuity,
        check_chain_continuity,
        recorded_config_dir,
        recorded_leaf,
    )
    from pytest_claude_sessions.transcripts.continuity import ContinuityJudge, ContinuityVerdict, Strength
    from pytest_claude_sessions.transcripts.info import InfoCollector
    from pytest_claude_sessions.transcripts.locate import default_config_dir, locate_transcript
    from pytest_claude_sessions.transcripts.scan import (
        CHAIN_NODE_TYPES,
        ChainIndex,
        Scan,
        iter_transcript_records,
        leaf_uuid,
        scan_transcript,
    )
    from pytest_claude_sessions.transcripts.validator import SessionValidator

_EXPORTS: dict[str, tuple[str, ...]] = {
    "chain": (
        "ChainContinuity",
        "chain_continuity",
        "check_chain_continuity",
        "recorded_config_dir",
        "recorded_leaf",
    ),
    "continuity": ("ContinuityJudge", "ContinuityVerdict", "Strength"),
    "info": ("InfoCollector",),
    "locate": ("default_config_dir", "locate_transcript"),
    "scan": (
        "CHAIN_NODE_TYPES",
        "ChainIndex",
        "Scan",
        "iter_transcript_records",
        "leaf_uuid",
        "scan_transcript",
    ),
    "validator": ("SessionValidator",),
}

__all__ = [
    "CHAIN_NODE_TYPES",
    "ChainContinuity",
    "ChainIndex",
    "ContinuityJudge",
    "ContinuityVerdict",
    "InfoCollector",
    "Scan",
    "SessionValidator",
    "Strength",
    "chain_continuity",
    "check_chain_continuity",
    "default_config_dir",
    "iter_transcript_records",
    "leaf_uuid",
    "locate_transcript",
    "recorded_config_dir",
    "recorded_leaf",
    "scan_transcript",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
