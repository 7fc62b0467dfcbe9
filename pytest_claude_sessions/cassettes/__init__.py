"""Record and replay: modes, cassette files, the matching table, scrubbing, the recorder shared by the
executor and the interposed claude. Names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_claude_sessions.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_claude_sessions.cassettes.files import (
        default_cassette_path as default_cassette_path,
        find_unused_cassettes as find_unused_cassettes,
        prune_cassettes as prune_cassettes,
    )
    from pytest_claude_sessions.cassettes.matching import (
        MatchContext as MatchContext,
        Matcher as Matcher,
        MatcherTable as MatcherTable,
        register_matcher as register_matcher,
    )
    from pytest_claude_sessions.cassettes.modes import (
        RECORD_MODES as RECORD_MODES,
        RecordMode as RecordMode,
    )
    from pytest_claude_sessions.cassettes.recorder import (
        CassetteInterceptor as CassetteInterceptor,
        CassetteReport as CassetteReport,
        use_cassette as use_cassette,
    )
    from pytest_claude_sessions.cassettes.scrub import (
        CassetteScrubber as CassetteScrubber,
    )

# submodule -> the public names it defines (what mypy sees is the block above; a test checks they agree)
_EXPORTS = {
    "files": "default_cassette_path find_unused_cassettes prune_cassettes",
    "matching": "MatchContext Matcher MatcherTable register_matcher",
    "modes": "RECORD_MODES RecordMode",
    "recorder": "CassetteInterceptor CassetteReport use_cassette",
    "scrub": "CassetteScrubber",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS)
