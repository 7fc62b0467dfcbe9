"""Record and replay: modes, cassette files, the matching table, scrubbing, the recorder shared by the
executor and the interposed claude. Names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.cassettes.files import (
        default_cassette_path,
        find_unused_cassettes,
        prune_cassettes,
    )
    from pytest_claude_sessions.cassettes.matching import (
        MatchContext,
        Matcher,
        MatcherTable,
        register_matcher,
    )
    from pytest_claude_sessions.cassettes.modes import (
        RECORD_MODES,
        RecordMode,
    )
    from pytest_claude_sessions.cassettes.recorder import (
        CassetteInterceptor,
        CassetteReport,
        use_cassette,
    )
    from pytest_claude_sessions.cassettes.scrub import (
        CassetteScrubber,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "files": (
        "default_cassette_path",
        "find_unused_cassettes",
        "prune_cassettes",
    ),
    "matching": (
        "MatchContext",
        "Matcher",
        "MatcherTable",
        "register_matcher",
    ),
    "modes": (
        "RECORD_MODES",
        "RecordMode",
    ),
    "scrub": ("CassetteScrubber",),
    "recorder": (
        "CassetteInterceptor",
        "CassetteReport",
        "use_cassette",
    ),
}

__all__ = [
    "RECORD_MODES",
    "CassetteInterceptor",
    "CassetteReport",
    "CassetteScrubber",
    "MatchContext",
    "Matcher",
    "MatcherTable",
    "RecordMode",
    "default_cassette_path",
    "find_unused_cassettes",
    "prune_cassettes",
    "register_matcher",
    "use_cassette",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
