"""Per-test logic: the test's state in ``item.stash``, its agent id and cwd from the markers, the executor
it gets, the checks after its body (continuity, budget), its record, and the per-test hooks.

Only tests that use a Claude fixture (or carry ``claude_session``) get a state; the per-test hooks are
registered on first need, so a suite that never touches Claude pays nothing per test.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_claude_sessions.plugin import markers
from pytest_claude_sessions.plugin.state import RunView, TestState, existing_state, state

if TYPE_CHECKING:
    from pytest_claude_sessions.assertions import budget
    from pytest_claude_sessions.executor.executor import ClaudeExecutor
    from pytest_claude_sessions.redact import Redactor
    from pytest_claude_sessions.store.tracker import SessionTracker
    from pytest_claude_sessions.transcripts.chain import ChainContinuity


# --------------------------------------------------------------------------- markers


def session_kwargs(item: pytest.Item) -> dict[str, Any]:
    return markers.kwargs_or_fail(item, "claude_session")


def agent_id(item: pytest.Item) -> str:
    """``claude_session(agent=...)``, else the node id (without an xdist group suffix)."""
    agent = session_kwargs(item).get("agent")
    if agent is not None:
        if not isinstance(agent, str) or not agent.strip():
            pytest.fail(f"claude_session(agent=...) must be a non-empty string, got {agent!r}", pytrace=False)
        return agent
    group = item.get_closest_marker("xdist_group")
    name = None
    if group is not None:
        name = group.args[0] if group.args else group.kwargs.get("name")
    from pytest_claude_sessions.store.runs import node_agent_id

    return node_agent_id(item.nodeid, str(name) if name is not None else None)


def marker_cwd(item: pytest.Item, tmp_path: Path) -> Path:
    """``claude_session(cwd=...)``: absolute as given (it must exist); relative under the test's tmp_path
    (created there, so a test can name a sub-directory without making it first)."""
    raw = session_kwargs(item).get("cwd")
    if raw is None:
        return tmp_path
    if not isinstance(raw, str | os.PathLike) or not os.fspath(raw).strip():
        pytest.fail(f"claude_session(cwd=...) must be a non-empty path, got {raw!r}", pytrace=False)
    path = Path(os.fspath(raw)).expanduser()
    if not path.is_absolute():
        path = tmp_path / path
        if path.resolve().is_relative_to(tmp_path.resolve()):
            path.mkdir(parents=True, exist_ok=True)
    if not path.is_dir():
        pytest.fail(
            f"claude_session(cwd={os.fspath(raw)!r}): {path} is not a directory (a relative cwd is taken "
            "under the test's tmp_path; an absolute one must exist)",
            pytrace=False,
        )
    return path


# --------------------------------------------------------------------------- collection: gating


def _integration_missing(run: RunView) -> list[str]:
    missing: list[str] = []
    if not run.settings.integration:
        missing.append("--claude-integration (or ini claude_integration / env PYTEST_CLAUDE_INTEGRATION=1)")
    if run.resolved_bin() == "not found":
        missing.append(
            "the claude CLI (not on PATH nor in node_modules/.bin under the rootdir; set --claude-bin "
            "or $CLAUDE_BIN)"
        )
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        missing.append("an API key ($ANTHROPIC_API_KEY or $ANTHROPIC_AUTH_TOKEN)")
    return missing


def gate_items(run: RunView, items: list[pytest.Item]) -> None:
    """Skip ``claude_integration`` tests unless enabled (naming everything missing); register the
    per-test hooks when a test carries ``claude_session`` (it may fail without using a fixture)."""
    marked: list[pytest.Item] = []
    inherited: dict[int, frozenset[str]] = {}  # marker names of a parent node and its ancestors
    for item in items:
        # This runs for every test of suites that never use Claude: each parent's markers are read once,
        # then only the item's own (usually none).
        names = _parent_marker_names(item.parent, inherited)
        if item.own_markers:
            names = names | {m.name for m in item.own_markers}
        if "claude_integration" in names:
            marked.append(item)
        if "claude_session" in names:
            run.need_per_test_hooks()
    if not marked:
        return
    missing = _integration_missing(run)
    if missing:
        skip = pytest.mark.skip(reason="claude_integration needs " + "; ".join(missing))
        for item in marked:
            item.add_marker(skip)


def _parent_marker_names(
    node: pytest.Collector | pytest.Item | None, cache: dict[int, frozenset[str]]
) -> frozenset[str]:
    if node is None:
        return frozenset()
    names = cache.get(id(node))
    if names is None:
        names = _parent_marker_names(node.parent, cache) | {m.name for m in node.own_markers}
        cache[id(node)] = names
    return names


# --------------------------------------------------------------------------- the executor


def build_executor(
    request: pytest.FixtureRequest, run: RunView, tracker: SessionTracker, tmp_path: Path
) -> ClaudeExecutor:
    """Build the test's executor: isolated config dir, cwd, binary, timeout, stub env, suite guard and
    its cassette. This is the one place executors are made; the ``pytest_claude_sessions_executor``
    hook then lets conftests and plugins adjust it."""
    from pytest_claude_sessions.executor.executor import ClaudeExecutor

    settings = run.settings
    budget_limits(request.node)  # a bad claude_budget value errors here, before any call spends money
    env = (
        request.getfixturevalue("claude_api_stub").env()
        if "claude_api_stub" in request.fixturenames
        else None
    )
    guards: list[Any] = []
    if settings.budget_usd is not None:
        from pytest_claude_sessions.assertions import budget

        guards.append(budget.SuiteBudgetGuard(settings.budget_usd, lambda: _run_spend(run.run_dir)))
    executor = ClaudeExecutor(
        settings.bin,
        cwd=marker_cwd(request.node, tmp_path),
        config_dir=tmp_path / ".claude",
        env=env,
        timeout=settings.timeout,
        tracker=tracker,
        guards=guards,
        # The test runs in its tmp_path: a CLI installed in the project (node_modules/.bin) is found from
        # pytest's rootdir and invocation dir.
        search_paths=run.search_roots,
    )
    from pytest_claude_sessions.plugin.cassette_item import uses_cassette

    if uses_cassette(request.node, settings):
        executor.interceptor = request.getfixturevalue("claude_cassette")
    from pytest_claude_sessions.plugin.progress import progress_for

    executor.progress = progress_for(request.config)  # -v on a terminal: live calls show their progress
    state(request.node, run).executor = executor
    request.config.hook.pytest_claude_sessions_executor(executor=executor, request=request)
    return executor


def _run_spend(run_dir: Path) -> budget.Spend:
    """What every worker of this run has spent so far, read from the shared store."""
    from pytest_claude_sessions.assertions import budget
    from pytest_claude_sessions.store.session_store import SessionStore

    chains = SessionStore(run_dir).load_all()
    return budget.Spend.of(step for chain in chains.values() for step in chain)


# --------------------------------------------------------------------------- checks after the body


def continuity_result(judgement: ChainContinuity) -> dict[str, Any]:
    """The test's continuity verdict as reported: ``ok``, ``reason``, and what was checked
    (``strength``: ``strong`` when every continuation was matched against the transcript leaf recorded
    after the previous call, ``weak`` when a step had none; ``weak_reason`` says which and why)."""
    data = judgement.to_dict()
    data.pop("verdicts", None)  # per-step detail stays in the store's transcripts; the record stays small
    data["weak_reason"] = "; ".join(judgement.weak_reasons) or None
    return data


def check_after_body(item: pytest.Item, test: TestState) -> list[str]:
    """Continuity (claude_session(expect_continuity=True)) and budget (claude_budget) after a passing body."""
    from pytest_claude_sessions.assertions import budget
    from pytest_claude_sessions.transcripts.chain import check_chain_continuity

    failures: list[str] = []
    steps = test.steps()
    marker = session_kwargs(item)
    if marker.get("expect_continuity"):
        # Without an executor (session_tracker alone) the transcripts are read where the steps say.
        validator = test.executor.validator if test.executor is not None else None
        judgement = check_chain_continuity(
            steps, validator, allow_new_sessions=bool(marker.get("allow_new_sessions"))
        )
        test.continuity = continuity_result(judgement)
        if judgement.reasons:
            failures.append("session chain is not continuous:\n  " + "\n  ".join(judgement.reasons))
    limits = budget_limits(item)
    if limits is not None:
        verdict = budget.check_budget(steps, limits)
        test.budget = verdict.to_dict()
        if not verdict.ok:
            failures.append("claude_budget exceeded: " + "; ".join(verdict.reasons))
    return failures


def budget_limits(item: pytest.Item) -> budget.BudgetLimits | None:
    """The test's ``claude_budget`` limits (``None`` without the marker); a bad value fails the test."""
    __tracebackhide__ = True
    from pytest_claude_sessions.assertions import budget

    if not _has(item, "claude_budget"):
        return None
    try:
        return budget.BudgetLimits.from_kwargs(markers.kwargs_or_fail(item, "claude_budget"))
    except ValueError as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)  # outside the except: the message once, no exception chain


def _has(item: pytest.Item, name: str) -> bool:
    return item.get_closest_marker(name) is not None


# --------------------------------------------------------------------------- the test's record


def _failed_calls(test: TestState) -> list[dict[str, Any]]:
    """The test's calls that raised (timeout, unknown session, budget guard, no binary...) as report rows.

    A ``check=True`` error result raised too, but it did record a step (with its error): it is counted
    there, not again here.
    """
    if test.executor is None or test.tracker is None:
        return []
    from pytest_claude_sessions.report.records import failure_record

    redact = test.tracker.redactor.redact
    return [failure_record(c.to_dict(), redact) for c in test.executor.failures if c.result is None]


def build_record(
    item: pytest.Item, test: TestState, *, outcome: str = "passed", empty: bool = False
) -> dict[str, Any] | None:
    """The test's record, as the section, junit and the reports show it; ``None`` when it made no call,
    unless ``empty`` (a test that errored at set-up is a row all the same)."""
    steps = test.steps()
    failed = _failed_calls(test)
    if not steps and not failed and not empty:
        return None
    from pytest_claude_sessions.report.records import build_test_record

    redact_id = test.redactor().redact_id  # a parametrize id may hold a secret
    return build_test_record(
        redact_id(item.nodeid),
        test.agent_id or redact_id(item.nodeid),  # no agent yet when its marker was the error
        steps,
        outcome=outcome,
        continuity=test.continuity,
        budget=test.budget,
        failures=failed,
    )


def finish_record(item: pytest.Item, test: TestState) -> None:
    """At the tracker's teardown (before the teardown report is built: the junit properties added here
    reach junitxml, which reads the teardown report's copy of user_properties)."""
    from pytest_claude_sessions.plugin import reporting

    outcome = "passed"
    for when in ("setup", "call"):
        if test.outcomes.get(when) in ("failed", "skipped"):
            outcome = test.outcomes[when]
            break
    test.record = build_record(item, test, outcome=outcome) or test.record  # keep a set-up error's record
    if test.record is not None:
        item.user_properties.extend(reporting.junit_properties(test.record))


def _wire(test: TestState, nodeid: str, failed: bool) -> dict[str, Any] | None:
    """What the teardown report carries to the controller (JSON-safe: xdist copies it)."""
    record = test.record
    if record is not None and failed:
        record["outcome"] = "failed"
    cassette = None if test.cassette is None or test.cassette.report is None else test.cassette.wire(nodeid)
    if record is None and cassette is None:
        return None
    return {"record": record, "cassette": cassette}


# --------------------------------------------------------------------------- hooks


def compare_repr(op: str, left: object, right: object) -> list[str] | None:
    """``pytest_assertrepr_compare``: session id lists and chains compared step by step; a comparison
    whose operands hold a secret is shown redacted (pytest's own explanation truncates the operands, which
    can cut a key so that no rule matches what is left of it)."""
    from pytest_claude_sessions.assertions.continuity import compare_repr as chain_repr

    found = chain_repr(op, left, right)
    return found if found is not None else _redacted_comparison(op, left, right)


def _redacted_comparison(op: str, left: object, right: object) -> list[str] | None:
    from pytest_claude_sessions.redact import Redactor

    redact = Redactor().redact
    shown = [repr(left)[:_COMPARED_MAX], repr(right)[:_COMPARED_MAX]]  # bounded before the rules run
    clean = [redact(text) for text in shown]
    if clean == shown:
        return None
    short = [c if len(c) <= 60 else f"{c[:28]}...{c[-28:]}" for c in clean]  # cut after redaction: safe
    return [
        f"{short[0]} {op} {short[1]}",
        "the compared values hold secrets; shown redacted:",
        f"left:  {clean[0]}",
        f"right: {clean[1]}",
    ]


_COMPARED_MAX = 10_000


class PerTestHooks:
    """Per-test hooks: checks after the body, the report section, outcomes, the data on the teardown
    report. Registered on first need (see ``RunView.need_per_test_hooks``)."""

    def __init__(self, run: RunView) -> None:
        self.run = run

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from after_body(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        return note_report(item, (yield))


def after_body(item: pytest.Item) -> Generator[None, object, object]:
    """Around the body: then continuity/budget checks and the report section (before the call report)."""
    test = existing_state(item)
    if test is None or test.tracker is None:
        result = yield
        if _has(item, "claude_session") and session_kwargs(item).get("expect_continuity"):
            pytest.fail(
                "claude_session(expect_continuity=True) but the test recorded no chain: it used neither "
                "session_tracker nor claude_executor",
                pytrace=False,
            )
        return result
    failures: list[str] = []
    try:
        result = yield
        failures = check_after_body(item, test)
    finally:
        record = build_record(item, test)
        if record is not None:
            from pytest_claude_sessions.plugin import reporting

            item.add_report_section("call", reporting.SECTION_KEY, reporting.section_text(record))
    if failures:
        from pytest_claude_sessions.assertions.continuity import format_chain

        steps = test.steps()
        table = format_chain(steps) if steps else "(no steps)"
        pytest.fail("\n".join(failures) + f"\nchain of agent {test.agent_id}:\n{table}", pytrace=False)
    return result


def note_report(item: pytest.Item, rep: pytest.TestReport) -> pytest.TestReport:
    test = existing_state(item)
    if test is not None:
        if rep.failed:
            redact_failure(rep, test.redactor())
            if rep.when == "setup" and test.record is None:
                # a Claude test that errored before its body (a bad marker, ...) is still a row of the
                # reports: it made no call, and it did not pass
                test.record = build_record(item, test, outcome="failed", empty=True)
        test.outcomes[rep.when] = rep.outcome
        if rep.when == "teardown":
            data = _wire(test, test.redactor().redact_id(item.nodeid), rep.failed)
            if data is not None:
                rep.claude_sessions = data  # type: ignore[attr-defined]
                from pytest_claude_sessions.plugin import html_extras

                html_extras.add(item.config, rep, data.get("record"))
    return rep


def redact_failure(rep: pytest.TestReport, redactor: Redactor) -> None:
    """pytest's own text of a failure (the traceback with its assertion details and locals, the captured
    output) goes to the terminal and junit: a secret in it (a prompt echoed in an assertion, the agent's
    argv among the locals) is replaced. The structured traceback stays when nothing needed replacing."""
    if rep.longrepr is not None and not isinstance(rep.longrepr, tuple):  # a tuple is a skip's location
        text = str(rep.longrepr)
        clean = redactor.redact(text)
        if clean != text:
            # in place, so the crash line stays for the short summary, junit's message and xdist
            _scrub(rep.longrepr, redactor.redact, set())
            after = str(rep.longrepr)
            if redactor.redact(after) != after:  # a piece the walk did not reach: keep the safe text
                rep.longrepr = clean
    rep.sections = [(name, redactor.redact(content)) for name, content in rep.sections]


def _scrub(value: Any, redact: Callable[[str], str], seen: set[int]) -> Any:
    """``value`` with every string inside redacted: lists and pytest's repr dataclasses (traceback entries,
    locals, function arguments, the crash location) in place, tuples rebuilt."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        value[:] = [_scrub(v, redact, seen) for v in value]
        return value
    if isinstance(value, tuple):
        return tuple(_scrub(v, redact, seen) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and id(value) not in seen:
        seen.add(id(value))
        for f in dataclasses.fields(value):
            setattr(value, f.name, _scrub(getattr(value, f.name), redact, seen))
    return value
