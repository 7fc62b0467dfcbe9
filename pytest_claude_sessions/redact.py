"""Secret redaction: every prompt, response and metadata value passes through a :class:`Redactor` before it
is written anywhere (store, reports, cassettes).

Default rules catch Anthropic and OpenAI keys, bearer tokens, AWS access key ids and ``x-api-key`` headers;
add your own regexes and/or a callable. A match becomes a marker such as ``[REDACTED:anthropic-key]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_RULES", "SENSITIVE_KEYS", "RedactionRule", "Redactor", "marker"]


def marker(name: str) -> str:
    """The text that replaces a secret found by the rule ``name``."""
    return f"[REDACTED:{name}]"


@dataclass(frozen=True)
class RedactionRule:
    """One pattern. ``group`` is the part replaced by the marker (0 = the whole match), so a rule can keep a
    prefix such as ``Bearer `` or ``x-api-key: `` readable."""

    name: str
    pattern: re.Pattern[str]
    group: int = 0

    def apply(self, text: str) -> str:
        """``text`` with every match of this rule replaced by its marker."""
        if self.group == 0:
            return self.pattern.sub(marker(self.name), text)
        mark = marker(self.name)

        def repl(m: re.Match[str]) -> str:
            start, end = m.span(self.group)
            if start < 0:  # the group did not take part in this match
                return m.group(0)
            base = m.start(0)
            whole = m.group(0)
            return whole[: start - base] + mark + whole[end - base :]

        return self.pattern.sub(repl, text)


# Order matters: the Anthropic rule runs before the generic ``sk-`` (OpenAI) rule.
DEFAULT_RULES: tuple[RedactionRule, ...] = (
    RedactionRule("anthropic-key", re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}")),
    RedactionRule("openai-key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}")),
    RedactionRule(
        "bearer-token",
        re.compile(r"(?i)\b(?:bearer)\s+([A-Za-z0-9\-._~+/]{8,}=*)"),
        group=1,
    ),
    RedactionRule("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    RedactionRule(
        "api-key",
        re.compile(r"""(?i)\bx-api-key["']?\s*[:=]\s*["']?([^\s"',;}]{4,})"""),
        group=1,
    ),
)

# Mapping keys whose whole value is a secret, whatever it looks like (compared case-insensitively).
SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "api_key",
        "apikey",
        "anthropic_api_key",
        "anthropic_auth_token",
        "openai_api_key",
        "aws_secret_access_key",
        "aws_session_token",
        "password",
        "client_secret",
        "access_token",
        "refresh_token",
    }
)

PatternSpec = str | re.Pattern[str] | tuple[str, str | re.Pattern[str]] | RedactionRule


class Redactor:
    """Replaces secrets in text and in nested JSON-like objects.

    ``patterns``: extra rules, each a regex (string or compiled; marker ``[REDACTED:custom]``), a
    ``(name, regex)`` pair or a :class:`RedactionRule`. ``callback``: a function run on every string after the
    rules (return the redacted string). ``defaults=False`` drops the built-in rules; ``sensitive_keys``
    replaces the set of mapping keys whose values are always masked by :meth:`redact_obj`.
    """

    def __init__(
        self,
        patterns: Iterable[PatternSpec] = (),
        *,
        callback: Callable[[str], str] | None = None,
        defaults: bool = True,
        sensitive_keys: Iterable[str] | None = None,
    ) -> None:
        rules: list[RedactionRule] = list(DEFAULT_RULES) if defaults else []
        for spec in patterns:
            rules.append(_to_rule(spec))
        self.rules: tuple[RedactionRule, ...] = tuple(rules)
        self.callback = callback
        keys = SENSITIVE_KEYS if sensitive_keys is None else sensitive_keys
        self.sensitive_keys: frozenset[str] = frozenset(k.lower() for k in keys)

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self.rules)
        return f"Redactor(rules=[{names}], callback={self.callback!r})"

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by its marker."""
        if not isinstance(text, str):
            raise TypeError(f"Redactor.redact() takes a str, got {type(text).__name__}")
        for rule in self.rules:
            text = rule.apply(text)
        if self.callback is not None:
            out = self.callback(text)
            if not isinstance(out, str):
                raise TypeError(f"the redaction callback {self.callback!r} returned {type(out).__name__}")
            text = out
        return text

    def redact_obj(self, obj: Any) -> Any:
        """A redacted copy of a JSON-like value: strings redacted, dicts/lists/tuples walked, values under a
        sensitive key (``authorization``, ``x-api-key``, ...) masked whole. Other values come back as-is."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, Mapping):
            out: dict[Any, Any] = {}
            for key, value in obj.items():
                if isinstance(key, str) and key.lower() in self.sensitive_keys and value not in (None, ""):
                    out[key] = marker(key.lower())
                else:
                    out[key] = self.redact_obj(value)
            return out
        if isinstance(obj, list):
            return [self.redact_obj(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.redact_obj(v) for v in obj)
        return obj


def _to_rule(spec: PatternSpec) -> RedactionRule:
    if isinstance(spec, RedactionRule):
        return spec
    if isinstance(spec, tuple):
        name, pattern = spec
        return RedactionRule(str(name), _compile(pattern))
    return RedactionRule("custom", _compile(spec))


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid redaction pattern {pattern!r}: {exc}") from exc
