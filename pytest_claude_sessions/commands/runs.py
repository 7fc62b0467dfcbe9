"""``runs``, ``show``, ``diff``, ``merge`` and ``html``: the stored runs of a store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_claude_sessions.commands.arguments import RUN_HELP, AddCommand, json_arg, store_arg
from pytest_claude_sessions.commands.keywords import compile_keywords
from pytest_claude_sessions.commands.output import (
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    emit_json,
    money,
    plural,
    table,
)
from pytest_claude_sessions.report import model
from pytest_claude_sessions.report.graph import Node, chain_graph, tree_lines
from pytest_claude_sessions.store import runs as run_dirs
from pytest_claude_sessions.tables import excerpt


def _store(args: argparse.Namespace) -> Path:
    return model.resolve_store(args.store)


def _load(args: argparse.Namespace, ref: str | None) -> model.Run:
    return model.load_run(model.find_run(_store(args), ref))


# --------------------------------------------------------------------------- runs


def cmd_runs(args: argparse.Namespace) -> int:
    store = _store(args)
    if not store.is_dir():  # as for every other command: a missing directory is bad input, exit 2
        raise CommandError(f"no store at {store}: no such directory (pass --store DIR)")
    rows: list[dict[str, Any]] = []
    for path in reversed(run_dirs.list_runs(store)):
        run = model.load_run_dir(path)
        rows.append({"run_id": run.run_id, "started_at": run.started_at, "path": str(path), **run.totals()})
    if args.json:
        emit_json({"store": str(store), "runs": rows})
        return EXIT_OK
    if not rows:
        print(f"no run in {store}")
        return EXIT_OK
    lines = [["run id", "started (UTC)", "tests", "calls", "sessions", "cost", "errors"]]
    for r in rows:
        started = (r["started_at"] or "-")[:19].replace("T", " ")
        lines.append(
            [
                r["run_id"],
                started,
                str(r["tests"]),
                str(r["calls"]),
                str(r["sessions"]),
                money(r["cost_usd"]),
                str(r["errors"]),
            ]
        )
    print(table(lines, right=(2, 3, 4, 5, 6)))
    return EXIT_OK


# --------------------------------------------------------------------------- show


def step_label(node: Node) -> str:
    s = node.step
    turns = "-" if s.get("num_turns") is None else plural(int(s["num_turns"]), "turn")
    text = f"{s.get('step')} {s.get('kind')}  {s.get('session_id')}  {money(s.get('cost_usd'))}  {turns}"
    if s.get("prompt"):
        text += f"  {excerpt(s['prompt'], 50)!r}"
    if s.get("replayed"):
        text += "  (replayed)"
    if s.get("is_error") or s.get("error"):
        text += f"  ERROR: {excerpt(s.get('error') or 'is_error', 80)}"
    return text


def verdict_text(record: Mapping[str, Any]) -> str:
    parts = []
    cont = record.get("continuity")
    if cont:
        parts.append("continuity ok" if cont.get("ok") else f"CONTINUITY BROKEN: {cont.get('reason')}")
    spent = record.get("budget")
    if spent and not spent.get("ok"):
        parts.append("BUDGET EXCEEDED: " + "; ".join(spent.get("reasons") or []))
    return ", ".join(parts)


def test_heading(record: Mapping[str, Any]) -> str:
    head = (
        f"{record['nodeid']}  {record.get('outcome')}  {plural(record['calls'], 'call')}, "
        f"{plural(len(record['session_ids']), 'session')}, {money(record['cost_usd'])}, "
        f"{plural(record['turns'], 'turn')}, {plural(record['errors'], 'error')}"
    )
    verdicts = verdict_text(record)
    return head + (f", {verdicts}" if verdicts else "")


def cmd_show(args: argparse.Namespace) -> int:
    keep = compile_keywords(args.k or "")
    run = _load(args, args.run)
    records = [r for r in run.records if keep(str(r["nodeid"]))]
    if args.json:
        data = run.to_json()
        data["tests"] = records
        if args.conversation:
            from pytest_claude_sessions.report.conversation import step_conversations

            for rec in records:
                for step, said in zip(rec["steps"], step_conversations(rec["steps"]), strict=True):
                    step["conversation"] = None if said is None else [m.__dict__ for m in said]
        emit_json(data)
        return EXIT_OK
    out = sys.stdout
    t = model.run_totals(records)
    out.write(
        f"run {run.run_id} ({run.source})\n{plural(t['tests'], 'test')}, {plural(t['calls'], 'call')}, "
        f"{plural(t['sessions'], 'session')}, {money(t['cost_usd'])}, {plural(t['turns'], 'turn')}, "
        f"{plural(t['errors'], 'error')}\n"
    )
    for rec in records:
        out.write("\n" + test_heading(rec) + "\n")
        nodes = chain_graph(rec["steps"])
        spoken: list[Any] = []
        if args.conversation:
            from pytest_claude_sessions.report.conversation import step_conversations

            spoken = list(step_conversations(rec["steps"]))

        def label(node: Node, said: list[Any] = spoken) -> str:
            text = step_label(node)
            if said:
                msgs = said[node.index]
                if msgs is None:
                    text += "\n  (no transcript)"
                else:
                    text += "".join(f"\n  {m.role}: {excerpt(m.text, 200)}" for m in msgs)
            return text

        out.writelines(f"  {line}\n" for line in tree_lines(nodes, label))
        for failed in rec.get("failed_calls") or []:
            out.write(f"  raised: {failed.get('kind')} {_error_text(failed)}\n")
    return EXIT_OK


# --------------------------------------------------------------------------- diff


def _figures(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    cont = record.get("continuity")
    return {
        "outcome": record.get("outcome"),
        "calls": record["calls"],
        "turns": record["turns"],
        "cost_usd": record["cost_usd"],
        "sessions": len(record["session_ids"]),
        "errors": record["errors"],
        "continuity": None if not cont else bool(cont.get("ok")),
    }


def diff_runs(a: model.Run, b: model.Run) -> dict[str, Any]:
    nodes = sorted({r["nodeid"] for r in a.records} | {r["nodeid"] for r in b.records})
    tests = []
    for nodeid in nodes:
        then, now = _figures(a.record(nodeid)), _figures(b.record(nodeid))
        status = (
            "added" if then is None else "gone" if now is None else ("same" if then == now else "changed")
        )
        tests.append({"nodeid": nodeid, "status": status, "then": then, "now": now})
    return {"a": a.run_id, "b": b.run_id, "totals": {"a": a.totals(), "b": b.totals()}, "tests": tests}


def _error_text(failed: dict[str, Any]) -> str:
    """``Type: message`` once (an error text may already start with its type)."""
    kind, text = str(failed.get("error_type") or ""), str(failed.get("error") or "")
    return excerpt(text if not kind or text.startswith(kind + ":") else f"{kind}: {text}", 100 + len(kind))


def _continuity_word(value: Any) -> str:
    return {True: "ok", False: "broken", None: "-"}.get(value, str(value))


def _cell(then: Any, now: Any, key: str) -> str:
    fmt = money if key == "cost_usd" else _continuity_word if key == "continuity" else str
    if then is None:
        return fmt(now)
    if now is None:
        return fmt(then) + " → -"
    if then == now:
        return fmt(now)
    return f"{fmt(then)} → {fmt(now)}"


def cmd_diff(args: argparse.Namespace) -> int:
    a, b = _load(args, args.run_a), _load(args, args.run_b)
    data = diff_runs(a, b)
    changed = [t for t in data["tests"] if t["status"] != "same"]
    if args.json:
        emit_json(data)
    else:
        print(f"{a.run_id} → {b.run_id}")
        keys = ("outcome", "calls", "turns", "cost_usd", "sessions", "continuity")
        rows = [["test", "status", "outcome", "calls", "turns", "cost", "sessions", "continuity"]]
        for t in data["tests"] if args.all else changed:
            then, now = t["then"] or {}, t["now"] or {}
            rows.append(
                [t["nodeid"], t["status"]]
                + [
                    _cell(then.get(k) if t["then"] else None, now.get(k) if t["now"] else None, k)
                    for k in keys
                ]
            )
        if len(rows) > 1:
            print(table(rows))
        ta, tb = data["totals"]["a"], data["totals"]["b"]
        print(
            "totals: "
            + ", ".join(
                f"{name} {_cell(ta[key], tb[key], key)}"
                for name, key in (
                    ("tests", "tests"),
                    ("calls", "calls"),
                    ("turns", "turns"),
                    ("cost", "cost_usd"),
                )
            )
        )
        counts = {
            s: sum(1 for t in data["tests"] if t["status"] == s) for s in ("changed", "added", "gone", "same")
        }
        print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return EXIT_FINDINGS if changed and args.exit_code else EXIT_OK


# --------------------------------------------------------------------------- merge


def cmd_merge(args: argparse.Namespace) -> int:
    from pytest_claude_sessions.report.merge import merge_stores

    result = merge_stores([Path(s) for s in args.sources], Path(args.into))
    if args.json:
        emit_json(
            {
                "run_dir": str(result.run_dir),
                "run_id": result.run_id,
                "report": str(result.run_dir / model.REPORT_NAME),
                "sources": [str(s) for s in result.sources],
                "tests": result.tests,
                "steps": result.steps,
            }
        )
    else:
        print(
            f"merged {plural(len(result.sources), 'run')} ({plural(result.tests, 'test')}, "
            f"{plural(result.steps, 'step')}) into {result.run_dir}\n"
            f"JSON report: {result.run_dir / model.REPORT_NAME}"
        )
    return EXIT_OK


# --------------------------------------------------------------------------- html


def cmd_html(args: argparse.Namespace) -> int:
    from pytest_claude_sessions.redact import Redactor
    from pytest_claude_sessions.report.html import read_extras, render_html

    try:
        Redactor(args.redact)  # a bad pattern is a usage error before anything is read
    except ValueError as exc:
        raise CommandError(f"--redact: {exc}") from None
    run = _load(args, args.run)
    extras = {} if args.no_transcripts else read_extras(run, redact=args.redact)
    text = render_html(run, title=args.title, extras=extras)
    write_text(Path(args.output), text)
    if not args.quiet:
        print(
            f"HTML report: {args.output} ({plural(len(run.records), 'test')}, {len(text.encode()):,} bytes)"
        )
    return EXIT_OK


def write_text(path: Path, text: str) -> None:
    """Atomically (temp file + rename): a reader never sees half a report."""
    from pytest_claude_sessions.fs import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"))


def add_parsers(add: AddCommand) -> None:
    """``runs``, ``show``, ``diff``, ``merge`` and ``html``."""
    p = add(
        "runs",
        cmd_runs,
        "the runs of a store, newest first: id, time, tests, calls, sessions, cost, errors",
    )
    store_arg(p, json=True)

    p = add(
        "show",
        cmd_show,
        "each test's chain of a run as a tree (new → resume/continue → fork)",
        "Each test's chain as a tree: a step per line (kind, session id, cost, turns, prompt, error); a fork "
        "branches off, a resume or continue goes on below its step. --conversation adds the prompts, replies "
        "and tool calls read from the CLI's transcripts when they are still there.",
    )
    p.add_argument("run", nargs="?", metavar="RUN", help=RUN_HELP)
    p.add_argument("-k", metavar="EXPR", help="only tests whose node id matches (pytest -k grammar)")
    p.add_argument("--conversation", action="store_true", help="show what was said in each step")
    store_arg(p, json=True)

    p = add(
        "diff",
        cmd_diff,
        "per test, calls / turns / cost / sessions / continuity of run A and run B; tests added and gone",
    )
    p.add_argument("run_a", metavar="RUN_A", help=RUN_HELP)
    p.add_argument("run_b", metavar="RUN_B", help=RUN_HELP)
    p.add_argument("--all", action="store_true", help="list unchanged tests too")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when any test changed, was added or gone")
    store_arg(p, json=True)

    p = add(
        "merge",
        cmd_merge,
        "merge stores (CI shards, machines) into one store with one run and one JSON report",
        "Merge the newest run of each source store (or the run directories given) into DIR, which then holds "
        "one run: every step and test record of the sources, plus what DIR held from an earlier merge. "
        "Idempotent and order-free: the same sources give the same bytes in any order, merged at once or "
        "one by one.",
    )
    p.add_argument("sources", nargs="+", metavar="SRC", help="a store or a run directory")
    p.add_argument("--into", required=True, metavar="DIR", help="the merged store (created when missing)")
    json_arg(p)

    p = add(
        "html",
        cmd_html,
        "write the self-contained HTML report of a stored run or a merged store",
        "One file, no network (CSS, SVG and script inline): the run's totals, then every test, failing ones "
        "first, with an SVG graph of its sessions, its steps, the calls that raised, the continuity verdicts "
        "and the conversation (from the transcripts, when they are still there).",
    )
    p.add_argument("run", nargs="?", metavar="RUN", help=RUN_HELP)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the report")
    p.add_argument("--title", default="Claude sessions", help="the report's title")
    p.add_argument("--no-transcripts", action="store_true", help="do not read transcripts (faster)")
    p.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="REGEX",
        help="also redact REGEX in the conversation (repeatable: the project's claude_cassette_redact lines)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    store_arg(p)
