"""``validate``: every transcript of a CLI config directory, chain breaks named with file and line."""

from __future__ import annotations

import argparse

from pytest_claude_sessions.commands.arguments import AddCommand, json_arg
from pytest_claude_sessions.commands.output import EXIT_FINDINGS, EXIT_OK, CommandError, emit_json, plural
from pytest_claude_sessions.ids import is_session_id
from pytest_claude_sessions.transcripts.validator import SessionValidator


def cmd_validate(args: argparse.Namespace) -> int:
    validator = SessionValidator(args.config_dir, allow_torn_tail=args.allow_torn_tail)
    projects = validator.projects_dir
    if not projects.is_dir():
        raise CommandError(f"no transcripts: {projects} is not a directory (give the CLI's config dir)")
    files = sorted(
        p for p in projects.glob("*/*.jsonl") if is_session_id(p.stem) and p.is_file() and not p.is_symlink()
    )
    if not files:  # before any summary line: one message, not "0 ok" and then an error
        raise CommandError(f"no transcript found under {projects}")
    results = []
    for path in files:
        ok, reason = validator.validate_path(path)
        results.append({"path": str(path), "session_id": path.stem, "ok": ok, "error": reason})
    bad = [r for r in results if not r["ok"]]
    if args.json:
        emit_json({"config_dir": str(validator.config_dir), "transcripts": results})
    else:
        for r in bad:
            print(f"BROKEN {r['error']}")
        print(
            f"{plural(len(files), 'transcript')} in {projects}: {len(files) - len(bad)} ok, {len(bad)} broken"
        )
    return EXIT_FINDINGS if bad else EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """``validate``."""
    p = add(
        "validate",
        cmd_validate,
        "validate every transcript of a CLI config directory; chain breaks with file and line",
    )
    p.add_argument(
        "config_dir",
        nargs="?",
        metavar="CONFIG_DIR",
        help="the CLI's config directory (default: $CLAUDE_CONFIG_DIR, else ~/.claude)",
    )
    p.add_argument("--allow-torn-tail", action="store_true", help="accept a last line cut mid-record")
    json_arg(p)
