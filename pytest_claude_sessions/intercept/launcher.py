"""The interposed ``claude`` process: ask the test's intercept server what to do, then do it.

This module runs as the ``claude`` executable the code under test starts, once per CLI process, so it
imports only what it needs (no ``subprocess``, no ``ctypes`` unless the call runs live, nothing of the
plugin): the decisions - matching, cassettes, redaction, tracking - are taken by the server in the pytest
process (:mod:`.server`). What happens here:

- ``claude -v`` / ``--version``: exec the real CLI (live) or print the recorded version (replay).
- a call: send argv, cwd, environment and the opening input (the piped prompt, or the first stream-json
  line) to the server; it answers ``live`` (the real CLI's path and the hermetic environment), ``replay``
  (the recorded stdout/stderr/exit code and, for the duplex protocol, the recorded input) or ``fail``.
- live: fork/exec the real CLI with the same argv; stdin, stdout and stderr are relayed whole and
  teed into the executor's bounded capture (a capped head and tail);
  SIGINT/SIGTERM/SIGHUP/SIGQUIT are forwarded; the CLI gets ``PR_SET_PDEATHSIG`` so it dies with this
  process (a caller's timeout that kills us kills it too); the exit status is the CLI's (same signal too).
- replay: write the recorded output; in duplex mode (``--input-format stream-json``) the recorded lines
  are written in order and, at each point where the recording read a line from the caller (the SDK), a
  line is read and compared with the recorded one (request ids of the caller's control requests are
  remapped); a differing line stops the replay with a one-line reason on stderr and exit code 1.

PYTEST_DONT_REWRITE: runs outside pytest.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ENV_PAYLOAD = "PYTEST_CLAUDE_SESSIONS_LAUNCHER"
STDIN_WAIT = 3.0  # the CLI waits this long for piped stdin data before going on without it
FAIL_CODE = 1
_FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH")


def _say(text: str) -> None:
    os.write(2, ("claude (pytest-claude-sessions): " + text.replace("\n", " ") + "\n").encode())


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _Channel:
    """Newline-delimited JSON with the server."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.reader = self.sock.makefile("rb")

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n")

    def recv(self) -> dict[str, Any] | None:
        line = self.reader.readline()
        if not line:
            return None
        value = json.loads(line)
        return value if isinstance(value, dict) else None


# --------------------------------------------------------------------------- input before the call


def _stdin_kind() -> str:
    """``none`` (closed, /dev/null, a terminal: nothing the CLI would read), ``file`` or ``pipe``."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return "none"
    if os.isatty(0) or stat.S_ISCHR(mode):
        return "none"
    if stat.S_ISREG(mode):
        return "file"
    return "pipe"


def _read_piped_prompt(kind: str) -> str | None:
    """What the CLI would read from stdin in ``-p`` mode: all of it, or nothing if a pipe stays silent."""
    if kind == "none":
        return None
    if kind == "pipe":
        import select

        ready, _, _ = select.select([0], [], [], STDIN_WAIT)
        if not ready:
            return None
    chunks = []
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


class _LineReader:
    """Reads lines from a raw fd (no Python buffering that a forked child could inherit)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.eof = False

    def readline(self) -> bytes:
        while b"\n" not in self.buffer and not self.eof:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
            self.buffer += chunk
        if b"\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\n")
            return line + b"\n"
        line, self.buffer = self.buffer, b""
        return line


# --------------------------------------------------------------------------- live


def _load_prctl() -> Any:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None


def _capture_module() -> Any:
    """The executor's :mod:`~pytest_claude_sessions.executor.capture` (stdlib only), loaded from its file: the
    package's ``__init__`` costs time a launcher does not need, and one capture serves both."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "executor", "capture.py")
    spec = importlib.util.spec_from_file_location("_pcs_capture", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class _Live:
    """The real CLI as our child, its streams relayed through us."""

    def __init__(self, argv: list[str], env: dict[str, str], prctl: Any) -> None:
        self.argv = argv
        self.env = env
        self.prctl = prctl
        self.lock = threading.Lock()
        self.out_lines = 0
        capture = _capture_module()
        limits = capture.DEFAULT_LIMITS  # the executor's caps: a capped head and tail of each stream
        self.stdout = capture.Capture(limits.stdout_head, limits.stdout_tail)
        self.stderr = capture.Capture(limits.stderr_head, limits.stderr_tail)
        self.stdin_events: list[dict[str, Any]] = []
        self.pid = 0

    def spawn(self, stdin_mode: str) -> tuple[int | None, int, int]:
        """Fork/exec the CLI; returns our ends (stdin writer or None, stdout reader, stderr reader)."""
        in_r, in_w = os.pipe() if stdin_mode == "pipe" else (-1, -1)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        fail_r, fail_w = os.pipe2(os.O_CLOEXEC)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                if self.prctl is not None:
                    self.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the launcher
                    if os.getppid() != parent:
                        os._exit(137)
                if stdin_mode == "pipe":
                    os.dup2(in_r, 0)
                elif stdin_mode == "null":
                    null = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(null, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                for fd in (in_r, in_w, out_r, out_w, err_r, err_w, fail_r):
                    if fd > 2:
                        os.close(fd)
                for sig in _FORWARDED:
                    if hasattr(signal, sig):
                        signal.signal(getattr(signal, sig), signal.SIG_DFL)
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                os.execve(self.argv[0], self.argv, self.env)  # noqa: S606 - the CLI's own argv
            except OSError as exc:
                os.write(fail_w, f"{exc.errno}:{exc.strerror}".encode())
            os._exit(127)
        self.pid = pid
        for fd in (in_r, out_w, err_w, fail_w):
            if fd >= 0:
                os.close(fd)
        failure = os.read(fail_r, 4096)
        os.close(fail_r)
        if failure:
            os.waitpid(pid, 0)
            for fd in (in_w, out_r, err_r):
                if fd >= 0:
                    os.close(fd)
            raise OSError(failure.decode(errors="replace"))
        return (in_w if in_w >= 0 else None), out_r, err_r

    def pump_out(self, src: int, dst: int, tee: Any, count: bool) -> None:
        while True:
            try:
                chunk = os.read(src, 65536)
            except OSError:
                break
            if not chunk:
                break
            tee.feed(chunk)
            if count:  # counted before it is written: a line the caller sends in answer comes after it
                with self.lock:
                    self.out_lines += chunk.count(b"\n")
            try:  # noqa: SIM105
                _write_all(dst, chunk)
            except OSError:
                pass  # the caller closed its end; keep draining so the CLI is not blocked
        os.close(src)

    def pump_in(self, reader: _LineReader, dst: int, first: bytes | None) -> None:
        """Duplex: caller -> CLI, line by line, each line noted with the output lines seen before it."""
        pending = [first] if first is not None else []
        broken = False
        while True:
            line = pending.pop() if pending else reader.readline()
            with self.lock:
                after = self.out_lines
                if line:
                    self.stdin_events.append({"after": after, **_as_event(line)})
                else:
                    self.stdin_events.append({"after": after, "eof": True})
            if not line:
                break
            if not broken:
                try:
                    _write_all(dst, line)
                except OSError:
                    broken = True
        os.close(dst)

    def feed(self, dst: int, data: bytes) -> None:
        try:  # noqa: SIM105
            _write_all(dst, data)
        except OSError:
            pass
        os.close(dst)


def _as_event(line: bytes) -> dict[str, Any]:
    text = line.decode("utf-8", "surrogateescape")
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return {"message": json.loads(stripped)}
        except ValueError:
            pass
    return {"text": text}


def _run_live(
    channel: _Channel, reply: dict[str, Any], duplex: bool, first: bytes | None, stdin_text: str | None,
    reader: _LineReader | None, prctl_loader: threading.Thread | None, prctl_box: list[Any],
) -> int:  # fmt: skip
    if prctl_loader is not None:
        prctl_loader.join()
    env = dict(os.environ)
    env.pop(ENV_PAYLOAD, None)
    env.update(reply.get("env") or {})
    live = _Live([str(a) for a in reply["argv"]], env, prctl_box[0] if prctl_box else None)
    # a terminal stays the CLI's; anything else it would have found empty
    stdin_mode = "pipe" if duplex or stdin_text is not None else ("inherit" if os.isatty(0) else "null")
    started = time.monotonic()
    try:
        stdin_w, out_r, err_r = live.spawn(stdin_mode)
    except OSError as exc:
        _say(f"could not start the real claude CLI {live.argv[0]}: {exc}")
        channel.send({"op": "outcome", "start_error": str(exc)})
        channel.recv()
        return 127
    received: dict[str, int] = {}

    def forward(signum: int, _frame: object) -> None:
        received["last"] = signum
        try:  # noqa: SIM105 - contextlib costs the launcher an import
            os.kill(live.pid, signum)
        except OSError:
            pass

    for name in _FORWARDED:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), forward)
    threads = [
        threading.Thread(target=live.pump_out, args=(out_r, 1, live.stdout, duplex), daemon=True),
        threading.Thread(target=live.pump_out, args=(err_r, 2, live.stderr, False), daemon=True),
    ]
    if stdin_w is not None:
        if duplex:
            assert reader is not None
            threads.append(threading.Thread(target=live.pump_in, args=(reader, stdin_w, first), daemon=True))
        else:
            data = (stdin_text or "").encode("utf-8", "surrogateescape")
            threads.append(threading.Thread(target=live.feed, args=(stdin_w, data), daemon=True))
    for thread in threads:
        thread.start()
    _, status = os.waitpid(live.pid, 0)
    elapsed = time.monotonic() - started
    for thread in threads[:2]:
        thread.join(5.0)  # a grandchild holding the pipes open must not hang us
    returncode = os.waitstatus_to_exitcode(status)
    with live.lock:
        stdin_events = list(live.stdin_events) if duplex else None
    channel.send(
        {
            "op": "outcome",
            "returncode": returncode,
            "stdout": live.stdout.getvalue().decode("utf-8", "surrogateescape"),
            "stderr": live.stderr.getvalue().decode("utf-8", "surrogateescape"),
            "stdout_dropped": live.stdout.dropped,
            "stderr_dropped": live.stderr.dropped,
            "elapsed": elapsed,
            "stdin": stdin_events,
            "signal": received.get("last"),
        }
    )
    channel.recv()  # the server has recorded the call (steps, cassette) before the caller sees us end
    return returncode


def _exit_like(returncode: int) -> int:
    if returncode < 0:  # the CLI died by a signal: so do we, for the caller to see the same status
        sig = -returncode
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return returncode


# --------------------------------------------------------------------------- replay


def _normalized(message: Any) -> Any:
    """A caller's line as compared: request ids (random per run) left out."""
    if not isinstance(message, dict):
        return message
    out = {k: v for k, v in message.items() if k not in ("request_id", "uuid")}
    response = out.get("response")
    if isinstance(response, dict):
        out["response"] = {k: v for k, v in response.items() if k != "request_id"}
    return out


def _describe(event: dict[str, Any]) -> str:
    if event.get("eof"):
        return "the end of its input (stdin closed)"
    if "message" in event:
        return json.dumps(event["message"], ensure_ascii=False, sort_keys=True)[:300]
    return repr(str(event.get("text", "")))[:300]


def _line_diff(expected: Any, actual: Any) -> str:
    import difflib

    before = json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    after = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    return "\n".join(difflib.unified_diff(before, after, "recorded input", "actual input", lineterm="", n=2))


def _compare(expected: dict[str, Any], line: bytes, ids: dict[str, str], index: int) -> dict[str, Any] | None:
    """``None`` when ``line`` is what the recording read at this point, else the mismatch."""
    where = f"input line {index + 1} of the recorded exchange"
    if expected.get("eof"):
        if not line:
            return None
        return {"reason": f"{where}: the recording's caller closed stdin here, but this one sent "
                f"{_describe(_as_event(line))}", "diff": ""}  # fmt: skip
    if not line:
        return {"reason": f"{where}: the caller closed stdin where the recording read {_describe(expected)}",
                "diff": ""}  # fmt: skip
    actual = _as_event(line)
    if "message" in expected and "message" in actual:
        want, got = expected["message"], actual["message"]
        if _normalized(want) == _normalized(got):
            if isinstance(want, dict) and want.get("type") == "control_request":
                rid, aid = want.get("request_id"), got.get("request_id")
                if isinstance(rid, str) and isinstance(aid, str):
                    ids[rid] = aid
            return None
        kind = want.get("type") if isinstance(want, dict) else None
        sub = ""
        if kind == "control_response" and isinstance(want.get("response"), dict):
            request = want["response"].get("request_id")
            sub = f" (the answer to the CLI's control request {request})"
        elif kind == "control_request" and isinstance(want.get("request"), dict):
            sub = f" (a {want['request'].get('subtype')} control request)"
        elif kind == "user":
            sub = " (a user message: the prompt changed?)"
        return {
            "reason": f"{where}{sub} differs from the recording",
            "diff": _line_diff(_normalized(want), _normalized(got)),
        }
    if expected.get("text") == actual.get("text"):
        return None
    return {"reason": f"{where} differs from the recording", "diff": _line_diff(expected, actual)}


def _remap(line: str, ids: dict[str, str]) -> str:
    if not ids or "control_response" not in line:
        return line
    try:
        message = json.loads(line)
    except ValueError:
        return line
    response = message.get("response") if isinstance(message, dict) else None
    if isinstance(response, dict) and response.get("request_id") in ids:
        response["request_id"] = ids[response["request_id"]]
        end = "\n" if line.endswith("\n") else ""
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")) + end
    return line


def _play(reply: dict[str, Any], reader: _LineReader | None, first: bytes | None) -> dict[str, Any] | None:
    """Write the recorded output, reading and checking the caller's lines where the recording read them."""
    lines = str(reply.get("stdout") or "").splitlines(keepends=True)
    events = reply.get("stdin")
    ids: dict[str, str] = {}
    position = 0
    if isinstance(events, list) and reader is not None:
        for index, event in enumerate(events):
            after = min(int(event.get("after", 0)), len(lines))
            if after > position:
                _write_all(
                    1,
                    "".join(_remap(x, ids) for x in lines[position:after]).encode("utf-8", "surrogateescape"),
                )
                position = after
            line = first if index == 0 and first is not None else reader.readline()
            problem = _compare(event, line, ids, index)
            if problem is not None:
                return problem
    if position < len(lines):
        _write_all(1, "".join(_remap(x, ids) for x in lines[position:]).encode("utf-8", "surrogateescape"))
    stderr = str(reply.get("stderr") or "")
    if stderr:
        _write_all(2, stderr.encode("utf-8", "surrogateescape"))
    return None


# --------------------------------------------------------------------------- entry


def _version(payload: dict[str, Any], args: list[str]) -> int:
    if payload.get("replaying") or not payload.get("cli"):
        version = payload.get("version")
        if not version:
            _say(
                "no real claude CLI for the version probe and no recorded CLI version (record the test first)"
            )
            return FAIL_CODE
        _write_all(1, f"{version} (Claude Code)\n".encode())
        return 0
    cli = str(payload["cli"])
    os.execv(cli, [cli, *args])  # noqa: S606 - the version probe, passed through
    return 127  # not reached


def _is_duplex(args: list[str]) -> bool:
    for i, arg in enumerate(args):
        if arg == "--":
            return False
        if arg == "--input-format" and i + 1 < len(args) and args[i + 1] == "stream-json":
            return True
        if arg == "--input-format=stream-json":
            return True
    return False


def main(default_socket: str | None = None) -> int:
    """The launcher's entry: returns the exit code (or does not return: exec, signal)."""
    args = sys.argv[1:]
    try:
        payload = json.loads(os.environ.get(ENV_PAYLOAD) or "{}")
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    if len(args) == 1 and args[0] in ("-v", "--version", "-V"):
        return _version(payload, args)
    path = payload.get("socket") or default_socket
    if not path:
        _say("not started by a pytest-claude-sessions test (no server to ask); use the real claude CLI")
        return FAIL_CODE
    duplex = _is_duplex(args)
    reader: _LineReader | None = None
    first: bytes | None = None
    stdin_text: str | None = None
    if duplex:
        reader = _LineReader(0)
        first = reader.readline() or None
    else:
        stdin_text = _read_piped_prompt(_stdin_kind())
    prctl_box: list[Any] = []
    loader: threading.Thread | None = None
    if sys.platform.startswith("linux") and payload.get("live_possible", True):
        # ctypes takes milliseconds to import: done while the server decides (it is needed only live)
        loader = threading.Thread(target=lambda: prctl_box.append(_load_prctl()), daemon=True)
        loader.start()
    try:
        channel = _Channel(str(path))
        channel.send(
            {
                "op": "call",
                "token": payload.get("token"),
                "argv": args,
                "cwd": os.getcwd(),
                "env": dict(os.environ),
                "stdin": stdin_text,
                "first": _as_event(first) if first is not None else None,
                "pid": os.getpid(),
            }
        )
        reply = channel.recv()
    except OSError as exc:
        _say(f"cannot reach the test's intercept server at {path}: {exc} (did the test end?)")
        return FAIL_CODE
    if reply is None:
        _say("the test's intercept server closed the connection without an answer")
        return FAIL_CODE
    action = reply.get("action")
    if action == "fail":
        _say(str(reply.get("message") or "the call was refused"))
        return int(reply.get("returncode") or FAIL_CODE)
    if action == "replay":
        problem = _play(reply, reader, first)
        channel.send({"op": "played", "problem": problem})
        channel.recv()
        if problem is not None:
            _say(problem["reason"])
            return FAIL_CODE
        return int(reply.get("returncode") or 0)
    if action == "live":
        code = _run_live(channel, reply, duplex, first, stdin_text, reader, loader, prctl_box)
        return _exit_like(code)
    _say(f"unexpected answer from the intercept server: {action!r}")
    return FAIL_CODE
