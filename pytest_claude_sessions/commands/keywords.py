"""``-k EXPR`` for the command: pytest's keyword grammar (``and``, ``or``, ``not``, parentheses) over
node ids, each word matching case-insensitively as a substring, as ``pytest -k`` does for names."""

from __future__ import annotations

import re
from collections.abc import Callable

from pytest_claude_sessions.commands.output import CommandError

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


def compile_keywords(expr: str) -> Callable[[str], bool]:
    """A predicate over node ids; raises :class:`CommandError` naming the position of a syntax error."""
    tokens = [m.group(1) for m in _TOKEN.finditer(expr)]
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise CommandError(f"-k {expr!r}: the expression ends too early")
        pos += 1
        return tokens[pos - 1]

    def parse_or() -> Callable[[str], bool]:
        left = parse_and()
        while peek() == "or":
            take()
            left = _either(left, parse_and())
        return left

    def parse_and() -> Callable[[str], bool]:
        left = parse_not()
        while peek() == "and":
            take()
            left = _both(left, parse_not())
        return left

    def parse_not() -> Callable[[str], bool]:
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda s: not inner(s)
        token = take()
        if token == "(":  # noqa: S105 (a parenthesis, not a password)
            inner = parse_or()
            if take() != ")":
                raise CommandError(f"-k {expr!r}: ')' expected")
            return inner
        if token in (")", "and", "or"):
            raise CommandError(f"-k {expr!r}: unexpected {token!r}")
        word = token.lower()
        return lambda s: word in s.lower()

    if not tokens:
        return lambda s: True
    predicate = parse_or()
    if pos != len(tokens):
        raise CommandError(f"-k {expr!r}: unexpected {tokens[pos]!r}")
    return predicate


def _either(a: Callable[[str], bool], b: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda s: a(s) or b(s)


def _both(a: Callable[[str], bool], b: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda s: a(s) and b(s)
