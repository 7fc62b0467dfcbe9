"""The HTML report: one self-contained file (CSS, SVG and script inline; a Content-Security-Policy that
forbids every fetch), the run's totals on top, then every test, failing ones first: an SVG graph of its
sessions, the steps table, the calls that raised, the continuity verdicts and the conversation.

Pure: a :class:`~pytest_claude_sessions.report.model.Run` in, a string out, the same bytes for the same
run (sorted records, no clock), so the plugin with and without xdist and ``claude-sessions html`` agree.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_claude_sessions.report.graph import Node, chain_graph
from pytest_claude_sessions.report.model import Run, failing_first

# The graph: a lane (row) per session in order of appearance, a column per step.
NODE_W, NODE_H, COL_W, ROW_H, PAD = 136, 54, 200, 74, 12
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

CSS = """
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1f2328}
header{background:#24292f;color:#fff;padding:14px 22px}header h1{margin:0;font-size:19px}
header .sub{color:#c9d1d9;font-size:12px;font-family:ui-monospace,monospace}
.totals{display:flex;flex-wrap:wrap;gap:10px;padding:14px 22px;background:var(--bg);
  border-bottom:1px solid var(--line)}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:92px}
.card b{display:block;font-size:18px}.card span{color:var(--muted);font-size:12px}
.card.bad b{color:var(--bad)}.tools{padding:10px 22px;display:flex;gap:14px;align-items:center}
.tools input[type=search]{padding:5px 8px;width:320px;border:1px solid var(--line);border-radius:6px}
main{padding:0 22px 30px}section.test{border:1px solid var(--line);border-radius:6px;margin:10px 0}
section.test>details>summary{cursor:pointer;padding:8px 12px;background:var(--bg);border-radius:6px;
  list-style:none}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;color:#fff;margin-right:6px}
.o-passed{background:var(--ok)}.o-failed,.o-error{background:var(--bad)}
.o-skipped,.o-xfailed,.o-unknown{background:var(--muted)}
.nodeid{font-family:ui-monospace,monospace;font-weight:600}.fig{color:var(--muted);margin-left:8px}
.body{padding:8px 12px}
.graph{overflow-x:auto;border:1px solid var(--line);border-radius:6px;background:#fff}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
th{background:var(--bg)}td.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,monospace;font-size:12px}
.err{color:var(--bad)}.ok{color:var(--ok)}.weak{color:var(--warn)}
h3{font-size:13px;margin:12px 0 4px}
.conv .m{margin:2px 0;padding:3px 8px;border-left:3px solid var(--line);white-space:pre-wrap}
.conv .user{border-color:#0969da}.conv .assistant{border-color:var(--ok)}
.conv .tool_use,.conv .tool_result{border-color:var(--warn);font-family:ui-monospace,monospace;font-size:12px}
svg text{font:11px ui-monospace,monospace}svg .node rect{stroke-width:1.5}
svg .node.ok rect{fill:#dafbe1;stroke:var(--ok)}svg .node.error rect{fill:#ffebe9;stroke:var(--bad)}
svg .node.replayed rect{stroke-dasharray:4 2}svg .edge{fill:none;stroke-width:1.6}
svg .edge.resume{stroke:#0969da}svg .edge.continue{stroke:#8250df;stroke-dasharray:5 3}
svg .edge.fork{stroke:#bc4c00}
.hidden{display:none}
"""

SCRIPT = """
(function(){
  var q=document.getElementById('filter'),only=document.getElementById('only-failing');
  var tests=[].slice.call(document.querySelectorAll('section.test'));
  function apply(){
    var text=(q.value||'').toLowerCase(),shown=0;
    tests.forEach(function(t){
      var hit=t.getAttribute('data-nodeid').toLowerCase().indexOf(text)>=0;
      if(only.checked&&t.getAttribute('data-failing')!=='1')hit=false;
      t.classList.toggle('hidden',!hit);if(hit)shown++;
    });
    document.getElementById('shown').textContent=shown+' of '+tests.length+' tests shown';
  }
  q.addEventListener('input',apply);only.addEventListener('change',apply);
  document.getElementById('expand').addEventListener('click',function(){
    var open=this.getAttribute('data-open')!=='1';this.setAttribute('data-open',open?'1':'0');
    tests.forEach(function(t){t.querySelector('details').open=open;});
    this.textContent=open?'collapse all':'expand all';
  });
  if(location.hash==='#all')document.getElementById('expand').click();
  apply();document.body.setAttribute('data-ready','1');
})();
"""

_FAILING = frozenset({"failed", "error"})


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _clip(text: object, width: int) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render_graph(steps: Sequence[Mapping[str, Any]]) -> str:
    """The SVG of a test's sessions: a node per step (``g.node``, colour by outcome, cost and turns on
    it), an edge per resume / continue / fork (``path.edge``), a lane per session."""
    if not steps:
        return ""
    nodes = chain_graph(steps)
    lanes: dict[str, int] = {}
    for s in steps:
        lanes.setdefault(str(s.get("session_id")), len(lanes))
    pos = [(PAD + i * COL_W, PAD + lanes[str(s.get("session_id"))] * ROW_H) for i, s in enumerate(steps)]
    width = PAD * 2 + (len(steps) - 1) * COL_W + NODE_W
    height = PAD * 2 + (len(lanes) - 1) * ROW_H + NODE_H
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chain" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="sessions of the test">',
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0L8,4L0,8z" fill="#57606a"/></marker></defs>',
    ]
    for node in nodes:
        if node.parent is None:
            continue
        (x1, y1), (x2, y2) = pos[node.parent], pos[node.index]
        kind = _e(node.step.get("kind"))
        sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        mid = (sx + ex) / 2
        frm, to = _e(nodes[node.parent].step.get("step")), _e(node.step.get("step"))
        parts.append(
            f'<path class="edge {kind}" data-from="{frm}" data-to="{to}" data-kind="{kind}" '
            f'd="M{sx:g},{sy:g} C{mid:g},{sy:g} {mid:g},{ey:g} {ex:g},{ey:g}" marker-end="url(#arrow)">'
            f"<title>{kind}: step {frm} → step {to}</title></path>"
            f'<text x="{mid:g}" y="{(sy + ey) / 2 - 4:g}" text-anchor="middle" fill="#57606a">{kind}</text>'
        )
    for node, (x, y) in zip(nodes, pos, strict=True):
        parts.append(_svg_node(node, x, y))
    parts.append("</svg>")
    return "".join(parts)


def _svg_node(node: Node, x: int, y: int) -> str:
    s = node.step
    bad = bool(s.get("is_error") or s.get("error"))
    classes = "node " + ("error" if bad else "ok") + (" replayed" if s.get("replayed") else "")
    turns = "-" if s.get("num_turns") is None else _plural(int(s["num_turns"]), "turn")
    title = (
        f"step {s.get('step')} {s.get('kind')} — session {s.get('session_id')}\n"
        f"prompt: {_clip(s.get('prompt'), 120)}" + (f"\nerror: {_clip(s.get('error'), 200)}" if bad else "")
    )
    return (
        f'<g class="{classes}" data-step="{_e(s.get("step"))}" data-kind="{_e(s.get("kind"))}" '
        f'data-session="{_e(s.get("session_id"))}" transform="translate({x},{y})">'
        f"<title>{_e(title)}</title>"
        f'<rect width="{NODE_W}" height="{NODE_H}" rx="6"/>'
        f'<text x="8" y="16" font-weight="700">#{_e(s.get("step"))} {_e(s.get("kind"))}'
        f"{' ⟲' if s.get('replayed') else ''}</text>"
        f'<text x="8" y="31">{_e(str(s.get("session_id") or "")[:8])} {_e(_money(s.get("cost_usd")))}</text>'
        f'<text x="8" y="46">{_e(turns)}{" · ERROR" if bad else ""}</text></g>'
    )


def _steps_table(steps: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "#",
            "kind",
            "session id",
            "parent",
            "prompt",
            "cost",
            "turns",
            "duration",
            "model",
            "error",
        )
    )
    rows = []
    for s in steps:
        duration = "-" if s.get("duration_ms") is None else f"{s['duration_ms'] / 1000:.2f}s"
        error = s.get("error") or ("is_error" if s.get("is_error") else "")
        rows.append(
            "<tr>"
            f'<td class="num">{_e(s.get("step"))}</td><td>{_e(s.get("kind"))}'
            f"{' (replayed)' if s.get('replayed') else ''}</td>"
            f'<td class="mono">{_e(s.get("session_id"))}</td>'
            f'<td class="mono">{_e(s.get("parent_session_id") or "-")}</td>'
            f'<td>{_e(_clip(s.get("prompt"), 80))}</td><td class="num">{_e(_money(s.get("cost_usd")))}</td>'
            f'<td class="num">{_e("-" if s.get("num_turns") is None else s["num_turns"])}</td>'
            f'<td class="num">{duration}</td><td>{_e(s.get("model") or "-")}</td>'
            f'<td class="err">{_e(_clip(error, 160))}</td></tr>'
        )
    return f'<table class="steps"><tr>{head}</tr>{"".join(rows)}</table>'


def _failed_table(failed: Sequence[Mapping[str, Any]]) -> str:
    rows = "".join(
        f'<tr><td>{_e(f.get("kind"))}</td><td class="mono">{_e(f.get("session_id") or "-")}</td>'
        f'<td>{_e(_clip(f.get("prompt"), 80))}</td><td class="err">{_e(_error_text(f))}</td>'
        f'<td class="mono">{_e(_clip(f.get("stderr"), 160))}</td></tr>'
        for f in failed
    )
    return (
        f'<h3>calls that raised ({len(failed)}, no step recorded)</h3><table class="raised">'
        "<tr><th>kind</th><th>session id</th><th>prompt</th><th>error</th><th>stderr (tail)</th></tr>"
        f"{rows}</table>"
    )


def _error_text(failed: Mapping[str, Any]) -> str:
    kind, error = str(failed.get("error_type") or ""), _clip(failed.get("error"), 240)
    return error if not kind or error.startswith(kind) else f"{kind}: {error}"


def _verdicts(record: Mapping[str, Any], verdicts: Sequence[Mapping[str, Any]] | None) -> str:
    cont = record.get("continuity")
    parts = []
    if cont:
        cls, text = (
            ("ok", "continuity ok") if cont.get("ok") else ("err", f"continuity BROKEN: {cont.get('reason')}")
        )
        parts.append(f'<p class="continuity {cls}">{_e(text)}</p>')
    if verdicts:
        rows = []
        for v in verdicts:
            weak = v.get("basis") == "prompt_count"
            cls = "err" if not v.get("ok") else ("weak" if weak else "ok")
            mark = "broken" if not v.get("ok") else ("ok (weak)" if weak else "ok")
            rows.append(
                f'<tr class="verdict {cls}{" weak" if weak else ""}"><td>{_e(v.get("kind"))}</td>'
                f'<td class="mono">{_e(str(v.get("previous_session_id") or "-")[:8])} → '
                f'{_e(str(v.get("next_session_id") or "-")[:8])}</td><td class="{cls}">{mark}</td>'
                f"<td>{_e(v.get('basis') or '-')}</td><td>{_e(_clip(v.get('reason'), 200))}</td></tr>"
            )
        parts.append(
            '<h3>continuity verdicts (from the transcripts)</h3><table class="verdicts"><tr><th>step</th>'
            f"<th>from → to</th><th>verdict</th><th>evidence</th><th>reason</th></tr>{''.join(rows)}</table>"
        )
    spent = record.get("budget")
    if spent:
        cls, text = (
            ("ok", "budget ok")
            if spent.get("ok")
            else ("err", "budget EXCEEDED: " + "; ".join(spent.get("reasons") or []))
        )
        parts.append(f'<p class="budget {cls}">{_e(text)}</p>')
    return "".join(parts)


def _conversation(steps: Sequence[Mapping[str, Any]], said: Sequence[Any] | None) -> str:
    if not said or all(m is None for m in said):
        return ""
    blocks = []
    for step, msgs in zip(steps, said, strict=True):
        if msgs is None:
            body = '<div class="m">(no transcript)</div>'
        else:
            body = "".join(
                f'<div class="m {_e(m.role)}"><b>{_e(m.role)}</b>: {_e(m.text)}</div>' for m in msgs
            )
        blocks.append(f"<h3>step {_e(step.get('step'))} {_e(step.get('kind'))}</h3>{body}")
    return f'<details class="conv"><summary>conversation</summary>{"".join(blocks)}</details>'


def _test_section(index: int, record: Mapping[str, Any], extras: Mapping[str, Any]) -> str:
    outcome = str(record.get("outcome") or "unknown")
    failing = outcome in _FAILING or (record.get("continuity") or {}).get("ok") is False
    steps = record.get("steps") or []
    failed = record.get("failed_calls") or []
    figures = (
        f"{_plural(record['calls'], 'call')}, {_plural(len(record['session_ids']), 'session')}, "
        f"{_money(record['cost_usd'])}, {_plural(record['turns'], 'turn')}, "
        f"{_plural(record['errors'], 'error')}"
    )
    body = [render_graph(steps) and f'<div class="graph">{render_graph(steps)}</div>']
    body.append(_steps_table(steps) if steps else "<p>(no step recorded)</p>")
    if failed:
        body.append(_failed_table(failed))
    body.append(_verdicts(record, extras.get("verdicts")))
    body.append(_conversation(steps, extras.get("conversation")))
    return (
        f'<section class="test" id="t{index}" data-nodeid="{_e(record["nodeid"])}" '
        f'data-outcome="{_e(outcome)}" '
        f'data-failing="{1 if failing else 0}"><details{" open" if failing else ""}><summary>'
        f'<span class="badge o-{_e(outcome)}">{_e(outcome)}</span>'
        f'<span class="nodeid">{_e(record["nodeid"])}</span>'
        f'<span class="fig">{_e(figures)}</span></summary>'
        f'<div class="body">{"".join(body)}</div></details></section>'
    )


def render_html(
    run: Run, *, title: str = "Claude sessions", extras: Mapping[str, Mapping[str, Any]] | None = None
) -> str:
    """The report of ``run``. ``extras`` maps a node id to what the transcripts told about it
    (``verdicts``: continuity verdict dicts, ``conversation``: messages per step), see :func:`read_extras`."""
    t = run.totals()
    extras = extras or {}
    cards = [
        ("tests", str(t["tests"]), False),
        ("failed tests", str(t["failed_tests"]), t["failed_tests"] > 0),
        ("calls", str(t["calls"]), False),
        ("sessions", str(t["sessions"]), False),
        ("cost", _money(t["cost_usd"]), False),
        ("replayed calls", str(t["replayed_calls"]), False),
        ("turns", str(t["turns"]), False),
        ("errors", str(t["errors"]), t["errors"] > 0),
        ("continuity failures", str(t["continuity_failures"]), t["continuity_failures"] > 0),
        ("budget failures", str(t["budget_failures"]), t["budget_failures"] > 0),
    ]
    totals = "".join(
        f'<div class="card{" bad" if bad else ""}" data-total="{_e(name)}">'
        f"<b>{_e(value)}</b><span>{_e(name)}</span></div>"
        for name, value, bad in cards
    )
    sections = "".join(
        _test_section(i, rec, extras.get(str(rec["nodeid"]), {}))
        for i, rec in enumerate(failing_first(run.records))
    )
    sub = f"run {run.run_id}" + (f" · started {run.started_at}" if run.started_at else "")
    if run.merged_from:
        sub += f" · merged from {len(run.merged_from)} runs"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
        f"<style>{CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><div class="sub">{_e(sub)}</div></header>'
        f'<div class="totals">{totals}</div>'
        '<div class="tools"><input type="search" id="filter" placeholder="filter by node id">'
        '<label><input type="checkbox" id="only-failing"> only failing</label>'
        '<button id="expand" type="button">expand all</button><span id="shown"></span></div>'
        f"<main>{sections}</main><script>{SCRIPT}</script></body></html>\n"
    )


FRAGMENT_CLASS = "claude-sessions"
# The report's rules the graph and the steps table need, scoped to the fragment (another page's own
# tables and SVGs keep their look).
_FRAGMENT_PREFIXES = ("svg", "table", "th", "td", ".mono", ".err")


def _fragment_css() -> str:
    variables = re.search(r":root\{([^}]*)\}", CSS)
    rules = [f".{FRAGMENT_CLASS}{{{variables[1] if variables else ''}}}"]
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", CSS):
        parts = [s.strip() for s in selector.split(",")]
        if all(s.startswith(_FRAGMENT_PREFIXES) for s in parts):
            rules.append(",".join(f".{FRAGMENT_CLASS} {s}" for s in parts) + "{" + body + "}")
    return "".join(rules)


def session_fragment(record: Mapping[str, Any]) -> str:
    """One test's session graph and steps table as a self-contained HTML fragment (its CSS inline and
    scoped), for another report to embed: pytest-html's extras."""
    steps = record.get("steps") or []
    if not steps:
        return ""
    title = f"claude sessions: {_plural(len(steps), 'step')}, {_money(record.get('cost_usd'))}"
    return (
        f'<div class="{FRAGMENT_CLASS}"><style>{_fragment_css()}</style><h4>{_e(title)}</h4>'
        f'<div class="graph">{render_graph(steps)}</div>{_steps_table(steps)}</div>'
    )


def read_extras(
    run: Run, *, conversation: bool = True, verdicts: bool = True, redact: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """What the transcripts still on disk tell about each test: per-step continuity verdicts (with their
    evidence, weak ones marked) and the conversation, redacted with the built-in rules plus ``redact``
    (the project's patterns). Tests whose transcripts are gone get nothing."""
    from pytest_claude_sessions.redact import Redactor

    redactor = Redactor(redact)
    from pathlib import Path

    out: dict[str, dict[str, Any]] = {}
    for rec in run.records:
        steps = rec.get("steps") or []
        paths = [Path(str(s["transcript_path"])) for s in steps if s.get("transcript_path")]
        if not paths or not any(p.is_file() for p in paths):
            continue
        extra: dict[str, Any] = {}
        if conversation:
            from pytest_claude_sessions.report.conversation import step_conversations

            extra["conversation"] = step_conversations(steps, redactor)
        if verdicts and len(steps) > 1:
            extra["verdicts"] = _chain_verdicts(steps, paths[0])
        out[str(rec["nodeid"])] = extra
    return out


def _chain_verdicts(steps: Sequence[Mapping[str, Any]], transcript: Any) -> list[dict[str, Any]]:
    from pytest_claude_sessions.transcripts.validator import SessionValidator

    config_dir = transcript.parent.parent.parent  # <config>/projects/<project>/<session>.jsonl
    payload = [
        {
            "session_id": s.get("session_id"),
            "leaf_uuid": s.get("leaf_uuid"),
            "kind": s.get("kind"),
            "parent_session_id": s.get("parent_session_id"),
        }
        for s in steps
    ]
    try:
        return [v.to_dict() for v in SessionValidator(config_dir).check_chain(payload)]
    except Exception as exc:  # a damaged transcript must not cost the report; the reason is shown instead
        return [{"ok": False, "kind": "chain", "reason": f"could not check: {exc}", "basis": ""}]
