"""Which recorded interaction answers a call: the normalized request, a table of match criteria, and diffs.

Modelled on vcrpy's ``matchers.py``: one small function per criterion, looked up by name in a
:class:`MatcherTable`, and one generic loop (:meth:`MatcherTable.differences`) that lists the criteria on
which two requests differ. ``match_on`` names entries of that table. The default table holds ``order``
(handled by the cassette: the next unused interaction), ``kind``, ``prompt``, ``output_format``, ``session``,
``options`` (every behaviour-changing flag at once) and one criterion per behaviour-changing option of the
option table (:data:`~pytest_claude_sessions.executor.options.MATCHED_OPTIONS`). :func:`register_matcher`
adds a criterion of your own (e.g. in ``conftest.py``), usable in ``match_on`` by its name.

By default a call matches the next unused interaction of its test (order) with the same kind, prompt, output
format, session linkage and behaviour-changing flags. A mismatch is reported as a unified diff of the two
requests, so a changed prompt never replays green against a stale cassette.

PYTEST_DONT_REWRITE: no assert here relies on pytest's assert rewriting (skipping it keeps imports cheap).
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from pytest_claude_sessions.errors import CassetteError
from pytest_claude_sessions.executor.options import MATCHED_OPTIONS
from pytest_claude_sessions.models import CliCall

__all__ = [
    "DEFAULT_MATCHERS",
    "DEFAULT_MATCH_ON",
    "MATCH_CRITERIA",
    "OPTION_KEYS",
    "MatchContext",
    "Matcher",
    "MatcherTable",
    "closest",
    "differences",
    "nearest",
    "normalize_match_on",
    "normalize_request",
    "register_matcher",
    "request_diff",
]

# Behaviour-changing flags the executor puts in CliCall.options (from the option table).
OPTION_KEYS: tuple[str, ...] = MATCHED_OPTIONS
DEFAULT_MATCH_ON: tuple[str, ...] = ("order", "kind", "prompt", "output_format", "session", "options")


@dataclass(frozen=True)
class MatchContext:
    """What a criterion may need beyond the two requests: ``ids`` maps session ids the test supplied at
    run time to the recorded ones (``--resume <actual>`` matches ``--resume <recorded>``)."""

    ids: Mapping[str, str] = field(default_factory=dict)


Matcher = Callable[[Mapping[str, Any], Mapping[str, Any], MatchContext], bool]
"""``matcher(recorded, actual, context) -> bool``: whether two normalized requests agree on a criterion."""


# --------------------------------------------------------------------------- the criteria


def match_order(recorded: Mapping[str, Any], actual: Mapping[str, Any], context: MatchContext) -> bool:
    """``order`` is the cassette's business (it offers only the next unused interaction): always true here."""
    return True


def match_kind(recorded: Mapping[str, Any], actual: Mapping[str, Any], context: MatchContext) -> bool:
    return all(recorded.get(k) == actual.get(k) for k in ("kind", "fork", "continue"))


def match_prompt(recorded: Mapping[str, Any], actual: Mapping[str, Any], context: MatchContext) -> bool:
    return bool(recorded.get("prompt") == actual.get("prompt"))


def match_output_format(
    recorded: Mapping[str, Any], actual: Mapping[str, Any], context: MatchContext
) -> bool:
    return bool(recorded.get("output_format") == actual.get("output_format"))


def match_session(recorded: Mapping[str, Any], actual: Mapping[str, Any], context: MatchContext) -> bool:
    resume = actual.get("resume")
    same = recorded.get("resume") == context.ids.get(resume, resume) if resume else not recorded.get("resume")
    # a --session-id the test generates differs every run: only its presence must match
    return bool(same) and (recorded.get("session_id") is None) == (actual.get("session_id") is None)


def match_options(recorded: Mapping[str, Any], actual: Mapping[str, Any], context: MatchContext) -> bool:
    return bool((recorded.get("options") or {}) == (actual.get("options") or {}))


def option_matcher(name: str) -> Matcher:
    """The criterion comparing one behaviour-changing option."""

    def match(recorded: Mapping[str, Any], actual: Mapping[str, Any], context: MatchContext) -> bool:
        return bool((recorded.get("options") or {}).get(name) == (actual.get("options") or {}).get(name))

    match.__name__ = f"match_{name}"
    return match


_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


class MatcherTable:
    """Named match criteria; ``match_on`` names entries of a table. Thread-safe."""

    def __init__(self, matchers: Mapping[str, Matcher]) -> None:
        self._matchers: dict[str, Matcher] = dict(matchers)
        self._lock = threading.Lock()

    def __contains__(self, name: object) -> bool:
        return name in self._matchers

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._matchers))

    @property
    def names(self) -> tuple[str, ...]:
        """The criteria, in registration order."""
        return tuple(self._matchers)

    def copy(self) -> MatcherTable:
        return MatcherTable(self._matchers)

    def register(self, name: str, matcher: Matcher, *, replace: bool = False) -> None:
        """Add criterion ``name`` (lowercase letters, digits, ``_``); ``replace`` to override one."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"a match criterion name must be lowercase letters, digits and _, got {name!r}")
        if not callable(matcher):
            raise TypeError(f"matcher for {name!r} must be callable, got {type(matcher).__name__}")
        with self._lock:
            if name in self._matchers and not replace:
                raise ValueError(f"match criterion {name!r} is already registered (pass replace=True)")
            self._matchers[name] = matcher

    def normalize(self, value: str | Iterable[str] | None) -> tuple[str, ...]:
        """``match_on`` as a tuple of known criteria (comma-separated text or a sequence); ``None`` → default.

        Raises ``ValueError`` naming an unknown criterion and the valid ones.
        """
        if value is None:
            return DEFAULT_MATCH_ON
        items = (
            [v.strip() for v in value.split(",")]
            if isinstance(value, str)
            else [str(v).strip() for v in value]
        )
        items = [v for v in items if v]
        unknown = [v for v in items if v not in self._matchers]
        if unknown:
            raise ValueError(f"unknown match_on criteria {unknown}; valid: {', '.join(self._matchers)}")
        return tuple(dict.fromkeys(items))

    def differences(
        self,
        recorded: Mapping[str, Any],
        actual: Mapping[str, Any],
        match_on: Iterable[str],
        *,
        ids: Mapping[str, str] | None = None,
    ) -> list[str]:
        """The criteria of ``match_on`` on which ``actual`` differs from ``recorded`` (the generic loop)."""
        __tracebackhide__ = True
        context = MatchContext(ids or {})
        out: list[str] = []
        for name in match_on:
            try:
                same = self._matchers[name](recorded, actual, context)
            except Exception as exc:  # a user's criterion: name it, not our loop
                raise CassetteError(f"match criterion {name!r} raised {type(exc).__name__}: {exc}") from exc
            if not same:
                out.append(name)
        return out


DEFAULT_MATCHERS = MatcherTable(
    {
        "order": match_order,
        "kind": match_kind,
        "prompt": match_prompt,
        "output_format": match_output_format,
        "session": match_session,
        "options": match_options,
        **{name: option_matcher(name) for name in OPTION_KEYS},
    }
)
"""The process-wide table every cassette uses unless given its own (``CassetteInterceptor(matchers=)``)."""

MATCH_CRITERIA: tuple[str, ...] = DEFAULT_MATCHERS.names  # the built-in criteria


def register_matcher(name: str, matcher: Matcher, *, replace: bool = False) -> None:
    """Make ``name`` a ``match_on`` criterion of every cassette: ``matcher(recorded, actual, context)``
    gets the two normalized requests (see :func:`normalize_request`) and a :class:`MatchContext`, and
    returns whether they agree. Register in ``conftest.py`` (each xdist worker imports it)::

        def same_words(recorded, actual, context):
            return set(recorded["prompt"].split()) == set(actual["prompt"].split())

        register_matcher("prompt_words", same_words)
        # @pytest.mark.claude_cassette(match_on="order,kind,prompt_words,session,options")
    """
    DEFAULT_MATCHERS.register(name, matcher, replace=replace)


def normalize_match_on(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """:meth:`MatcherTable.normalize` of the default table."""
    return DEFAULT_MATCHERS.normalize(value)


def differences(
    recorded: Mapping[str, Any],
    actual: Mapping[str, Any],
    match_on: Iterable[str],
    *,
    ids: Mapping[str, str] | None = None,
) -> list[str]:
    """:meth:`MatcherTable.differences` of the default table."""
    return DEFAULT_MATCHERS.differences(recorded, actual, match_on, ids=ids)


def normalize_request(call: CliCall) -> dict[str, Any]:
    """The JSON-safe request a cassette stores for ``call`` (before scrubbing); unset options are dropped."""
    options = {key: _jsonable(value) for key, value in sorted(call.options.items()) if not _unset(value)}
    return {
        "kind": call.kind,
        "prompt": call.prompt,
        "output_format": call.output_format,
        "resume": call.resume,
        "session_id": call.session_id,
        "fork": call.fork,
        "continue": call.continue_,
        "options": options,
    }


def closest(diffs: Iterable[tuple[int, list[str]]]) -> tuple[int, list[str]]:
    """Of ``(interaction index, differing criteria)`` pairs, the one differing on the fewest criteria (the
    earliest on a tie): the interaction a mismatch is shown against."""
    return min(diffs, key=lambda item: (len(item[1]), item[0]))


def nearest(
    recorded: Iterable[Mapping[str, Any]],
    actual: Mapping[str, Any],
    match_on: Iterable[str],
    *,
    table: MatcherTable | None = None,
    ids: Mapping[str, str] | None = None,
) -> tuple[int, list[str]] | None:
    """The recorded request (index, differing criteria) nearest to ``actual`` among all of ``recorded``
    (no criteria: it matches); ``None`` when nothing is recorded. ``order`` is left to the caller."""
    criteria = [name for name in match_on if name != "order"]
    matchers = table or DEFAULT_MATCHERS
    diffs = [(i, matchers.differences(r, actual, criteria, ids=ids)) for i, r in enumerate(recorded)]
    return closest(diffs) if diffs else None


def request_diff(recorded: Mapping[str, Any], actual: Mapping[str, Any], *, recorded_label: str) -> str:
    """A unified diff of two requests, one key per line, for failure messages."""
    before = json.dumps(recorded, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    after = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    lines = difflib.unified_diff(
        before, after, fromfile=recorded_label, tofile="actual call", lineterm="", n=2
    )
    return "\n".join(lines)


def _unset(value: object) -> bool:
    return value is None or value == () or value == [] or value == ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
