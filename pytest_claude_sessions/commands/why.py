"""``why CASSETTE``: explain a cassette miss — the request that would be made vs the nearest recorded one,
as the same unified diff the plugin prints on a mismatch (the matcher table and ``request_diff`` of
``cassettes/matching.py``).

Where the request comes from, in this order:

* ``--request FILE`` (``-``: stdin): a JSON request as a cassette stores it (``kind``, ``prompt``,
  ``output_format``, ``resume``, ``session_id``, ``fork``, ``continue``, ``options``), or an interaction
  object holding one under ``request``;
* else the last miss a run recorded: every call that found no match is kept, scrubbed like the cassette,
  in the ``misses`` of the cassette's entry in the run's ``report.json``. The store's runs are searched
  newest first (``--run`` picks one) for a miss on this cassette (by ``--test NODE`` when given).

Exit codes: 0 the request matches a recorded interaction (nothing to explain); 1 a miss explained; 2 bad
input (no such cassette, a damaged one, no recorded miss and no ``--request``, unreadable JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_claude_sessions.commands.arguments import AddCommand, store_arg
from pytest_claude_sessions.commands.output import EXIT_FINDINGS, EXIT_OK, CommandError, emit_json


def add_parsers(add: AddCommand) -> None:
    """``why``."""
    p = add(
        "why",
        cmd_why,
        "explain a cassette miss: the request that would be made vs the nearest recorded one, as a diff",
        "Explain why a call found no recorded interaction in CASSETTE: the request against the nearest "
        "recorded request (fewest differing match criteria), as a unified diff. The request is --request "
        "FILE (JSON, - for stdin), else the last miss a run recorded for this cassette (the runs of the "
        "store are searched newest first; every miss is kept in the run's report.json).",
    )
    p.add_argument("cassette", metavar="CASSETTE", help="the cassette file (.json)")
    p.add_argument("--test", metavar="NODE", help="only misses of this test (its node id)")
    p.add_argument("--request", metavar="FILE", help="the request to explain, as JSON (- for stdin)")
    p.add_argument(
        "--run", metavar="RUN", help="the run whose misses to explain (default: the newest with one)"
    )
    p.add_argument(
        "--match-on",
        metavar="CRITERIA",
        help="comma-separated match criteria (default: the miss's own, else the default criteria)",
    )
    store_arg(p, json=True)


def cmd_why(args: argparse.Namespace) -> int:
    from pytest_claude_sessions.cassettes.files import load_cassette_data

    path = Path(args.cassette)
    if not path.is_file():
        raise CommandError(f"{path}: no such cassette file")
    data = load_cassette_data(path)  # a damaged cassette is a CassetteCorruptError naming file and field
    interactions = list((data or {}).get("interactions") or [])
    misses = _misses(args, path)
    explained = [_explain(path, interactions, miss, args.match_on) for miss in misses]
    if args.json:
        emit_json({"cassette": str(path), "interactions": len(interactions), "misses": explained})
    else:
        _print(path, interactions, explained)
    # A recorded miss was a miss even when its request matches some interaction (its position did not).
    missed = any(e["differs_on"] or e["nearest"] is None or e["nodeid"] is not None for e in explained)
    return EXIT_FINDINGS if missed else EXIT_OK


def _misses(args: argparse.Namespace, path: Path) -> list[dict[str, Any]]:
    if args.request is not None:
        return [{"request": _read_request(args.request), "source": args.request}]
    from pytest_claude_sessions.report import model
    from pytest_claude_sessions.store import runs as run_dirs

    store = model.resolve_store(args.store)
    runs = [model.find_run(store, args.run)] if args.run else list(reversed(run_dirs.list_runs(store)))
    target = path.resolve()
    for run_dir in runs:
        report_path = run_dir / model.REPORT_NAME if run_dir.is_dir() else run_dir
        if not report_path.is_file():
            continue
        report = model.read_report(report_path)
        found = []
        for entry in report.get("cassettes") or []:
            if not isinstance(entry, dict) or Path(str(entry.get("path"))).resolve() != target:
                continue
            if args.test is not None and entry.get("nodeid") != args.test:
                continue
            for miss in entry.get("misses") or []:
                if isinstance(miss, dict) and isinstance(miss.get("request"), dict):
                    found.append(
                        {
                            **miss,
                            "nodeid": entry.get("nodeid"),
                            "run_id": report.get("run_id") or run_dir.name,
                        }
                    )
        if found:
            return found
    who = f" by {args.test}" if args.test else ""
    raise CommandError(
        f"no recorded miss on {path}{who} in the store {store} (looked in {len(runs)} run(s)); give the "
        f"request with --request FILE"
    )


def _read_request(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"--request {source}: not a readable JSON request: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("request"), dict):
        data = data["request"]  # an interaction, pasted whole
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str | None):
        raise CommandError(f"--request {source}: expected a JSON object (kind, prompt, options, ...)")
    return data


def _explain(
    path: Path, interactions: Sequence[Mapping[str, Any]], miss: Mapping[str, Any], match_on: str | None
) -> dict[str, Any]:
    from pytest_claude_sessions.cassettes.matching import DEFAULT_MATCHERS, nearest, request_diff

    wanted = (
        match_on.split(",") if match_on else list(miss.get("match_on") or DEFAULT_MATCHERS.normalize(None))
    )
    criteria = [c.strip() for c in wanted if c.strip() in DEFAULT_MATCHERS]
    unknown = [c.strip() for c in wanted if c.strip() and c.strip() not in DEFAULT_MATCHERS]
    request = dict(miss["request"])
    recorded = [dict(i.get("request") or {}) for i in interactions]
    found = nearest(recorded, request, criteria, ids=miss.get("ids") or {})
    out: dict[str, Any] = {
        "nodeid": miss.get("nodeid"),
        "run_id": miss.get("run_id"),
        "position": miss.get("position"),
        "source": miss.get("source") or "report.json",
        "match_on": criteria,
        "unknown_criteria": unknown,
        "request": request,
        "nearest": None,
        "differs_on": [],
        "recorded": None,
        "diff": "",
    }
    if found is not None:
        index, differ = found
        out.update(
            nearest=index + 1,
            differs_on=differ,
            recorded=recorded[index],
            diff=request_diff(
                recorded[index], request, recorded_label=f"recorded interaction #{index + 1} ({path})"
            ),
        )
    return out


def _print(
    path: Path, interactions: Sequence[Mapping[str, Any]], explained: Sequence[Mapping[str, Any]]
) -> None:
    print(f"cassette: {path} ({len(interactions)} recorded interaction(s))")
    for e in explained:
        if e["nodeid"] is not None:
            print(f"\nmiss: call #{e['position']} of {e['nodeid']} (run {e['run_id']})")
        else:
            print(f"\nrequest: {e['source']}")
        print(f"match_on: {', '.join(e['match_on'])}")
        if e["unknown_criteria"]:
            print(
                "left out (criteria registered by the test suite, unknown here): "
                + ", ".join(e["unknown_criteria"])
            )
        if e["nearest"] is None:
            print("the cassette holds no recorded interaction: record it (--claude-record-mode=once)")
            continue
        if not e["differs_on"]:
            print(f"matches recorded interaction #{e['nearest']} on every criterion but order")
            if e["nodeid"] is not None:
                print(
                    "  the miss was its position: with match_on 'order' a call is offered only the next "
                    "unused interaction, so the test made other or more calls before it"
                )
            continue
        print(f"nearest: recorded interaction #{e['nearest']}, differing on: {', '.join(e['differs_on'])}")
        print(e["diff"])
