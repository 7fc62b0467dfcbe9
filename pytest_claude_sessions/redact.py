"""Secret redaction, in one place: every string that leaves the process (store records, cassettes, error
messages, report sections, the summary, junit properties, the JSON report) goes through a :class:`Redactor`.

A redactor knows three kinds of secret:

- the built-in patterns (:data:`DEFAULT_RULES`): Anthropic and OpenAI keys, ``Bearer`` tokens, AWS access key
  ids and secret access keys, ``x-api-key`` headers, ``password=``/``token=``/``secret=``/``api_key=``
  assignments, and the credentials of URLs (``scheme://user:pass@host``);
- the literal values of the key variables in the environment (:func:`env_secrets`: ``ANTHROPIC_API_KEY``,
  ``AWS_SECRET_ACCESS_KEY``, any ``*_API_KEY``/``*_TOKEN``/``*_SECRET``... of 8 characters or more),
  whatever they look like;
- the user's patterns (regexes, named rules) and an optional callback.

A match becomes a marker such as ``[REDACTED:anthropic-key]``. :meth:`Redactor.redact_obj` walks JSON-like
data and redacts mapping keys as well as values. ``Redactor()`` is the one constructor everyone uses; it
reads the environment when it is made (:meth:`Redactor.with_env` adds the variables of a child's env).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

__all__ = [
    "DEFAULT_RULES",
    "MIN_ENV_SECRET",
    "MIN_NAMED_ENV_SECRET",
    "SECRET_ENV_SUFFIXES",
    "SECRET_ENV_VARS",
    "SENSITIVE_KEYS",
    "PatternSpec",
    "RedactionRule",
    "Redactor",
    "env_secrets",
    "marker",
]


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


# A value a rule replaces never starts a marker: redacting twice gives the same text.
_VALUE: Final = r"(?!\[REDACTED:)"
# Base64-ish, exactly 40 characters, mixed case with a digit or / or +: an AWS secret access key (a git
# SHA, lower-case hex, is not one).
_B64: Final = "[A-Za-z0-9/+]"
_AWS_SECRET: Final = (
    rf"(?<![A-Za-z0-9/+])((?={_B64}{{0,39}}[a-z])(?={_B64}{{0,39}}[A-Z])(?={_B64}{{0,39}}[0-9/+]){_B64}{{40}})"
    r"(?![A-Za-z0-9/+=])"
)
# Names whose assigned value is a secret: ``password=…``, ``"client_secret": "…"``, ``GITHUB_TOKEN=…``
# (any prefix: the name's end decides; ``max_tokens`` is not one).
_ASSIGNED_NAMES: Final = (
    r"(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key)"
)

# An unquoted value: up to a space, quote, separator or backslash (never into JSON syntax).
_BARE_VALUE: Final = r"""([^\s"',;&}<>\\]{4,})"""


# Order matters: the Anthropic rule runs before the generic ``sk-`` (OpenAI) rule, the specific rules
# before the generic assignment (which then sees a marker and leaves it).
@functools.cache
def _default_rules() -> tuple[RedactionRule, ...]:
    # compiled on first use: the plugin imports this module at start-up, most runs never redact then
    return (
        RedactionRule("anthropic-key", re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}")),
        RedactionRule("openai-key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}")),
        RedactionRule(
            "url-credentials",
            # userinfo up to the authority's last "@" (a password may hold one); a long user alone is a token
            re.compile(
                # the scheme starts at a boundary and is short: otherwise every position of a long
                # unbroken run starts a scan to its end (quadratic on a 2 MB blob)
                r"(?i)(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{0,31}://"
                + _VALUE
                + r"([^\s/?#\"'<>\\]*:[^\s/?#\"'<>\\]*|[^\s/?#:\"'<>\\]{20,})@"
            ),
            group=1,
        ),
        RedactionRule(
            "bearer-token",
            re.compile(r"(?i)bearer\s+" + _VALUE + r"([A-Za-z0-9\-._~+/]{8,}=*)"),
            group=1,
        ),
        RedactionRule("aws-access-key", re.compile(r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}")),
        RedactionRule(
            "aws-secret-key",
            # the value of an AWS secret variable or key, or a 40-character key soon after the word "secret"
            re.compile(r"(?i:secret)[^\n]{0,40}?" + _AWS_SECRET),
            group=1,
        ),
        RedactionRule(
            "api-key",
            re.compile(r"""(?i)x-api-key["']?\s*[:=]\s*["']?""" + _VALUE + r"""([^\s"',;}\\]{4,})"""),
            group=1,
        ),
        # a quoted value is taken whole, escapes included (the text may be JSON: it must stay valid)
        RedactionRule(
            "secret-assignment",
            re.compile(
                r"""(?i)""" + _ASSIGNED_NAMES + r"""["']?\s*[:=]\s*"(""" + _VALUE + r"""(?:[^"\\\n]|\\.)+)"""
            ),
            group=1,
        ),
        RedactionRule(
            "secret-assignment",
            re.compile(
                r"""(?i)""" + _ASSIGNED_NAMES + r"""["']?\s*[:=]\s*'(""" + _VALUE + r"""(?:[^'\\\n]|\\.)+)'"""
            ),
            group=1,
        ),
        RedactionRule(
            "secret-assignment",
            re.compile(r"(?i)" + _ASSIGNED_NAMES + r"""["']?\s*[:=]\s*""" + _VALUE + _BARE_VALUE),
            group=1,
        ),
    )


if TYPE_CHECKING:
    DEFAULT_RULES: tuple[RedactionRule, ...]


def __getattr__(name: str) -> Any:
    if name == "DEFAULT_RULES":  # the built-in rules, in the order they run
        return _default_rules()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Mapping keys whose whole value is a secret, whatever it looks like (compared case-insensitively).
SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "api_key",
        "apikey",
        "anthropic_api_key",
        "anthropic_auth_token",
        "claude_code_oauth_token",
        "openai_api_key",
        "aws_secret_access_key",
        "aws_session_token",
        "password",
        "secret",
        "client_secret",
        "access_token",
        "refresh_token",
    }
)

#: Environment variables whose values are secrets whatever they look like: replaced literally.
SECRET_ENV_VARS: Final = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
#: Any other variable whose name ends so holds a secret too (``GITHUB_TOKEN``, ``OPENAI_API_KEY``, ...).
SECRET_ENV_SUFFIXES: Final = ("_API_KEY", "_TOKEN", "_SECRET", "_SECRET_KEY", "_ACCESS_KEY", "_PASSWORD")
#: Shorter values are not replaced literally: they would mangle ordinary text ("true", "1234"). The named
#: variables are known secrets, so a shorter value of theirs still counts (a test key such as "k3y-Val").
MIN_ENV_SECRET: Final = 8
MIN_NAMED_ENV_SECRET: Final = 6


def env_secrets(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The values of the key variables in ``env`` (default: ``os.environ``): every :data:`SECRET_ENV_VARS`
    value of 6 characters or more, every other ``*_API_KEY``/``*_TOKEN``/``*_SECRET``/... value of 8 or
    more; longest first (so a secret that contains another is replaced whole)."""
    source = os.environ if env is None else env
    found = set()
    for name, value in source.items():
        if not isinstance(value, str):
            continue
        upper = name.upper()
        if upper in SECRET_ENV_VARS:
            if len(value) >= MIN_NAMED_ENV_SECRET:
                found.add(value)
        elif upper.endswith(SECRET_ENV_SUFFIXES) and len(value) >= MIN_ENV_SECRET:
            found.add(value)
    return _longest_first(found)


PatternSpec = str | re.Pattern[str] | tuple[str, str | re.Pattern[str]] | RedactionRule


class Redactor:
    """Replaces secrets in text and in nested JSON-like objects (keys and values).

    ``patterns``: extra rules, each a regex (string or compiled; marker ``[REDACTED:custom]``), a
    ``(name, regex)`` pair or a :class:`RedactionRule`. ``callback``: a function run on every string after the
    rules (return the redacted string). ``defaults=False`` drops the built-in rules; ``sensitive_keys``
    replaces the set of mapping keys whose values are always masked by :meth:`redact_obj`. ``env``: where the
    key variables' literal values are read (default: ``os.environ`` now; ``{}`` for none); ``secrets``: more
    literal values to mask.
    """

    def __init__(
        self,
        patterns: Iterable[PatternSpec] = (),
        *,
        callback: Callable[[str], str] | None = None,
        defaults: bool = True,
        sensitive_keys: Iterable[str] | None = None,
        env: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        rules: list[RedactionRule] = list(_default_rules()) if defaults else []
        for spec in patterns:
            rules.append(_to_rule(spec))
        self.rules: tuple[RedactionRule, ...] = tuple(rules)
        self.callback = callback
        keys = SENSITIVE_KEYS if sensitive_keys is None else sensitive_keys
        self.sensitive_keys: frozenset[str] = frozenset(k.lower() for k in keys)
        literal = {s for s in secrets if isinstance(s, str) and s} | set(env_secrets(env))
        self.secrets: tuple[str, ...] = _longest_first(literal)
        self._literal_re = _literal_pattern(self.secrets)

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self.rules)
        # never the secrets themselves: a repr ends up in tracebacks
        return f"Redactor(rules=[{names}], secrets={len(self.secrets)}, callback={self.callback!r})"

    def with_patterns(self, patterns: Iterable[PatternSpec]) -> Redactor:
        """A copy with ``patterns`` added after this redactor's rules."""
        return self._copy(rules=(*self.rules, *(_to_rule(p) for p in patterns)))

    def with_env(self, env: Mapping[str, str]) -> Redactor:
        """A copy that also masks the key variables' values in ``env`` (a child process's environment)."""
        extra = env_secrets(env)
        if set(extra) <= set(self.secrets):
            return self
        return self._copy(secrets=(*self.secrets, *extra))

    def _copy(
        self, *, rules: tuple[RedactionRule, ...] | None = None, secrets: tuple[str, ...] | None = None
    ) -> Redactor:
        new = Redactor(
            (),
            callback=self.callback,
            defaults=False,
            sensitive_keys=self.sensitive_keys,
            env={},
            secrets=self.secrets if secrets is None else secrets,
        )
        new.rules = self.rules if rules is None else rules
        return new

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by its marker."""
        if not isinstance(text, str):
            raise TypeError(f"Redactor.redact() takes a str, got {type(text).__name__}")
        if self._literal_re is not None:
            text = self._literal_re.sub(marker("secret-env"), text)
        for rule in self.rules:
            text = rule.apply(text)
        if self.callback is not None:
            out = self.callback(text)
            if not isinstance(out, str):
                raise TypeError(f"the redaction callback {self.callback!r} returned {type(out).__name__}")
            text = out
        return text

    def redact_id(self, value: str) -> str:
        """An identifier (agent id, node id) safe to show and to name files by: unchanged when it holds no
        secret, else redacted plus ``~`` and 12 hex digits of the original's sha256, so two ids that differ
        only in their secrets stay two ids. Idempotent."""
        clean = self.redact(value)
        if clean == value:
            return value
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        return f"{clean}~{digest}"

    def redact_obj(self, obj: Any) -> Any:
        """A redacted copy of a JSON-like value: strings redacted, mapping keys too, dicts/lists/tuples
        walked (without recursion: any depth), values under a sensitive key (``authorization``,
        ``x-api-key``, ...) masked whole. Other values come back as they are.

        Two keys that redact to the same text are both kept: the later one gets a ``#2``, ``#3``... suffix.
        """
        if isinstance(obj, str):
            return self.redact(obj)
        if not isinstance(obj, Mapping | list | tuple):
            return obj
        root: list[Any] = [None]
        tuples: list[tuple[Any, Any]] = []  # (container, slot) holding a list that must become a tuple
        stack: list[tuple[Any, Any, Any]] = [(obj, root, 0)]  # (source, target container, slot)
        while stack:
            source, parent, slot = stack.pop()
            if isinstance(source, Mapping):
                out: dict[Any, Any] = {}
                parent[slot] = out
                for key, value in source.items():
                    new_key = self._new_key(key, out)
                    if (
                        isinstance(key, str)
                        and key.lower() in self.sensitive_keys
                        and value not in (None, "")
                    ):
                        # the marker names the key, unless the key itself was a secret
                        out[new_key] = marker(key.lower() if new_key == key else "sensitive")
                    else:
                        self._place(value, out, new_key, stack)
            else:
                items: list[Any] = [None] * len(source)
                parent[slot] = items
                if isinstance(source, tuple):
                    tuples.append((parent, slot))
                for index, value in enumerate(source):
                    self._place(value, items, index, stack)
        for container, slot in reversed(tuples):  # innermost first: a tuple holds finished tuples
            container[slot] = tuple(container[slot])
        return root[0]

    def _new_key(self, key: Any, taken: Mapping[Any, Any]) -> Any:
        if not isinstance(key, str):
            return key
        new = self.redact(key)
        if new not in taken:
            return new
        n = 2
        while f"{new}#{n}" in taken:
            n += 1
        return f"{new}#{n}"

    def _place(self, value: Any, container: Any, slot: Any, stack: list[tuple[Any, Any, Any]]) -> None:
        if isinstance(value, str):
            container[slot] = self.redact(value)
        elif isinstance(value, Mapping | list | tuple):
            container[slot] = None
            stack.append((value, container, slot))
        else:
            container[slot] = value


def _longest_first(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values), key=lambda v: (-len(v), v)))


def _literal_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation of every literal secret (longest first), also in its JSON-escaped form."""
    forms: set[str] = set()
    for secret in secrets:
        forms.add(secret)
        escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
        forms.add(escaped)
        forms.add(json.dumps(secret)[1:-1])
    if not forms:
        return None
    return re.compile("|".join(re.escape(f) for f in _longest_first(forms)))


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
