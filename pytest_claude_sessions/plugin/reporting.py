"""What the plugin shows of the records (``report/records.py``): the report-section table, junit
properties, the terminal summary, and writing the JSON run report.

Everything here is plain data in, text or JSON-safe dicts out, so it crosses xdist on report objects
unchanged and can be tested without running pytest.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting; skipping its pass over this module
keeps start-up cheaper (pytest rewrites every module of a pytest11 package it imports).
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_claude_sessions.tables import excerpt, format_table, money

if TYPE_CHECKING:
    from pytest_claude_sessions.report.records import RunReport

SECTION_KEY = "claude sessions"


def format_failures(rows: Sequence[Mapping[str, Any]]) -> str:
    """The calls that raised, one line each: kind, session id (or -), prompt excerpt, error."""
    table = [["kind", "session id", "prompt", "error"]]
    for row in rows:
        table.append(
            [
                str(row.get("kind") or "-"),
                str(row.get("session_id") or "-"),
                repr(excerpt(row.get("prompt"), 30)),
                _failure_text(row),
            ]
        )
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table)


def _failure_text(row: Mapping[str, Any]) -> str:
    """The error's first line, and the CLI's last stderr line (often the real cause: "No conversation
    found with session ID ...") when it printed one."""
    error = str(row.get("error") or "").strip()
    text = excerpt(error.splitlines()[0] if error else "-", 90)
    stderr = [line for line in str(row.get("stderr") or "").splitlines() if line.strip()]
    if stderr:
        text += f"; stderr: {excerpt(stderr[-1], 80)}"
    return text


def section_text(record: Mapping[str, Any]) -> str:
    """The body of the per-test "claude sessions" report section."""
    failed = record.get("failed_calls") or []
    lines = [
        f"agent: {record['agent_id']}",
        format_table(record["steps"]) if record["steps"] else "(no step recorded)",
        f"calls: {record['calls']}, sessions: {len(record['session_ids'])}, "
        f"cost: {money(record['cost_usd'])}, turns: {record['turns']}, errors: {record['errors']}",
    ]
    if failed:
        lines.append(f"calls that raised ({len(failed)}, no step recorded):")
        lines.append(format_failures(failed))
    cont = record.get("continuity")
    if cont:
        lines.append(f"continuity: {continuity_text(cont)}")
    spent = record.get("budget")
    if spent:
        lines.append(f"budget: {'ok' if spent.get('ok') else 'EXCEEDED: ' + '; '.join(spent['reasons'])}")
    if record.get("note"):
        lines.append(f"note: {record['note']}")
    return "\n".join(lines) + "\n"


def continuity_text(cont: Mapping[str, Any]) -> str:
    """``ok``, ``ok, weak check: <why>`` (a step without a recorded transcript leaf) or ``BROKEN: <why>``:
    a verdict says what was checked."""
    if not cont.get("ok"):
        return "BROKEN: " + str(cont.get("reason"))
    if cont.get("strength") == "weak":
        return f"ok, weak check: {cont.get('weak_reason')}"
    return "ok"


def junit_properties(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Properties for ``item.user_properties`` (junitxml writes them as ``<property>``)."""
    props = [
        ("claude_agent_id", str(record["agent_id"])),
        ("claude_session_ids", ",".join(record["session_ids"])),
        ("claude_calls", str(record["calls"])),
        ("claude_cost_usd", f"{record['cost_usd']:.6f}"),
        ("claude_turns", str(record["turns"])),
        ("claude_errors", str(record["errors"])),
    ]
    transcripts = [r["transcript_path"] for r in record["steps"] if r.get("transcript_path")]
    if transcripts:
        props.append(("claude_transcripts", ",".join(dict.fromkeys(transcripts))))
    cont = record.get("continuity")
    if cont:
        text = continuity_text(cont)
        props.append(
            ("claude_continuity", "broken: " + text[len("BROKEN: ") :] if not cont.get("ok") else text)
        )
    return props


def json_report_problem(path: Path) -> str | None:
    """Why a report file could not be written to ``path`` at the end of the run, checked at start-up
    (``None``: it can). The nearest existing directory is probed with a temporary file (and directory,
    when some are still to be made), removed at once: permission bits do not tell (root passes them on a
    read-only or pseudo file system such as ``/proc``)."""
    if path.is_dir():
        return "it is a directory"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    try:  # the report is written beside its place and renamed over it: the directory must take a file
        fd, probe = tempfile.mkstemp(prefix=".claude-sessions-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
        if parent != path.parent:
            os.rmdir(tempfile.mkdtemp(prefix=".claude-sessions-probe-", dir=parent))
    except OSError as exc:
        return f"nothing can be created in {parent}: {os.strerror(exc.errno or errno.EIO)}"
    return None


def write_json_report(path: Path, data: Mapping[str, Any]) -> None:
    """Write atomically (:func:`pytest_claude_sessions.fs.atomic_write`: temp, fsync, rename, fsync of the
    directory) so a reader never sees half a report; a symbolic link at ``path`` is refused, never
    written through. Raises ``OSError`` naming the path."""
    from pytest_claude_sessions.fs import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(path, text, error=OSError, what="JSON report")


def cassette_summary_lines(reports: Sequence[Mapping[str, Any]], mode: str) -> list[str]:
    """The cassette part of the summary: counts, cassettes not saved and why, removed ones."""
    if not reports:
        return []
    replayed = sum(int(r.get("replayed", 0)) for r in reports)
    recorded = sum(int(r.get("recorded", 0)) for r in reports)
    saved = sum(1 for r in reports if r.get("saved"))
    lines = [
        f"mode {mode}: {len(reports)} test(s) with cassettes, {replayed} call(s) replayed, "
        f"{recorded} recorded, {saved} cassette(s) saved"
    ]
    for r in reports:
        if r.get("recorded") and not r.get("saved"):
            lines.append(f"  not saved: {r.get('path')} ({r.get('nodeid')}): {r.get('not_saved_reason')}")
        elif r.get("removed"):
            lines.append(f"  removed: {r.get('path')} ({r.get('nodeid')}): the test passed without a call")
    return lines


def write_summary(
    terminal: Any,
    report: RunReport | None,
    settings: Any,
    json_error: str | None,
    housekeeping: Sequence[str] = (),
) -> None:
    """The terminal summary: the "claude cassettes" part (or what housekeeping did), then the "claude
    sessions" part (per the report level) and the JSON report's path or why it could not be written."""
    # The cassette part first: it says how the calls that the sessions part counts were made.
    cassette_lines = list(housekeeping) or (
        [] if report is None else cassette_summary_lines(report.cassettes, settings.record_mode)
    )
    if cassette_lines:
        terminal.write_sep("-", "claude cassettes")
        for line in cassette_lines:
            terminal.write_line(line)
    lines = [] if report is None else report.summary_lines(settings.report)
    if (
        report is not None
        and settings.json_report is not None
        and settings.report != "none"
        and not json_error
    ):
        lines.append(f"JSON report: {settings.json_report}")
    if lines or json_error:
        terminal.write_sep("-", "claude sessions")
        for line in lines:
            terminal.write_line(line)
        if json_error:
            terminal.write_line(json_error, red=True, bold=True)
