"""Cassette record modes: the names and their parsing, with nothing else imported.

The pytest wiring registers options and validates values at start-up from here, so a suite that never
touches Claude does not import the record/replay machinery (:mod:`.cassettes` re-exports these names).

PYTEST_DONT_REWRITE: no assert here relies on pytest's assert rewriting.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["RECORD_MODES", "RecordMode", "parse_record_mode"]

RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite"]
RECORD_MODES: tuple[str, ...] = get_args(RecordMode)


def parse_record_mode(value: object, *, where: str = "record mode") -> RecordMode:
    """``value`` as a :data:`RecordMode`; raises ``ValueError`` naming ``where`` and the valid modes."""
    text = str(value).strip().lower().replace("-", "_") if value is not None else ""
    for mode in get_args(RecordMode):
        if text == mode:
            return mode  # type: ignore[no-any-return]
    raise ValueError(f"invalid {where} {value!r}; use one of: {', '.join(RECORD_MODES)}")
