"""The HTML report: rendered from a real run (the real CLI against the stub, ``-n 2``), checked as text
and in a real headless browser over DevTools (nodes, edges, scripts ran, nothing fetched)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from browser import Browser, find_chromium
from inner_runs import SUITE, clean_env, run_pytest

from pytest_claude_sessions.commands.main import main
from pytest_claude_sessions.models import SessionInfo
from pytest_claude_sessions.report.graph import chain_graph, edges
from pytest_claude_sessions.report.html import render_graph, render_html
from pytest_claude_sessions.report.model import Run, find_run, load_run
from pytest_claude_sessions.report.records import build_test_record


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import find_claude_bin

    claude = find_claude_bin()
    if claude is None:
        pytest.skip("the Claude Code CLI is not installed (bash scripts/install-claude-cli.sh)")
    root = tmp_path_factory.mktemp("html")
    done = run_pytest(
        root,
        "-n",
        "2",
        f"--claude-bin={claude}",
        f"--basetemp={root / 'bt'}",
        suite=SUITE,
        env=clean_env(SUITE_VARIANT="2"),
    )
    assert "1 failed" in done.stdout, done.stdout + done.stderr
    return root


@pytest.fixture(scope="module")
def report(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["html", "--store", str(project / ".claude_sessions"), "-o", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        msg = "no headless Chromium: apt-get install chromium-headless-shell (scripts/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return found


def step(n: int, kind: str, sid: str, parent: str | None = None, **kw: object) -> SessionInfo:
    from datetime import UTC, datetime

    return SessionInfo(
        session_id=sid,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        interaction_count=n,
        last_prompt=f"p{n}",
        last_response="r",
        kind=kind,
        parent_session_id=parent,
        cost_usd=0.01,
        num_turns=1,
        **kw,  # type: ignore[arg-type]
    )


A, B, C = (
    "a" * 8 + "-0000-4000-8000-" + "0" * 12,
    "b" * 8 + "-0000-4000-8000-" + "0" * 12,
    "c" * 8 + "-0000-4000-8000-" + "0" * 12,
)


def test_graph_edges_follow_the_parent_session() -> None:
    steps = [
        build_test_record(
            "t",
            "t",
            [
                step(1, "new", A),
                step(2, "resume", A, A),
                step(3, "fork", B, A),
                step(4, "resume", A, A),
                step(5, "continue", B, B),
                step(6, "new", C),
            ],
        )["steps"]
    ][0]
    nodes = chain_graph(steps)
    assert edges(nodes) == [(0, 1, "resume"), (1, 2, "fork"), (1, 3, "resume"), (2, 4, "continue")]
    assert [n.parent for n in nodes] == [None, 0, 1, 1, 2, None]
    svg = render_graph(steps)
    assert len(re.findall(r'<g class="node ', svg)) == 6
    assert re.findall(r'data-from="(\d+)" data-to="(\d+)" data-kind="(\w+)"', svg) == [
        ("1", "2", "resume"),
        ("2", "3", "fork"),
        ("2", "4", "resume"),
        ("3", "5", "continue"),
    ]


def test_html_is_self_contained_escaped_failing_first_and_deterministic() -> None:
    evil = 'test_x.py::test_<script>alert("x")</script>'
    records = [
        build_test_record("a.py::test_ok", "a.py::test_ok", [step(1, "new", A)], outcome="passed"),
        build_test_record(evil, evil, [step(1, "new", B, error="boom <b>", is_error=True)], outcome="failed"),
    ]
    run = Run("2026-01-01T00-00-00.000000Z-abcdef", "x", records)
    text = render_html(run)
    assert text == render_html(Run("2026-01-01T00-00-00.000000Z-abcdef", "x", list(reversed(records))))
    assert "<script>alert" not in text and "&lt;script&gt;alert" in text
    assert "boom &lt;b&gt;" in text
    assert text.index("test_&lt;script&gt;") < text.index("a.py::test_ok")  # the failing test first
    assert 'class="node error"' in text and 'class="node ok"' in text
    # nothing that could fetch: no external URL anywhere, and a policy forbidding every fetch
    assert not re.search(r'(src|href)\s*=\s*"(?!#)', text)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text)
    assert "default-src 'none'" in text


def test_report_of_a_real_run(report: Path) -> None:
    text = report.read_text()
    sections = re.findall(r'<section class="test" id="t\d+" data-nodeid="([^"]+)" data-outcome="(\w+)"', text)
    assert sections[0] == ("test_inner.py::test_fails", "failed")
    assert {n for n, _ in sections} == {
        "test_inner.py::test_chain",
        "test_inner.py::test_fails",
        "test_inner.py::test_raises",
        "test_inner.py::test_added",
    }
    assert "calls that raised (1, no step recorded)" in text
    assert "continuity verdicts (from the transcripts)" in text
    assert text.count('<tr class="verdict ok">') == 3  # resume, resume, fork: each checked in the transcripts
    assert "<b>assistant</b>: Your name is Alice." in text


def test_report_in_a_headless_browser(report: Path, chromium: str, tmp_path: Path) -> None:
    url = report.as_uri()
    with Browser(chromium) as browser:
        page = browser.open(url + "#all")
        facts = page.evaluate(
            """JSON.stringify({
              ready: document.body.getAttribute('data-ready'),
              shown: document.getElementById('shown').textContent,
              tests: [].map.call(document.querySelectorAll('section.test'), function (s) {
                return {id: s.getAttribute('data-nodeid'), open: s.querySelector('details').open,
                  nodes: [].map.call(s.querySelectorAll('svg g.node'), function (g) {
                    var r = g.querySelector('rect').getBoundingClientRect();
                    return [g.getAttribute('data-step'), g.getAttribute('data-kind'),
                            r.width > 0 && r.height > 0];
                  }),
                  edges: [].map.call(s.querySelectorAll('svg path.edge'), function (e) {
                    return [e.getAttribute('data-from'), e.getAttribute('data-to'),
                            e.getAttribute('data-kind'), e.getTotalLength() > 0];
                  })};
              })})"""
        )
        page.drain()
        page.screenshot(tmp_path / "report.png")
        requests = list(page.requests)
    import json

    data = json.loads(facts)
    assert data["ready"] == "1" and data["shown"] == "4 of 4 tests shown"
    tests = {t["id"]: t for t in data["tests"]}
    assert all(t["open"] for t in tests.values())  # the #all link expanded every test
    chain = tests["test_inner.py::test_chain"]
    assert chain["nodes"] == [
        ["1", "new", True],
        ["2", "resume", True],
        ["3", "resume", True],
        ["4", "fork", True],
    ]
    assert chain["edges"] == [
        ["1", "2", "resume", True],
        ["2", "3", "resume", True],
        ["3", "4", "fork", True],
    ]
    assert tests["test_inner.py::test_raises"]["nodes"] == []
    assert requests == [url]  # the document itself, nothing else
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_browser_check_sees_a_fetch(chromium: str, tmp_path: Path) -> None:
    """The control: the observer does see a request when a page makes one (so the test above can fail)."""
    page_file = tmp_path / "leaky.html"
    page_file.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/pixel.png"></body></html>')
    with Browser(chromium) as browser:
        page = browser.open(page_file.as_uri())
        page.drain()
        assert "http://127.0.0.1:9/pixel.png" in page.requests


def test_merged_store_report(project: Path, tmp_path: Path) -> None:
    merged = tmp_path / "merged"
    assert main(["merge", str(project / ".claude_sessions"), "--into", str(merged)]) == 0
    out = tmp_path / "merged.html"
    assert main(["html", "--store", str(merged), "-o", str(out), "-q", "--no-transcripts"]) == 0
    run = load_run(find_run(merged, None))
    text = out.read_text()
    assert f'data-total="tests"><b>{run.totals()["tests"]}</b>' in text
    assert "merged from 1 runs" in text


def test_the_plugin_writes_the_same_report_with_and_without_xdist(tmp_path: Path) -> None:
    """``--claude-html``: replayed cassettes (recorded with the real CLI against the stub) give the same
    sessions every run, so the reports of a run with and without ``-n 2`` differ only in the run's id and
    start; each is byte for byte what ``claude-sessions html`` writes for that run."""
    from conftest import find_claude_bin
    from inner_runs import record_gate_cassettes, replay_gate

    claude = find_claude_bin()
    if claude is None:
        pytest.skip("the Claude Code CLI is not installed (bash scripts/install-claude-cli.sh)")
    root = record_gate_cassettes(tmp_path / "suite", claude)
    texts = []
    for name, extra in (("serial", ()), ("xdist", ("-n", "2"))):
        done = replay_gate(root, "base", f"--claude-html=out/{name}.html", *extra)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"HTML report: {root / 'out' / name}.html" in done.stdout
        text = (root / "out" / f"{name}.html").read_text()
        again = tmp_path / f"{name}-command.html"
        assert main(["html", "--store", str(root / ".claude_sessions"), "-o", str(again), "-q"]) == 0
        assert again.read_bytes() == (root / "out" / f"{name}.html").read_bytes()
        texts.append(re.sub(r'<div class="sub">[^<]*</div>', "", text))
    assert texts[0] == texts[1]
    sections = re.findall(r'<section class="test" id="t\d+" data-nodeid="([^"]+)"', texts[0])
    assert sections == ["test_inner.py::test_chain", "test_inner.py::test_steady"]
    assert texts[0].count('class="edge resume"') == 1  # test_chain: new → resume
    assert "<b>assistant</b>: Nice to meet you, Alice!" in texts[0]  # the replayed transcripts' conversation


PYTEST_HTML_DIR = Path(__file__).resolve().parent.parent / ".pytest-html"


def _pytest_html_rows(report: Path) -> dict[str, list[str]]:
    """Per test id, the html extras of its rows in a pytest-html 4 report (its data is a JSON blob)."""
    import html as html_lib
    import json

    blob = re.search(r'data-jsonblob="([^"]*)"', report.read_text())
    assert blob is not None, "not a pytest-html 4 report"
    data = json.loads(html_lib.unescape(blob[1]))
    return {
        test_id: [e["content"] for row in rows for e in row.get("extras", []) if e["format_type"] == "html"]
        for test_id, rows in data["tests"].items()
    }


def test_pytest_html_gets_the_graph_and_steps_as_extras(tmp_path: Path) -> None:
    """With pytest-html (optional; scripts/test.sh puts it in .pytest-html/, never in the venv) each test's
    session graph and steps table are extras of its row, with and without xdist."""
    from conftest import find_claude_bin
    from inner_runs import record_gate_cassettes, replay_gate

    if not (PYTEST_HTML_DIR / "pytest_html").is_dir():
        msg = "pytest-html is not in .pytest-html/ (bash scripts/test.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    claude = find_claude_bin()
    if claude is None:
        pytest.skip("the Claude Code CLI is not installed (bash scripts/install-claude-cli.sh)")
    root = record_gate_cassettes(tmp_path / "suite", claude)
    seen = []
    for name, extra in (("serial", ()), ("xdist", ("-n", "2"))):
        done = replay_gate(
            root,
            "base",
            f"--html=out/{name}.html",
            "--self-contained-html",
            *extra,
            pythonpath=str(PYTEST_HTML_DIR),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        rows = _pytest_html_rows(root / "out" / f"{name}.html")
        chain = [c for c in rows["test_inner.py::test_chain"] if 'class="claude-sessions"' in c]
        assert len(chain) == 1, rows
        assert chain[0].count('<g class="node ok replayed"') == 2 and 'class="edge resume"' in chain[0]
        assert '<table class="steps">' in chain[0] and "my name is Alice" in chain[0]
        assert not any("claude-sessions" in c for c in rows["test_inner.py::test_plain"])  # no Claude call
        seen.append(chain[0])
    assert seen[0] == seen[1]
    # without --html nothing is added (and with pytest-html absent the plugin never imports it)
    plain = replay_gate(root, "base", pythonpath=str(PYTEST_HTML_DIR))
    assert plain.returncode == 0 and "html-4.2.0" in plain.stdout, plain.stdout


def test_redact_patterns_reach_the_conversation_and_a_bad_one_is_a_usage_error(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(project / ".claude_sessions")
    plain, redacted = tmp_path / "plain.html", tmp_path / "redacted.html"
    assert main(["html", "--store", store, "-o", str(plain), "-q"]) == 0
    assert main(["html", "--store", store, "-o", str(redacted), "-q", "--redact", "Ali[c]e"]) == 0

    def conversations(html: str) -> str:  # the patterns apply to what is read from the transcripts
        return "".join(re.findall(r'<details class="conv">.*?</details>', html, flags=re.S))

    assert "my name is Alice" in conversations(plain.read_text())  # there to be redacted
    text = conversations(redacted.read_text())
    assert "Alice" not in text and "my name is [REDACTED:custom]" in text
    assert main(["html", "--store", store, "-o", str(tmp_path / "x.html"), "--redact", "[bad"]) == 2
    assert "--redact: invalid redaction pattern '[bad'" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
