"""Shared output helpers of the command: money, plurals, JSON, fixed-width tables, exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FINDINGS = 1  # the command ran and found something: a regression, a broken transcript, lint problems
EXIT_USAGE = 2  # bad arguments or input: no such run, an unreadable file (argparse uses 2 as well)


class CommandError(Exception):
    """A failure shown as ``claude-sessions: error: ...`` with exit code 2."""


def money(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def emit_json(data: Any, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def table(rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    """A fixed-width table; ``right`` lists the columns aligned right (numbers)."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
