"""The arguments and the parts of a subcommand that several subcommands share."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Protocol

Handler = Callable[[argparse.Namespace], int]


class AddCommand(Protocol):
    """Adds one subcommand (``handler`` None: it has subcommands of its own); see ``main.build_parser``."""

    def __call__(
        self, name: str, handler: Handler | None, help_: str, description: str | None = None
    ) -> argparse.ArgumentParser: ...


RUN_HELP = (
    "a run: its id or a unique prefix or suffix, -N (N-th newest; default -1 = newest), a run directory, "
    "a store (its newest run) or a JSON report file"
)


def store_arg(parser: argparse.ArgumentParser, *, json: bool = False) -> None:
    """``--store DIR``; with ``json``, ``--json`` too (the arguments every report command takes)."""
    parser.add_argument(
        "--store",
        metavar="DIR",
        help="the session store (default: $PYTEST_CLAUDE_SESSIONS_DIR, else ./.claude_sessions)",
    )
    if json:
        json_arg(parser)


def json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for a machine instead of text")
