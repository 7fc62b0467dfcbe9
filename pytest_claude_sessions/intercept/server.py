"""The intercept server: in the pytest process, it takes every decision for the interposed ``claude``.

One server per pytest process (each xdist worker has its own), on a Unix socket in a short private temp
dir, a thread per connection. Each test with interception on registers an :class:`InterceptedTest` (its
executor: tracker, isolation dirs, guards, cassette) under a token that its launchers carry in their
environment; a launcher whose environment was rebuilt without it is served by the test running now (a
worker runs one test at a time).

A call goes through the test's :class:`~pytest_claude_sessions.executor.executor.ClaudeExecutor`
(:meth:`~pytest_claude_sessions.executor.executor.ClaudeExecutor.run_external`), exactly like the
executor's own calls: guards, the cassette's matching/recording/replay (transcripts restored into the
test's config dir), parsing, one step per ``result``, ``history`` with the calls that raised. Only the
process lives elsewhere: ``live`` tells the launcher to run the real CLI, ``replay`` hands it the recorded
exchange to play back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_claude_sessions.errors import (
    CassetteError,
    CassetteMismatchError,
    ClaudeNotFoundError,
    ClaudeProcessError,
)
from pytest_claude_sessions.models import CliCall, CliOutcome

if TYPE_CHECKING:
    from pytest_claude_sessions.executor.core import Before
    from pytest_claude_sessions.executor.executor import ClaudeExecutor

Turns = Callable[[CliCall, CliOutcome, "Before"], list[tuple[CliCall, CliOutcome, "Before"]]]

__all__ = ["InterceptServer", "InterceptedTest", "split_turns"]

SOCKET_NAME = "s"


@dataclass
class InterceptedTest:
    """What the server needs to serve one test's intercepted calls, and what it saw."""

    nodeid: str
    executor: ClaudeExecutor
    real_cli: str | None  # the CLI live calls run; None: not found (replay only)
    cli_searched: tuple[str, ...] = ()  # where the real CLI was looked for, when real_cli is None
    live_env: dict[str, str] = field(default_factory=dict)  # laid over the caller's env for the real CLI
    record_command: str | None = None  # the command that records this test (for messages)
    errors: list[str] = field(default_factory=list)  # failures the test must report (misses, mismatches)
    calls: int = 0
    live: int = 0
    replayed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    def note_error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


class _Connection:
    """One launcher: newline-delimited JSON both ways."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.answered = False  # an action (live/replay) was sent: the launcher now waits for "done"

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"
        with contextlib.suppress(OSError):
            self.sock.sendall(data)

    def recv(self) -> dict[str, Any] | None:
        try:
            line = self.reader.readline()
        except OSError:
            return None
        if not line:
            return None
        value = json.loads(line)
        return value if isinstance(value, dict) else None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.close()
            self.sock.close()


class InterceptServer:
    """The per-process server (start with :meth:`start`, stop with :meth:`close`)."""

    def __init__(self) -> None:
        # A short path: a Unix socket's path must stay under 108 bytes, a pytest tmp dir can be longer.
        base = "/tmp" if os.path.isdir("/tmp") else None  # noqa: S108 - mkdtemp: private 0700 dir
        self.directory = Path(tempfile.mkdtemp(prefix="pcs-intercept-", dir=base))
        self.socket_path = str(self.directory / SOCKET_NAME)
        self._tests: dict[str, InterceptedTest] = {}
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.socket_path)
        os.chmod(self.socket_path, 0o600)
        sock.listen(64)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="claude-intercept-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # ----------------------------------------------------------------- tests

    def register(self, test: InterceptedTest) -> str:
        with self._lock:
            self._counter += 1
            token = f"{os.getpid()}-{self._counter}"
            self._tests[token] = test
        return token

    def unregister(self, token: str) -> InterceptedTest | None:
        with self._lock:
            test = self._tests.pop(token, None)
        if test is not None:
            test.closed = True
        return test

    def _test_for(self, token: object) -> InterceptedTest | None:
        with self._lock:
            if isinstance(token, str) and token in self._tests:
                return self._tests[token]
            if len(self._tests) == 1:  # the environment lost the token: the test running now
                return next(iter(self._tests.values()))
        return None

    # ----------------------------------------------------------------- serving

    def _accept(self) -> None:
        while True:
            sock = self._sock
            if sock is None:
                return
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve, args=(conn,), name="claude-intercept-call", daemon=True
            ).start()

    def _serve(self, raw: socket.socket) -> None:
        conn = _Connection(raw)
        try:
            message = conn.recv()
            if message is None or message.get("op") != "call":
                return
            test = self._test_for(message.get("token"))
            if test is None or test.closed:
                conn.send(
                    {
                        "action": "fail",
                        "message": "no running test owns this claude call (it was started outside a test "
                        "with interception on, or after its test ended)",
                    }
                )
                return
            serve_call(test, conn, message)
        except Exception as exc:  # a bug here must reach the launcher as a reason, never hang it
            conn.send({"action": "fail", "message": f"intercept server error: {type(exc).__name__}: {exc}"})
        finally:
            conn.close()


# --------------------------------------------------------------------------- one call


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return "the call failed"
    head = lines[0]
    starts = ("record it with", "record the new", "if the change is intended", "re-record")
    hint = next((line for line in lines if line.lower().startswith(starts)), None)
    return f"{head} {hint}" if hint and hint != head else head


def build_call(test: InterceptedTest, message: dict[str, Any]) -> CliCall:
    """The :class:`CliCall` of an intercepted command line (what the cassette matches and records): read
    by the executor core's :func:`~pytest_claude_sessions.executor.core.invocation`, the one reader."""
    from pytest_claude_sessions.executor.core import invocation

    args = [str(a) for a in message.get("argv") or []]
    stdin = message.get("stdin")
    piped = stdin.encode("utf-8", "surrogateescape") if isinstance(stdin, str) and stdin.strip() else None
    env = {str(k): str(v) for k, v in (message.get("env") or {}).items()}
    env.update(test.live_env)
    executor = test.executor
    call = invocation(
        ["claude", *args],
        cwd=str(message.get("cwd") or os.getcwd()),
        config_dir=executor.config_dir,
        env=env,
        timeout=executor.timeout,
        stdin=piped,
    )
    if piped is not None and call.prompt and call.prompt != piped.decode("utf-8", "replace").strip():
        # -p with a prompt and piped input: the CLI appends the input to the prompt ("hello\npiped text")
        call.prompt = f"{call.prompt}\n{piped.decode('utf-8', 'replace').strip()}"
    first = message.get("first")
    if _duplex(args) and isinstance(first, dict):
        # the prompt comes later, on stdin: the opening line (the SDK's initialize request) is matched
        opening = first.get("message", first.get("text"))
        if isinstance(opening, dict):
            opening = {k: v for k, v in opening.items() if k != "request_id"}
        call.options["opening"] = opening
        call.output_format = "stream-json"
    return call


def _duplex(args: list[str]) -> bool:
    from pytest_claude_sessions.executor.options import parse_argv

    return parse_argv(args).input_format == "stream-json"


def serve_call(test: InterceptedTest, conn: _Connection, message: dict[str, Any]) -> None:
    """Run one intercepted call through the test's executor, talking to its launcher."""
    from pytest_claude_sessions.executor.options import parse_argv

    args = [str(a) for a in message.get("argv") or []]
    parsed = parse_argv(args)
    duplex = parsed.input_format == "stream-json"
    if not parsed.print_mode and not duplex:
        conn.send(
            {
                "action": "fail",
                "message": "the interposed claude runs only print mode (-p/--print) and the SDK's "
                "stream-json protocol; an interactive session cannot be recorded",
            }
        )
        return
    call = build_call(test, message)
    with test.lock:
        test.calls += 1

    def spawn(c: CliCall) -> CliOutcome:
        if test.real_cli is None:
            raise ClaudeNotFoundError(test.cli_searched)
        conn.answered = True
        conn.send({"action": "live", "argv": [test.real_cli, *args], "env": test.live_env})
        with test.lock:
            test.live += 1
        reply = conn.recv()
        if reply is None:
            raise ClaudeProcessError(
                "the interposed claude process ended before the CLI did (killed, e.g. by the caller's "
                "timeout); the CLI was killed with it",
                argv=c.argv,
            )
        if reply.get("start_error"):
            raise ClaudeProcessError(
                f"could not start the claude CLI {test.real_cli}: {reply['start_error']}"
            )
        stdin_events = reply.get("stdin")
        return CliOutcome(
            returncode=reply.get("returncode"),
            stdout=str(reply.get("stdout") or ""),
            stderr=str(reply.get("stderr") or ""),
            elapsed=float(reply.get("elapsed") or 0.0),
            stdin_events=stdin_events if isinstance(stdin_events, list) else None,
            stdout_dropped=int(reply.get("stdout_dropped") or 0),
            stderr_dropped=int(reply.get("stderr_dropped") or 0),
        )

    def deliver(outcome: CliOutcome) -> None:
        if not outcome.replayed:
            return
        conn.answered = True
        conn.send(
            {
                "action": "replay",
                "stdout": outcome.stdout,
                "stderr": outcome.stderr,
                "returncode": outcome.returncode if outcome.returncode is not None else 1,
                "stdin": outcome.stdin_events if duplex else None,
            }
        )
        with test.lock:
            test.replayed += 1
        reply = conn.recv()
        if reply is None:
            raise ClaudeProcessError("the interposed claude process ended during its replay", argv=call.argv)
        problem = reply.get("problem")
        if isinstance(problem, dict):
            again = f"{test.record_command} --claude-record-mode=rewrite" if test.record_command else None
            raise CassetteMismatchError(
                f"replayed claude process ({' '.join(args)[:200]}): {problem.get('reason')}\n"
                f"{problem.get('diff') or ''}".rstrip()
                + (f"\nRe-record the test with: {again}" if again else "")
            )

    turns: Turns | None = None
    if duplex:
        turns = functools.partial(split_turns, test)
    elif call.output_format == "text":
        from pytest_claude_sessions.cassettes.transcript_records import snapshot_sizes

        turns = _text_turns(test, snapshot_sizes(call.config_dir))
    try:
        test.executor.run_external(call, spawn, deliver=deliver, turns=turns)
    except CassetteError as exc:
        test.note_error(str(exc))
        _finish(conn, exc)
    except Exception as exc:
        _finish(conn, exc)
    else:
        conn.send({"action": "done"})


def _finish(conn: _Connection, exc: BaseException) -> None:
    if conn.answered:
        conn.send({"action": "done"})  # the process ran (or replayed): its own exit code stands
    else:
        # not found: every place tried is the fix, keep them all; anything else: its one-line reason
        text = str(exc) if isinstance(exc, ClaudeNotFoundError) else _one_line(str(exc))
        conn.send({"action": "fail", "message": text or type(exc).__name__})


# --------------------------------------------------------------------------- one process, several results


def _events(stdout: str) -> list[tuple[str, dict[str, Any] | None]]:
    out: list[tuple[str, dict[str, Any] | None]] = []
    for line in stdout.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        out.append((line, value if isinstance(value, dict) else None))
    return out


def _user_prompt(event: dict[str, Any]) -> str | None:
    message = event.get("message")
    if not isinstance(message, dict) or message.get("type") != "user":
        return None
    content = (message.get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(t for t in texts if isinstance(t, str))
    return None


def split_turns(
    test: InterceptedTest, call: CliCall, outcome: CliOutcome, before: Before
) -> list[tuple[CliCall, CliOutcome, Before]]:
    """One turn per ``result`` line of a duplex process (a client's several ``query()`` calls).

    The first turn is the process's call (its kind from the argv); each later one resumes the session of
    the one before, with that turn's user message as its prompt and that turn's cumulative cost as the
    base. A turn the process went on from gets the leaf its own output names (the transcript's leaf is
    the last turn's).
    """
    from pytest_claude_sessions.executor.core import Before
    from pytest_claude_sessions.models import TranscriptFacts

    prompts = [p for p in (_user_prompt(e) for e in outcome.stdin_events or []) if p is not None]
    segments: list[list[tuple[str, dict[str, Any] | None]]] = [[]]
    for line, value in _events(outcome.stdout):
        segments[-1].append((line, value))
        if value is not None and value.get("type") == "result":
            segments.append([])
    if not segments[-1]:
        segments.pop()
    elif len(segments) > 1:  # lines after the last result belong to it
        tail = segments.pop()
        segments[-1].extend(tail)
    turns: list[tuple[CliCall, CliOutcome, Before]] = []
    session: str | None = None
    total: float | None = None
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        result = next((v for _, v in reversed(segment) if v is not None and v.get("type") == "result"), None)
        sid = result.get("session_id") if result is not None else None
        transcript = outcome.transcript
        if not last and isinstance(sid, str):
            leaf = next(
                (
                    str(v["uuid"])
                    for _, v in reversed(segment)
                    if v is not None and v.get("type") in ("assistant", "user") and v.get("uuid")
                ),
                None,
            )
            path = test.executor.validator.find_transcript(sid, working_dir=call.cwd)
            transcript = TranscriptFacts(path, leaf_uuid=leaf) if path is not None and leaf else None
        part = dataclasses.replace(
            outcome,
            returncode=outcome.returncode if last else 0,
            stdout="".join(line + "\n" for line, _ in segment),
            stderr=outcome.stderr if last else "",
            timed_out=outcome.timed_out and last,
            transcript=transcript,
        )
        prompt = prompts[index] if index < len(prompts) else ""
        if index == 0 or session is None:
            turns.append((dataclasses.replace(call, prompt=prompt), part, before))
        else:
            again = dataclasses.replace(
                call,
                prompt=prompt,
                kind="resume",
                resume=session,
                fork=False,
                continue_=False,
                session_id=None,
            )
            turns.append((again, part, Before(session, total)))
        if result is not None:
            session = sid if isinstance(sid, str) else session
            cost = result.get("total_cost_usd")
            total = float(cost) if isinstance(cost, int | float) else None
    return turns


# --------------------------------------------------------------------------- text output


def _text_turns(test: InterceptedTest, sizes: dict[str, int]) -> Turns:
    """``--output-format text`` prints only the answer: the session is the transcript the call wrote.

    The outcome is read as the JSON result it stands for (session from the transcript, cost from its
    cost-state, error from the exit code), so the step is made by the same code as every other.
    """

    def turns(call: CliCall, outcome: CliOutcome, before: Before) -> list[tuple[CliCall, CliOutcome, Before]]:
        from pytest_claude_sessions.cassettes.transcript_records import snapshot_sizes

        session = _written_session(call, sizes, snapshot_sizes(call.config_dir))
        if session is None or outcome.timed_out:
            return [(call, outcome, before)]
        info = test.executor.validator.get_session_info(session, working_dir=call.cwd) or {}
        text = outcome.stdout.strip()
        payload = {
            "type": "result",
            "subtype": "success",
            "is_error": outcome.returncode != 0,
            "result": text,
            "session_id": session,
            "total_cost_usd": info.get("total_cost_usd"),
        }
        as_json = dataclasses.replace(outcome, stdout=json.dumps(payload, ensure_ascii=False) + "\n")
        return [(dataclasses.replace(call, output_format="json"), as_json, before)]

    return turns


def _written_session(call: CliCall, before: dict[str, int], after: dict[str, int]) -> str | None:
    if call.resume and not call.fork:
        return call.resume
    changed = [rel for rel, size in after.items() if before.get(rel) != size and rel.count("/") == 1]
    created = [rel for rel in changed if rel not in before] or changed
    if call.session_id:
        return call.session_id
    if len(created) == 1:
        return Path(created[0]).stem
    root = call.config_dir / "projects"
    for rel in created:  # several at once (concurrent calls): the one holding this prompt
        with contextlib.suppress(OSError):
            if call.prompt and json.dumps(call.prompt)[1:-1] in (root / rel).read_text(encoding="utf-8"):
                return Path(rel).stem
    return None
