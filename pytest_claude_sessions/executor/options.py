"""What one CLI call may ask for, written once: :class:`CallOptions` and the table that lays it out.

:class:`CallOptions` (a ``TypedDict``) is the only list of the call options. The ``run``/``arun`` family
takes it as ``**options: Unpack[...]`` (mypy and IDEs show every keyword), and :data:`OPTION_SPECS` gives
each key its place on the command line: its flag, how its value is written, whether it changes the CLI's
behaviour (then it is a cassette matching criterion, see :mod:`~pytest_claude_sessions.cassettes.matching`).
:func:`layout` turns options into an argv, :func:`parse_argv` turns an argv someone else built (the
interposed ``claude``) back into options, both from the same table.

The layout is fixed: ``[bin, "-p", <options>, "--output-format", fmt, ("--verbose"), "--", prompt]``. Every
option comes first and the prompt last after ``--``, so a prompt starting with ``-`` or holding newlines,
quotes or unicode reaches the CLI verbatim. Wrong combinations are refused here, before anything runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from pytest_claude_sessions.errors import ExecutorUsageError, InvalidSessionIdError
from pytest_claude_sessions.executor.parsing import OUTPUT_FORMATS
from pytest_claude_sessions.ids import is_session_id
from pytest_claude_sessions.models import StepKind

__all__ = [
    "CALL_OPTION_NAMES",
    "MANAGED_OPTIONS",
    "MATCHED_OPTIONS",
    "OPTION_SPECS",
    "CallOptions",
    "CommonOptions",
    "Layout",
    "OptionSpec",
    "ParsedArgv",
    "check_extra",
    "check_option_names",
    "check_text",
    "check_timeout",
    "layout",
    "parse_argv",
]


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


# --------------------------------------------------------------------------- the table

Style = Literal["value", "switch", "tools", "joined", "extra", "none"]
Checker = Callable[[Any, str], Any]


def _name_text(value: object, name: str) -> str:
    __tracebackhide__ = True
    return check_text(value, name, allow_dash=False, allow_empty=False)


def _free_text(value: object, name: str) -> str:
    __tracebackhide__ = True
    return check_text(value, name)


def _positive_int(value: object, name: str) -> int:
    __tracebackhide__ = True
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ExecutorUsageError(f"{name} must be a positive int, got {value!r}")
    return value


def _tool_list(value: object, name: str) -> list[str] | None:
    __tracebackhide__ = True
    items = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    checked = [_name_text(item, f"{name} entry") for item in items]
    return checked or None


def _session_id(value: object, name: str) -> str:
    __tracebackhide__ = True
    check_text(value, name)
    assert isinstance(value, str)
    if not is_session_id(value):
        raise InvalidSessionIdError(value, where="session_id argument")
    return value


def _output_format(value: object, name: str) -> str:
    __tracebackhide__ = True
    if value not in OUTPUT_FORMATS:
        raise ExecutorUsageError(
            f"{name} must be one of {', '.join(OUTPUT_FORMATS)}, got {value!r} "
            "(the executor needs a machine-readable result)"
        )
    assert isinstance(value, str)
    return value


def _extra(value: object, name: str) -> list[str] | None:
    __tracebackhide__ = True
    return list(check_extra(value)) or None  # type: ignore[arg-type]


@dataclass(frozen=True)
class OptionSpec:
    """Where one :class:`CallOptions` key goes on the command line.

    ``style``: ``value`` (``flag value``), ``switch`` (``flag`` when true), ``tools`` (comma-joined list),
    ``joined`` (``flag=value``: free text starting with ``-`` is never read as an option), ``extra`` (the
    arguments as given), ``none`` (not on the command line: ``cwd``, ``timeout``, ``output_format`` which
    the layout puts last). ``matched``: it changes the CLI's behaviour, so it is part of a cassette request's
    ``options`` and a ``match_on`` criterion of its own. ``aliases``: other spellings :func:`parse_argv`
    accepts (``-r``, ``--allowed-tools``...). ``check`` validates and normalizes a set value.
    """

    flag: str | None
    style: Style
    check: Checker | None = None
    matched: bool = False
    aliases: tuple[str, ...] = ()


# In argv order. CallOptions and this table list the same keys (checked at import, below).
OPTION_SPECS: Mapping[str, OptionSpec] = {
    "resume": OptionSpec("--resume", "value", _name_text, aliases=("-r",)),
    "continue_": OptionSpec("--continue", "switch", aliases=("-c",)),
    "fork": OptionSpec("--fork-session", "switch"),
    "session_id": OptionSpec("--session-id", "value", _session_id),
    "model": OptionSpec("--model", "value", _name_text, matched=True),
    "max_turns": OptionSpec("--max-turns", "value", _positive_int, matched=True),
    "allowed_tools": OptionSpec(
        "--allowedTools", "tools", _tool_list, matched=True, aliases=("--allowed-tools",)
    ),
    "disallowed_tools": OptionSpec(
        "--disallowedTools", "tools", _tool_list, matched=True, aliases=("--disallowed-tools",)
    ),
    "permission_mode": OptionSpec("--permission-mode", "value", _name_text, matched=True),
    "system_prompt": OptionSpec("--system-prompt", "joined", _free_text, matched=True),
    "append_system_prompt": OptionSpec("--append-system-prompt", "joined", _free_text, matched=True),
    "extra_args": OptionSpec(None, "extra", _extra, matched=True),
    "output_format": OptionSpec("--output-format", "none", _output_format),
    "cwd": OptionSpec(None, "none"),
    "timeout": OptionSpec(None, "none"),
}
if set(OPTION_SPECS) != CALL_OPTION_NAMES:  # pragma: no cover - a developer error, caught by any test run
    raise AssertionError(f"OPTION_SPECS and CallOptions differ: {set(OPTION_SPECS) ^ CALL_OPTION_NAMES}")

# The behaviour-changing options: a cassette request's "options", each also a match_on criterion.
MATCHED_OPTIONS: tuple[str, ...] = tuple(name for name, spec in OPTION_SPECS.items() if spec.matched)

# Options the executor sets itself from its own parameters; passing them in extra_args would fight it.
MANAGED_OPTIONS: Mapping[str, str] = {
    "-p": "it is always passed",
    "--print": "it is always passed",
    "--output-format": "use output_format=",
    "--verbose": "it is added for output_format='stream-json'",
    "--input-format": "the prompt is passed as an argument",
    **{
        flag: f"use {name}=" + ("True" if spec.style == "switch" else "")
        for name, spec in OPTION_SPECS.items()
        if spec.style in ("value", "switch") and spec.flag is not None and not spec.matched
        for flag in (spec.flag, *spec.aliases)
    },
}


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


def check_option_names(options: Mapping[str, object], where: str) -> None:
    """Refuse keywords that are not call options (what an explicit signature's TypeError would say)."""
    __tracebackhide__ = True
    unknown = sorted(set(options) - CALL_OPTION_NAMES)
    if unknown:
        raise TypeError(
            f"{where}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"the call options are {', '.join(sorted(CALL_OPTION_NAMES))}"
        )


# --------------------------------------------------------------------------- options -> argv


@dataclass(frozen=True)
class Layout:
    """A validated call: its argv, its kind and the normalized behaviour-changing options."""

    argv: list[str]
    kind: StepKind
    options: dict[str, Any]


def _kind(resume: object, continue_: bool, fork: bool) -> StepKind:
    return "fork" if fork else "resume" if resume is not None else "continue" if continue_ else "new"


def _check_combination(options: Mapping[str, Any]) -> None:
    """The rules between options (each option alone was checked by its spec)."""
    __tracebackhide__ = True
    resume, continue_, fork = options.get("resume"), options.get("continue_"), options.get("fork")
    if resume is not None and continue_:
        raise ExecutorUsageError(
            "resume= and continue_=True exclude each other: pick one session to continue"
        )
    if fork and resume is None and not continue_:
        raise ExecutorUsageError(
            "fork=True needs resume=<session id> or continue_=True: there is nothing to fork"
        )
    if options.get("session_id") is not None and (resume is not None or continue_) and not fork:
        raise ExecutorUsageError(
            "session_id= with resume=/continue_ also needs fork=True (it then names the fork); "
            "a resumed session keeps its id"
        )


def normalize_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every set option checked and normalized by its spec (switches as bools, unset ones as ``None``)."""
    __tracebackhide__ = True
    out: dict[str, Any] = {}
    for name, spec in OPTION_SPECS.items():
        value = options.get(name)
        if spec.style == "switch":
            out[name] = bool(value)
        elif name == "output_format":
            out[name] = _output_format("json" if value is None else value, name)
        elif value is None or spec.check is None:
            out[name] = value
        else:
            out[name] = spec.check(value, name)
    _check_combination(out)
    return out


def _flag_args(spec: OptionSpec, value: Any) -> list[str]:
    if spec.flag is None or value is None or value is False:
        return list(value or ()) if spec.style == "extra" else []
    if spec.style == "switch":
        return [spec.flag]
    if spec.style == "tools":
        return [spec.flag, ",".join(value)]
    if spec.style == "joined":
        return [f"{spec.flag}={value}"]  # '=' keeps free text that starts with '-' from being an option
    if spec.style == "value":
        return [spec.flag, str(value)]
    return []


def layout(binary: str, prompt: str, options: Mapping[str, Any]) -> Layout:
    """Validate one call's arguments and lay out its argv (see the module docstring).

    ``cwd`` and ``timeout`` are not part of the argv and are ignored here.
    """
    __tracebackhide__ = True
    check_text(prompt, "prompt", allow_empty=False)
    norm = normalize_options(options)
    argv = [binary, "-p"]
    for name, spec in OPTION_SPECS.items():
        argv += _flag_args(spec, norm[name])
    output_format = norm["output_format"]
    argv += ["--output-format", output_format]
    if output_format == "stream-json":
        argv.append("--verbose")  # the CLI refuses stream-json in -p mode without it
    argv += ["--", prompt]
    matched = {name: norm[name] for name in MATCHED_OPTIONS}
    for name in ("allowed_tools", "disallowed_tools"):
        if matched[name] is not None:
            matched[name] = sorted(matched[name])  # order does not change what the CLI allows
    return Layout(argv=argv, kind=_kind(norm["resume"], norm["continue_"], norm["fork"]), options=matched)


# --------------------------------------------------------------------------- argv -> options


@dataclass
class ParsedArgv:
    """An argv read back through :data:`OPTION_SPECS`: what a cassette request and a step need.

    ``prompt`` is the positional prompt (``None``: it comes on stdin); ``options`` hold the known options
    (the :class:`CallOptions` keys, normalized as :func:`layout` normalizes them); ``extra_args`` every
    argument the table does not know, in order; ``input_format`` the ``--input-format`` given (the Agent
    SDK's duplex mode is ``stream-json``); ``print_mode`` whether ``-p``/``--print`` was given.
    """

    prompt: str | None
    options: dict[str, Any]
    kind: StepKind
    extra_args: list[str]
    input_format: str | None = None
    print_mode: bool = False
    verbose: bool = False


# Flags of the CLI (2.1.330) outside the table that take a value: needed to tell a value from the prompt.
VALUE_FLAGS = frozenset(
    {
        "--input-format", "--mcp-config", "--settings", "--setting-sources", "--add-dir", "--agents",
        "--fallback-model", "--permission-prompt-tool", "--max-budget-usd", "--json-schema", "--agent",
        "--plugin-dir", "--betas", "--tools", "--debug-file", "--max-thinking-tokens",
    }
)  # fmt: skip
_FLAG_NAMES: Mapping[str, str] = {
    flag: name
    for name, spec in OPTION_SPECS.items()
    if spec.flag is not None
    for flag in (spec.flag, *spec.aliases)
}


def parse_argv(args: Sequence[str]) -> ParsedArgv:
    """Read a CLI argv (without the binary) back into options; the inverse of :func:`layout`.

    Accepts every spelling the CLI does (``--resume X``, ``--resume=X``, ``-r X``, ``--continue``/``-c``,
    ``--fork-session``, ``--session-id``), keeps unknown arguments in ``extra_args``, and takes the
    positional argument (or everything after ``--``) as the prompt. Never raises on odd input: the CLI
    itself is the judge of its argv.
    """
    found: dict[str, Any] = {}
    extra: list[str] = []
    prompt: str | None = None
    parsed = ParsedArgv(prompt=None, options={}, kind="new", extra_args=extra)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            prompt = " ".join(args[index:]) if index < len(args) else prompt
            break
        flag, eq, inline = arg.partition("=")
        name = _FLAG_NAMES.get(flag) if flag.startswith("-") else None
        if arg in ("-p", "--print"):
            parsed.print_mode = True
        elif arg == "--verbose":
            parsed.verbose = True
        elif name is not None and OPTION_SPECS[name].style == "switch":
            found[name] = True
        elif name is not None or flag in ("--output-format", "--input-format") or flag in VALUE_FLAGS:
            if eq:
                value = inline
            elif index < len(args):
                value, index = args[index], index + 1
            else:
                value = ""
            if name is not None:
                found[name] = value.split(",") if OPTION_SPECS[name].style == "tools" else value
            elif flag == "--output-format":
                found["output_format"] = value
            else:
                if flag == "--input-format":
                    parsed.input_format = value
                extra += [flag, value]
        elif arg.startswith("-") and len(arg) > 1:
            extra.append(arg)
        else:
            prompt = arg
    parsed.prompt = prompt
    max_turns = found.get("max_turns")
    if isinstance(max_turns, str) and max_turns.isdigit():
        found["max_turns"] = int(max_turns)
    for name in ("allowed_tools", "disallowed_tools"):
        if found.get(name) is not None:
            found[name] = sorted(t for t in found[name] if t) or None
    found["extra_args"] = list(extra) or None
    found.setdefault("output_format", "text")
    parsed.options = {name: found.get(name, False if OPTION_SPECS[name].style == "switch" else None)
                      for name in OPTION_SPECS if name not in ("cwd", "timeout")}  # fmt: skip
    parsed.kind = _kind(found.get("resume"), bool(found.get("continue_")), bool(found.get("fork")))
    return parsed
