"""The ``claude-sessions`` command line: one argparse parser, one function per subcommand.

Exit codes: 0 ok; 1 the command found something (a broken transcript, a lint problem, drift, a diff with
``--exit-code``); 2 bad arguments or input (no such run or file, an unreadable store).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pytest_claude_sessions.commands.output import EXIT_USAGE, CommandError
from pytest_claude_sessions.errors import ClaudeSessionsError

EPILOG = """exit codes:
  0  ok
  1  findings: broken transcripts, lint problems, drift, a diff (with --exit-code), a miss explained
  2  bad arguments or input: no such run, file or directory; an unreadable store or report
"""

Handler = Callable[[argparse.Namespace], int]


def _store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="DIR",
        help="the session store (default: $PYTEST_CLAUDE_SESSIONS_DIR, else ./.claude_sessions)",
    )


def _json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for a machine instead of text")


RUN_HELP = (
    "a run: its id or a unique prefix, -N (N-th newest; default -1 = newest), a run directory, a store "
    "(its newest run) or a JSON report file"
)


def build_parser() -> argparse.ArgumentParser:
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

    p = add(
        "runs",
        runs.cmd_runs,
        "the runs of a store, newest first: id, time, tests, calls, sessions, cost, errors",
    )
    _store_arg(p)
    _json_arg(p)

    p = add(
        "show",
        runs.cmd_show,
        "each test's chain of a run as a tree (new → resume/continue → fork)",
        "Each test's chain as a tree: a step per line (kind, session id, cost, turns, prompt, error); a fork "
        "branches off, a resume or continue goes on below its step. --conversation adds the prompts, replies "
        "and tool calls read from the CLI's transcripts when they are still there.",
    )
    p.add_argument("run", nargs="?", metavar="RUN", help=RUN_HELP)
    p.add_argument("-k", metavar="EXPR", help="only tests whose node id matches (pytest -k grammar)")
    p.add_argument("--conversation", action="store_true", help="show what was said in each step")
    _store_arg(p)
    _json_arg(p)

    p = add(
        "diff",
        runs.cmd_diff,
        "per test, calls / turns / cost / sessions / continuity of run A and run B; tests added and gone",
    )
    p.add_argument("run_a", metavar="RUN_A", help=RUN_HELP)
    p.add_argument("run_b", metavar="RUN_B", help=RUN_HELP)
    p.add_argument("--all", action="store_true", help="list unchanged tests too")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when any test changed, was added or gone")
    _store_arg(p)
    _json_arg(p)

    p = add(
        "merge",
        runs.cmd_merge,
        "merge stores (CI shards, machines) into one store with one run and one JSON report",
        "Merge the newest run of each source store (or the run directories given) into DIR, which then holds "
        "one run: every step and test record of the sources, plus what DIR held from an earlier merge. "
        "Idempotent and order-free: the same sources give the same bytes in any order, merged at once or "
        "one by one.",
    )
    p.add_argument("sources", nargs="+", metavar="SRC", help="a store or a run directory")
    p.add_argument("--into", required=True, metavar="DIR", help="the merged store (created when missing)")
    _json_arg(p)

    p = add(
        "html",
        runs.cmd_html,
        "write the self-contained HTML report of a stored run or a merged store",
        "One file, no network (CSS, SVG and script inline): the run's totals, then every test, failing ones "
        "first, with an SVG graph of its sessions, its steps, the calls that raised, the continuity verdicts "
        "and the conversation (from the transcripts, when they are still there).",
    )
    p.add_argument("run", nargs="?", metavar="RUN", help=RUN_HELP)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the report")
    p.add_argument("--title", default="Claude sessions", help="the report's title")
    p.add_argument("--no-transcripts", action="store_true", help="do not read transcripts (faster)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    _store_arg(p)

    why.add_parser(add, _json_arg, _store_arg)
    cassettes.add_parsers(add, _json_arg)

    p = add(
        "validate",
        transcripts.cmd_validate,
        "validate every transcript of a CLI config directory; chain breaks with file and line",
    )
    p.add_argument(
        "config_dir",
        nargs="?",
        metavar="CONFIG_DIR",
        help="the CLI's config directory (default: $CLAUDE_CONFIG_DIR, else ~/.claude)",
    )
    p.add_argument("--allow-torn-tail", action="store_true", help="accept a last line cut mid-record")
    _json_arg(p)
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
