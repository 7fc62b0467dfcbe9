"""The ``claude-sessions`` command line: one argparse parser, one function per subcommand.

Exit codes: 0 ok; 1 the command found something (a broken transcript, a lint problem, drift, a diff with
``--exit-code``); 2 bad arguments or input (no such run or file, an unreadable store).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pytest_claude_sessions.commands.arguments import Handler
from pytest_claude_sessions.commands.output import EXIT_USAGE, CommandError
from pytest_claude_sessions.errors import ClaudeSessionsError

EPILOG = """exit codes:
  0  ok
  1  findings: broken transcripts, lint problems, drift, a diff (with --exit-code), a miss explained
  2  bad arguments or input: no such run, file or directory; an unreadable store or report
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser; each module adds its own subcommands (``add_parsers``), in the order of ``--help``."""
    from pytest_claude_sessions.commands import cassettes, runs, transcripts, why

    parser = argparse.ArgumentParser(
        prog="claude-sessions",
        description="Look at the session stores, runs, cassettes and transcripts of pytest-claude-sessions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        name: str, handler: Handler | None, help_: str, description: str | None = None
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_,
            description=description or help_,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if handler is not None:
            p.set_defaults(handler=handler)
        return p

    for module in (runs, why, cassettes, transcripts):
        module.add_parsers(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (CommandError, ClaudeSessionsError) as exc:
        print(f"claude-sessions: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `claude-sessions show | head`: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
