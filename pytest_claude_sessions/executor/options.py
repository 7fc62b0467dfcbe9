"""What one CLI call may ask for: argument validation and the argv layout.

The layout is fixed: ``[bin, "-p", <options>, "--output-format", fmt, ("--verbose"), "--", prompt]``. Every
option comes first and the prompt last after ``--``, so a prompt starting with ``-`` or holding newlines,
quotes or unicode reaches the CLI verbatim. Wrong combinations are refused here, before anything runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from pytest_claude_sessions.errors import ExecutorUsageError, InvalidSessionIdError
from pytest_claude_sessions.executor.parsing import OUTPUT_FORMATS
from pytest_claude_sessions.models import StepKind
from pytest_claude_sessions.transcripts.validator import is_session_id

# Options the executor sets itself from its own parameters; passing them in extra_args would fight it.
MANAGED_OPTIONS = {
    "-p": "it is always passed",
    "--print": "it is always passed",
    "--output-format": "use output_format=",
    "--verbose": "it is added for output_format='stream-json'",
    "-r": "use resume=",
    "--resume": "use resume=",
    "-c": "use continue_=True",
    "--continue": "use continue_=True",
    "--fork-session": "use fork=True",
    "--session-id": "use session_id=",
    "--input-format": "the prompt is passed as an argument",
}


def check_text(value: object, name: str, *, allow_dash: bool = True, allow_empty: bool = True) -> str:
    """``value`` if it can travel as one command-line argument, else a usage error naming ``name``."""
    __tracebackhide__ = True
    if not isinstance(value, str):
        raise ExecutorUsageError(f"{name} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise ExecutorUsageError(f"{name} contains a NUL character, which cannot be passed on a command line")
    if not allow_empty and not value.strip():
        raise ExecutorUsageError(f"{name} is empty")
    if not allow_dash and value.startswith("-"):
        raise ExecutorUsageError(f"{name} {value!r} starts with '-', so the CLI would read it as an option")
    return value


def check_timeout(value: object, name: str = "timeout") -> float:
    """A positive, finite number of seconds."""
    __tracebackhide__ = True
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ExecutorUsageError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def check_extra(extra: Sequence[str]) -> tuple[str, ...]:
    """Extra CLI arguments, refusing ``--`` and the options the executor manages itself."""
    __tracebackhide__ = True
    if isinstance(extra, str):
        raise ExecutorUsageError(f"extra_args must be a sequence of arguments, not the string {extra!r}")
    out = []
    for arg in extra:
        check_text(arg, "extra_args entry")
        if arg == "--":
            raise ExecutorUsageError(
                "extra_args may not contain '--': the executor puts it before the prompt"
            )
        flag = arg.split("=", 1)[0]
        if flag in MANAGED_OPTIONS:
            raise ExecutorUsageError(f"extra_args may not contain {flag!r}: {MANAGED_OPTIONS[flag]}")
        out.append(arg)
    return tuple(out)


def _tool_list(value: str | Iterable[str] | None, name: str) -> list[str]:
    __tracebackhide__ = True
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [check_text(item, f"{name} entry", allow_dash=False, allow_empty=False) for item in items]


class CommonOptions(TypedDict, total=False):
    """The call options that do not choose the session (shared by every kind of call)."""

    session_id: str | None
    cwd: str | os.PathLike[str] | None
    model: str | None
    max_turns: int | None
    allowed_tools: str | Iterable[str] | None
    disallowed_tools: str | Iterable[str] | None
    permission_mode: str | None
    system_prompt: str | None
    append_system_prompt: str | None
    output_format: str
    timeout: float | None
    extra_args: Sequence[str]


class CallOptions(CommonOptions, total=False):
    """The per-call options of :meth:`ClaudeExecutor.build_call` (and of ``run``/``arun``), as keywords."""

    resume: str | None
    continue_: bool
    fork: bool


CALL_OPTION_NAMES = frozenset(CallOptions.__annotations__)


def check_option_names(options: Mapping[str, object], where: str) -> None:
    """Refuse keywords that are not call options (what an explicit signature's TypeError would say)."""
    __tracebackhide__ = True
    unknown = sorted(set(options) - CALL_OPTION_NAMES)
    if unknown:
        raise TypeError(
            f"{where}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"the call options are {', '.join(sorted(CALL_OPTION_NAMES))}"
        )


@dataclass(frozen=True)
class Layout:
    """A validated call: its argv, its kind and the normalized behaviour-changing options."""

    argv: list[str]
    kind: StepKind
    options: dict[str, Any]


def layout(binary: str, prompt: str, options: CallOptions) -> Layout:
    """Validate one call's arguments and lay out its argv (see the module docstring).

    ``cwd`` and ``timeout`` are not part of the argv and are ignored here.
    """
    __tracebackhide__ = True
    resume = options.get("resume")
    continue_ = bool(options.get("continue_", False))
    fork = bool(options.get("fork", False))
    session_id = options.get("session_id")
    model = options.get("model")
    max_turns = options.get("max_turns")
    permission_mode = options.get("permission_mode")
    system_prompt = options.get("system_prompt")
    append_system_prompt = options.get("append_system_prompt")
    output_format = options.get("output_format", "json")

    check_text(prompt, "prompt", allow_empty=False)
    if resume is not None:
        check_text(resume, "resume", allow_dash=False, allow_empty=False)
    if resume is not None and continue_:
        raise ExecutorUsageError(
            "resume= and continue_=True exclude each other: pick one session to continue"
        )
    if fork and resume is None and not continue_:
        raise ExecutorUsageError(
            "fork=True needs resume=<session id> or continue_=True: there is nothing to fork"
        )
    if session_id is not None:
        check_text(session_id, "session_id")
        if not is_session_id(session_id):
            raise InvalidSessionIdError(session_id, where="session_id argument")
        if (resume is not None or continue_) and not fork:
            raise ExecutorUsageError(
                "session_id= with resume=/continue_ also needs fork=True (it then names the fork); "
                "a resumed session keeps its id"
            )
    if output_format not in OUTPUT_FORMATS:
        raise ExecutorUsageError(
            f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r} "
            "(the executor needs a machine-readable result)"
        )
    if max_turns is not None and (
        isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1
    ):
        raise ExecutorUsageError(f"max_turns must be a positive int, got {max_turns!r}")
    if model is not None:
        check_text(model, "model", allow_dash=False, allow_empty=False)
    if permission_mode is not None:
        check_text(permission_mode, "permission_mode", allow_dash=False, allow_empty=False)
    if system_prompt is not None:
        check_text(system_prompt, "system_prompt")
    if append_system_prompt is not None:
        check_text(append_system_prompt, "append_system_prompt")
    allowed = _tool_list(options.get("allowed_tools"), "allowed_tools")
    disallowed = _tool_list(options.get("disallowed_tools"), "disallowed_tools")
    extra = list(check_extra(options.get("extra_args", ())))

    argv = [binary, "-p"]
    if resume is not None:
        argv += ["--resume", resume]
    if continue_:
        argv.append("--continue")
    if fork:
        argv.append("--fork-session")
    if session_id is not None:
        argv += ["--session-id", session_id]
    if model is not None:
        argv += ["--model", model]
    if max_turns is not None:
        argv += ["--max-turns", str(max_turns)]
    if allowed:
        argv += ["--allowedTools", ",".join(allowed)]
    if disallowed:
        argv += ["--disallowedTools", ",".join(disallowed)]
    if permission_mode is not None:
        argv += ["--permission-mode", permission_mode]
    # '=' keeps free text that starts with '-' from being read as an option.
    if system_prompt is not None:
        argv.append(f"--system-prompt={system_prompt}")
    if append_system_prompt is not None:
        argv.append(f"--append-system-prompt={append_system_prompt}")
    argv += extra
    argv += ["--output-format", output_format]
    if output_format == "stream-json":
        argv.append("--verbose")  # the CLI refuses stream-json in -p mode without it
    argv += ["--", prompt]

    kind: StepKind = (
        "fork" if fork else "resume" if resume is not None else "continue" if continue_ else "new"
    )
    normalized: dict[str, Any] = {
        "model": model,
        "max_turns": max_turns,
        "allowed_tools": sorted(allowed) or None,
        "disallowed_tools": sorted(disallowed) or None,
        "permission_mode": permission_mode,
        "system_prompt": system_prompt,
        "append_system_prompt": append_system_prompt,
        "extra_args": extra or None,
    }
    return Layout(argv=argv, kind=kind, options=normalized)
