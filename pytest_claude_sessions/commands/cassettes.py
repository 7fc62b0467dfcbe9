"""``cassettes list | lint | prune`` and ``drift``: the recorded cassettes of a project."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pytest_claude_sessions.commands.arguments import AddCommand, json_arg
from pytest_claude_sessions.commands.output import EXIT_FINDINGS, EXIT_OK, CommandError, emit_json, table
from pytest_claude_sessions.errors import CassetteError

_PLACEHOLDER = re.compile(r"\{\{PCS_[A-Z0-9_]+\}\}")
_STRAY = re.compile(r"\{\{\s*PCS[^}]*\}\}")


def _candidates(roots: Sequence[str]) -> Iterator[Path]:
    for root in roots or ["."]:
        base = Path(root)
        if base.is_file():
            yield base
            continue
        if not base.is_dir():
            raise CommandError(f"{base}: no such file or directory")
        for path in sorted(base.rglob("*.json")):
            if "cassettes" in path.parts and not any(p.startswith(".") for p in path.relative_to(base).parts):
                yield path


def _load(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    from pytest_claude_sessions.cassettes.files import load_cassette_data

    try:
        return load_cassette_data(path), None
    except CassetteError as exc:
        return None, str(exc)


def cmd_list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for path in _candidates(args.paths):
        data, error = _load(path)
        inter = (data or {}).get("interactions") or []
        rows.append(
            {
                "path": str(path),
                "error": error,
                "interactions": len(inter),
                "cli_versions": sorted({str(i.get("cli_version")) for i in inter if i.get("cli_version")}),
                "recorded": sorted(str(i.get("recorded_at")) for i in inter if i.get("recorded_at"))[-1:],
            }
        )
    if args.json:
        emit_json({"cassettes": rows})
        return EXIT_OK
    lines = [["cassette", "interactions", "cli", "last recorded"]]
    for r in rows:
        if r["error"]:
            lines.append([r["path"], "-", "-", "DAMAGED: " + r["error"][:80]])
        else:
            lines.append(
                [
                    r["path"],
                    str(r["interactions"]),
                    ",".join(r["cli_versions"]) or "-",
                    (r["recorded"] or ["-"])[0][:19],
                ]
            )
    print(table(lines, right=(1,)))
    print(f"{len(rows)} cassette(s)")
    return EXIT_OK


def lint_cassette(path: Path) -> list[str]:
    """The problems of one cassette: schema, secrets still in it, unknown placeholders, mixed versions."""
    from pytest_claude_sessions.cassettes.interactions import render_stdout
    from pytest_claude_sessions.cassettes.scrub import PLACEHOLDER_NAME
    from pytest_claude_sessions.redact import Redactor

    data, error = _load(path)
    if data is None:
        return [error or "not a cassette"]
    problems: list[str] = []
    for n, inter in enumerate(data["interactions"], start=1):
        req, resp = inter.get("request"), inter.get("response")
        if not isinstance(req, dict) or not isinstance(req.get("prompt"), str):
            problems.append(f"interaction {n}: 'request' is not an object with a string 'prompt'")
        if not isinstance(resp, dict):
            problems.append(f"interaction {n}: 'response' is not an object")
            continue
        try:
            render_stdout(resp.get("stdout"), f"interaction {n}")
        except CassetteError as exc:
            problems.append(str(exc))
        if not isinstance(resp.get("returncode"), int | None):
            problems.append(f"interaction {n}: 'returncode' is not an integer")
    text = path.read_text(encoding="utf-8")
    redactor = Redactor()
    for lineno, line in enumerate(text.splitlines(), start=1):
        cleaned = redactor.redact(line)
        if cleaned != line:
            found = sorted(
                set(re.findall(r"\[REDACTED:([\w-]+)\]", cleaned))
                - set(re.findall(r"\[REDACTED:([\w-]+)\]", line))
            )
            problems.append(
                f"line {lineno}: a secret is still in it ({', '.join(found) or 'redaction rule'})"
            )
    for token in sorted(set(_STRAY.findall(text)) - set(_PLACEHOLDER.findall(text))):
        problems.append(f"malformed placeholder {token!r}")
    for token in sorted(set(_PLACEHOLDER.findall(text))):
        if not PLACEHOLDER_NAME.fullmatch(token[6:-2]):
            problems.append(f"unknown placeholder {token!r} (a replay cannot fill it)")
    unterminated = len(re.findall(r"\{\{\s*PCS", text)) - len(_STRAY.findall(text))
    if unterminated > 0:
        problems.append(f"{unterminated} unterminated placeholder(s): '{{{{PCS_' without its '}}}}'")
    versions = {str(i.get("cli_version")) for i in data["interactions"] if i.get("cli_version")}
    if len(versions) > 1:
        problems.append(
            f"recorded with several CLI versions ({', '.join(sorted(versions))}): re-record it whole"
        )
    return problems


def cmd_lint(args: argparse.Namespace) -> int:
    results = {str(p): lint_cassette(p) for p in _candidates(args.paths)}
    if not results:
        raise CommandError("no cassette found (looked for */cassettes/**/*.json)")
    if args.json:
        emit_json({"cassettes": [{"path": p, "problems": v} for p, v in results.items()]})
    else:
        for path, problems in results.items():
            for problem in problems:
                print(f"{path}: {problem}")
        bad = sum(1 for v in results.values() if v)
        print(f"{len(results)} cassette(s), {bad} with problems")
    return EXIT_FINDINGS if any(results.values()) else EXIT_OK


def cmd_prune(args: argparse.Namespace) -> int:
    """Which cassettes no test uses only pytest's collection knows: run it with the plugin's switch."""
    flag = "--claude-cassettes-unused" if args.dry_run else "--claude-prune-cassettes"
    return subprocess.run([sys.executable, "-m", "pytest", flag, *args.pytest_args], check=False).returncode


def _installed_version(binary: str | None) -> str | None:
    from pytest_claude_sessions.locate import find_claude_bin

    try:
        found = find_claude_bin(binary) if binary else find_claude_bin()
    except Exception:  # the CLI is not installed: drift then compares parsing only
        return None
    try:
        out = subprocess.run(
            [str(found), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"\d+\.\d+\.\d+", out.stdout)
    return match.group(0) if match else None


def _parses(inter: dict[str, Any]) -> str | None:
    from pytest_claude_sessions.cassettes.interactions import render_stdout
    from pytest_claude_sessions.executor import parsing

    resp = inter.get("response") or {}
    try:
        stdout = render_stdout(resp.get("stdout"), "stdout")
    except CassetteError as exc:
        return str(exc)
    fmt = (inter.get("request") or {}).get("output_format") or "json"
    if resp.get("timed_out") or not stdout.strip():
        return None  # nothing was printed: nothing to parse
    if fmt == "stream-json":
        if parsing.last_result_event(parsing.decode_stream(stdout)) is None:
            return "no result event in the recorded stream"
        return None
    if fmt == "json" and parsing.decode_json_result(stdout) is None:
        return "the recorded output is no JSON result today's parser reads"
    return None


def cmd_drift(args: argparse.Namespace) -> int:
    paths = list(_candidates(args.paths))
    installed = _installed_version(args.claude_bin)
    rows: list[dict[str, Any]] = []
    for path in paths:
        data, error = _load(path)
        problems = [error] if error else []
        for n, inter in enumerate((data or {}).get("interactions") or [], start=1):
            why = _parses(inter)
            if why:
                problems.append(f"interaction {n}: {why}")
            recorded = inter.get("cli_version")
            if installed and recorded and recorded != installed:
                problems.append(f"interaction {n}: recorded with CLI {recorded}, installed {installed}")
        rows.append({"path": str(path), "problems": problems})
    if args.json:
        emit_json({"installed_cli": installed, "cassettes": rows})
    else:
        for r in rows:
            for p in r["problems"]:
                print(f"{r['path']}: {p}")
        print(
            f"{len(rows)} cassette(s) against CLI {installed or '(not found: parsing only)'}: "
            f"{sum(1 for r in rows if r['problems'])} drifted"
        )
    if not rows:  # fails closed: a gate that checked nothing must not pass
        print("claude-sessions: error: no cassette found: drift checked nothing", file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_FINDINGS if any(r["problems"] for r in rows) else EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """``cassettes list|lint|prune`` and ``drift``."""
    p = add("cassettes", None, "list, lint or prune the cassettes of a project")
    sub = p.add_subparsers(dest="cassettes_command", metavar="ACTION", required=True)
    for name, handler, help_ in (
        ("list", cmd_list, "every cassette under the paths: interactions, CLI versions, last recording"),
        ("lint", cmd_lint, "schema, secrets still in a cassette, malformed placeholders, mixed CLI versions"),
    ):
        q = sub.add_parser(name, help=help_, description=help_)
        q.set_defaults(handler=handler)
        q.add_argument("paths", nargs="*", metavar="PATH", help="directories or files (default: .)")
        json_arg(q)
    q = sub.add_parser(
        "prune",
        help="delete cassettes no collected test uses (runs pytest --claude-prune-cassettes)",
        description="Delete cassettes that no collected test uses: runs `python -m pytest "
        "--claude-prune-cassettes PYTEST_ARGS` (collection alone knows which are used).",
    )
    q.set_defaults(handler=cmd_prune)
    q.add_argument("--dry-run", action="store_true", help="only list them (--claude-cassettes-unused)")
    q.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest (e.g. tests/)")
    p = add(
        "drift",
        cmd_drift,
        "re-read every cassette's recorded output with today's parser and against the installed CLI",
        "Re-reads every recorded output with today's parser and compares each interaction's CLI version "
        "with the installed CLI's. Fails closed: exit 1 when no cassette is found.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="directories or files (default: .)")
    p.add_argument("--claude-bin", metavar="PATH", help="the CLI to compare with (default: discovery)")
    json_arg(p)
