"""The core shared by every client of a CLI run: the option table both ways (layout and parse_argv),
``invocation`` for an argv someone else built, and ``CallCore`` (the chain's totals before a call, the
transcript facts after it, one step per result)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from pytest_claude_sessions.executor.core import Before, CallCore, dispatch, invocation
from pytest_claude_sessions.executor.executor import ClaudeExecutor, RunOptions
from pytest_claude_sessions.executor.options import (
    CALL_OPTION_NAMES,
    MATCHED_OPTIONS,
    OPTION_SPECS,
    CallOptions,
    layout,
    parse_argv,
)
from pytest_claude_sessions.models import CliCall, CliOutcome, TranscriptFacts
from pytest_claude_sessions.store.tracker import SessionTracker
from pytest_claude_sessions.transcripts.validator import SessionValidator

S1 = "13530587-ae0e-4e17-8473-cad43d4119bb"
S2 = "381aeb4e-834b-48fb-93dd-244d123c855b"
SDK_SAMPLES = Path("/work/shared/reference/samples/sdk_duplex")


def test_the_table_and_call_options_list_the_same_keys() -> None:
    assert set(OPTION_SPECS) == CALL_OPTION_NAMES == set(get_type_hints(CallOptions))
    assert set(get_type_hints(RunOptions)) == CALL_OPTION_NAMES | {"on_event", "check"}
    assert MATCHED_OPTIONS == (
        "model",
        "max_turns",
        "allowed_tools",
        "disallowed_tools",
        "permission_mode",
        "system_prompt",
        "append_system_prompt",
        "extra_args",
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"resume": S1},
        {"resume": S1, "fork": True, "session_id": S2},
        {"continue_": True},
        {"continue_": True, "fork": True},
        {"session_id": S2, "model": "sonnet", "max_turns": 3},
        {"allowed_tools": ["Read", "Bash"], "disallowed_tools": "Write", "permission_mode": "plan"},
        {"system_prompt": "-be brief", "append_system_prompt": "x=y", "output_format": "stream-json"},
        {"extra_args": ["--add-dir", "/tmp/x", "--strict-mcp-config"]},
    ],
)
def test_parse_argv_reads_back_what_layout_lays_out(options: dict[str, Any]) -> None:
    laid = layout("claude", "-a prompt -- with dashes", options)
    parsed = parse_argv(laid.argv[1:])
    assert parsed.prompt == "-a prompt -- with dashes"
    assert parsed.kind == laid.kind
    assert parsed.print_mode
    assert {name: parsed.options[name] for name in MATCHED_OPTIONS} == laid.options
    for name in ("resume", "session_id"):
        assert parsed.options[name] == options.get(name)
    for name in ("continue_", "fork"):
        assert parsed.options[name] is bool(options.get(name))
    assert parsed.options["output_format"] == options.get("output_format", "json")


@pytest.mark.parametrize(
    ("argv", "kind", "resume"),
    [
        (["-p", "--resume", S1, "hi"], "resume", S1),
        (["-p", f"--resume={S1}", "hi"], "resume", S1),
        (["-p", "-r", S1, "hi"], "resume", S1),
        (["-p", "-r", S1, "--fork-session", "hi"], "fork", S1),
        (["-p", "--continue", "hi"], "continue", None),
        (["-p", "-c", "hi"], "continue", None),
        (["-p", "--session-id", S2, "hi"], "new", None),
    ],
)
def test_parse_argv_accepts_every_spelling_of_the_session_flags(
    argv: list[str], kind: str, resume: str | None
) -> None:
    parsed = parse_argv(argv)
    assert (parsed.kind, parsed.options["resume"], parsed.prompt) == (kind, resume, "hi")
    assert parsed.extra_args == []


def test_parse_argv_of_the_agent_sdk_keeps_unknown_flags_in_order() -> None:
    """The argv Agent SDK 0.2.139 passed to CLI 2.1.330 for a resumed query (samples/sdk_duplex)."""
    sample = SDK_SAMPLES / "4-query-resume.argv.txt"
    args = sample.read_text().split("\n") if sample.is_file() else [
        "--output-format", "stream-json", "--verbose", "--system-prompt", "",
        f"--resume={S2}", "--input-format", "stream-json",
    ]  # fmt: skip
    args = args[:-1] if args and args[-1] == "" and len(args) > 8 else args
    parsed = parse_argv(args)
    assert parsed.kind == "resume"
    assert parsed.options["resume"] == S2
    assert parsed.options["output_format"] == "stream-json"
    assert parsed.options["system_prompt"] == ""
    assert parsed.input_format == "stream-json"
    assert parsed.extra_args == ["--input-format", "stream-json"]
    assert parsed.prompt is None
    assert not parsed.print_mode


def test_invocation_takes_the_prompt_from_stdin_when_the_argv_has_none(tmp_path: Path) -> None:
    call = invocation(
        ["/usr/bin/claude", "-p", "--output-format", "json", "--model", "haiku"],
        cwd=tmp_path,
        config_dir=tmp_path / "cfg",
        env={"PATH": "/usr/bin"},
        timeout=30,
        stdin=b"what is my name?\n",
    )
    assert (call.prompt, call.kind, call.output_format, call.stdin) == (
        "what is my name?",
        "new",
        "json",
        b"what is my name?\n",
    )
    assert call.options["model"] == "haiku"
    assert call.options["extra_args"] is None


def _outcome(session_id: str, total: float, *, replayed: bool = True, **kw: Any) -> CliOutcome:
    payload = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": "ok",
        "session_id": session_id,
        "total_cost_usd": total,
        "num_turns": 1,
    }
    return CliOutcome(0, json.dumps(payload) + "\n", "", 0.01, replayed=replayed, **kw)


def _call(tmp_path: Path, **options: Any) -> CliCall:
    ex = ClaudeExecutor("/nonexistent/claude", cwd=tmp_path, config_dir=tmp_path / "cfg")
    return ex.build_call("hi", **options)


def test_the_cost_of_a_resume_comes_from_the_chain_without_reading_a_transcript(tmp_path: Path) -> None:
    """No transcript exists at all: the previous total can only come from the tracker's chain."""
    tracker = SessionTracker("agent", tmp_path / "store")
    core = CallCore(SessionValidator(tmp_path / "cfg"), tracker)
    first = core.complete(_call(tmp_path), _outcome(S1, 0.25), Before(None, 0.0))
    assert (first.cost_usd, first.total_cost_usd) == (0.25, 0.25)

    fresh = CallCore(SessionValidator(tmp_path / "cfg"), SessionTracker("agent", tmp_path / "store"))
    resume = _call(tmp_path, resume=S1)
    before = fresh.before(resume)
    assert before == Before(S1, 0.25)
    second = fresh.complete(resume, _outcome(S1, 0.75), before)
    assert second.cost_usd == 0.5
    assert [step.cost_usd for step in tracker.session_chain] == [0.25, 0.5]


def test_without_a_tracker_the_core_remembers_the_sessions_it_completed(tmp_path: Path) -> None:
    core = CallCore(SessionValidator(tmp_path / "cfg"))
    core.complete(_call(tmp_path), _outcome(S1, 0.1), Before(None, 0.0))
    assert core.before(_call(tmp_path, resume=S1, fork=True)) == Before(S1, 0.1)
    assert core.before(_call(tmp_path, resume=S2)) == Before(S2, None)  # unknown: no guess


def test_the_transcript_facts_of_a_replay_make_the_step_without_a_scan(tmp_path: Path) -> None:
    """The facts name a file that does not exist: had the core scanned, the step would have no leaf."""
    tracker = SessionTracker("agent", tmp_path / "store")
    core = CallCore(SessionValidator(tmp_path / "cfg"), tracker)
    facts = TranscriptFacts(tmp_path / "cfg" / "projects" / "p" / f"{S1}.jsonl", "leaf-1", "2.1.330")
    result = core.complete(_call(tmp_path), _outcome(S1, 0.1, transcript=facts), Before(None, 0.0))
    assert result.transcript_path == facts.path
    assert result.cli_version == "2.1.330"
    (step,) = tracker.session_chain
    assert step.metadata is not None
    assert step.metadata["leaf_uuid"] == "leaf-1"


def test_dispatch_goes_to_proceed_without_an_interceptor(tmp_path: Path) -> None:
    call = _call(tmp_path)
    seen: list[CliCall] = []

    def proceed(c: CliCall) -> CliOutcome:
        seen.append(c)
        return _outcome(S1, 0.0, replayed=False)

    assert dispatch(call, proceed, None).returncode == 0
    assert seen == [call]


def test_run_refuses_an_unknown_keyword_naming_the_call_options(tmp_path: Path) -> None:
    ex = ClaudeExecutor("/nonexistent/claude", cwd=tmp_path, config_dir=tmp_path / "cfg")
    with pytest.raises(TypeError, match=r"run\(\) got unexpected keyword argument\(s\) 'resum'"):
        ex.run("hi", resum=S1)  # type: ignore[call-arg]
