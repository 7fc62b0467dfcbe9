"""The exception tree: every error the library raises derives from :class:`ClaudeSessionsError`.

Each message says what failed, where (path, session id, lock file, argv) and, where it helps, what to do.
An error's text reaches terminals, junit files and reports, so it is redacted when the error is made
(:class:`~pytest_claude_sessions.redact.Redactor`: the built-in rules and the environment's key values);
the CLI's argv and output are redacted before they are cut to a tail, so no secret is half kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_claude_sessions.redact import Redactor

__all__ = [
    "BudgetExceededError",
    "CassetteCorruptError",
    "CassetteError",
    "CassetteLockError",
    "CassetteMismatchError",
    "CassetteMissError",
    "CassetteUnusedError",
    "CassetteVersionWarning",
    "ClaudeEmptyOutputError",
    "ClaudeNotFoundError",
    "ClaudeOutputError",
    "ClaudeProcessError",
    "ClaudeResultError",
    "ClaudeSessionsError",
    "ClaudeTimeoutError",
    "ExecutorError",
    "ExecutorUsageError",
    "ExportFormatError",
    "InvalidSessionIdError",
    "LockTimeoutError",
    "SessionNotFoundError",
    "SettingsError",
    "StoreCorruptionError",
    "StoreError",
    "StoreWarning",
    "StubError",
    "StubTimeoutError",
    "TranscriptError",
]


def _redaction(redactor: Redactor | None = None) -> Callable[[str], str]:
    """``redactor.redact``, else a default redactor's (imported here: the plugin imports this module at
    start-up, the rules are needed only when something fails)."""
    if redactor is None:
        from pytest_claude_sessions.redact import Redactor

        redactor = Redactor()
    return redactor.redact


class ClaudeSessionsError(Exception):
    """Root of every error raised by pytest-claude-sessions; its message is redacted when it is made."""

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (_redaction()(args[0]), *args[1:])
        super().__init__(*args)


# --------------------------------------------------------------------------- store


class StoreError(ClaudeSessionsError):
    """A problem with the on-disk session store."""


class StoreWarning(UserWarning):
    """Something in the store needed attention (torn line, quarantined file, migration) and was handled."""


class ExportFormatError(StoreError, ValueError):
    """An export document (for ``SessionManager.import_sessions``) is malformed; says where."""


class StoreCorruptionError(StoreError):
    """A store file could not be parsed; ``path`` is the file, ``quarantined_to`` where it was moved."""

    def __init__(self, message: str, *, path: Path, quarantined_to: Path | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.quarantined_to = quarantined_to


class LockTimeoutError(StoreError):
    """A store lock could not be acquired within the timeout."""

    def __init__(self, lock_path: Path, timeout: float) -> None:
        super().__init__(
            f"could not acquire the store lock {lock_path} within {timeout:g}s; another process holds it "
            f"(a hung test or a crashed writer on a network filesystem?). Raise the lock timeout or "
            f"remove the lock file if no process uses the store."
        )
        self.lock_path = lock_path
        self.timeout = timeout


class SessionNotFoundError(ClaudeSessionsError, LookupError):
    """A session id (or an agent) is not known where it was looked up."""

    def __init__(self, message: str, *, session_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id

    def __str__(self) -> str:  # LookupError would otherwise repr() a KeyError-like message
        return str(self.args[0]) if self.args else ""


class InvalidSessionIdError(ClaudeSessionsError, ValueError):
    """A session id is not a valid Claude session id (a UUID)."""

    def __init__(self, session_id: object, *, where: str = "") -> None:
        shown = repr(session_id)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        suffix = f" ({where})" if where else ""
        super().__init__(f"invalid session id {shown}{suffix}: Claude session ids are UUIDs")
        self.session_id = session_id


# --------------------------------------------------------------------------- transcripts


class TranscriptError(ClaudeSessionsError):
    """A CLI transcript is missing or broken."""


# --------------------------------------------------------------------------- settings and the stub


class SettingsError(ClaudeSessionsError, ValueError):
    """An option, ini key or env var has a bad value."""


class StubError(ClaudeSessionsError):
    """The Messages API stub was misused (bad reply, not started, already stopped)."""


class StubTimeoutError(StubError, TimeoutError):
    """``MessagesStub.wait_for_requests`` did not see enough requests in time."""


# --------------------------------------------------------------------------- executor


class ExecutorError(ClaudeSessionsError):
    """Running the Claude CLI failed."""


class ExecutorUsageError(ExecutorError, ValueError):
    """The executor was called with arguments that cannot work; nothing was run."""


class ClaudeNotFoundError(ExecutorError):
    """No ``claude`` binary was found; ``searched`` lists every place that was tried."""

    def __init__(self, searched: Sequence[str]) -> None:
        lines = "\n  ".join(searched) if searched else "(nowhere)"
        super().__init__(
            "the claude CLI was not found. Searched:\n  "
            + lines
            + "\nInstall it (npm install @anthropic-ai/claude-code) or pass claude_bin= / set $CLAUDE_BIN."
        )
        self.searched = list(searched)


class ClaudeProcessError(ExecutorError):
    """The CLI exited without a usable JSON result (argument errors, unknown session, killed...)."""

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stdout: str = "",
        stderr: str = "",
        redactor: Redactor | None = None,
    ) -> None:
        # ``argv`` holds the prompt; the output may echo a key: all redacted, then cut (``redactor``: the
        # caller's, with the user's patterns; the default rules and the environment's values otherwise)
        redact = _redaction(redactor)
        argv = [redact(str(a)) for a in argv]
        stdout, stderr = _redact_bounded(redact, stdout), _redact_bounded(redact, stderr)
        detail = f"{redact(message)}\n  argv: {list(argv)!r}\n  returncode: {returncode}"
        if stderr.strip():
            detail += f"\n  stderr: {stderr.strip()[-2000:]}"
        if stdout.strip():
            detail += f"\n  stdout: {stdout.strip()[-2000:]}"
        super().__init__(detail)
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


_REDACT_KEEP = 4096  # per end: some rules are slow on long unbroken runs; a 32 MB capture took minutes


def _redact_bounded(redact: Callable[[str], str], text: str) -> str:
    """``text`` redacted; a long one keeps only its redacted head and tail (the regexes stay cheap)."""
    if len(text) <= 2 * _REDACT_KEEP:
        return redact(text)
    dropped = len(text) - 2 * _REDACT_KEEP
    return (
        redact(text[:_REDACT_KEEP])
        + f"\n[... {dropped} characters left out of the error ...]\n"
        + redact(text[-_REDACT_KEEP:])
    )


class ClaudeOutputError(ClaudeProcessError):
    """The CLI's output cannot be parsed safely: JSON nested too deep, a line or an output beyond the
    capture's limits (the message says how many bytes were dropped)."""


class ClaudeEmptyOutputError(ClaudeProcessError):
    """The CLI exited 0 but printed nothing (it does this on SIGINT): never a success."""


class ClaudeTimeoutError(ClaudeProcessError):
    """The CLI ran past the timeout; its whole process group was killed. Partial output is kept."""

    def __init__(
        self,
        timeout: float,
        *,
        argv: Sequence[str] = (),
        stdout: str = "",
        stderr: str = "",
        redactor: Redactor | None = None,
    ) -> None:
        super().__init__(
            f"the claude CLI did not finish within {timeout:g}s; its process group was killed",
            argv=argv,
            returncode=None,
            stdout=stdout,
            stderr=stderr,
            redactor=redactor,
        )
        self.timeout = timeout


class ClaudeResultError(ExecutorError):
    """The CLI returned a result with ``is_error`` (raised only with ``check=True``)."""

    def __init__(self, message: str, *, result: object) -> None:
        super().__init__(message)
        self.result = result


# --------------------------------------------------------------------------- budgets and cassettes


class BudgetExceededError(ClaudeSessionsError):
    """A cost, turn or call budget was spent."""


class CassetteError(ClaudeSessionsError):
    """A record/replay problem."""


class CassetteMissError(CassetteError):
    """Replay found no recorded interaction for a call."""


class CassetteMismatchError(CassetteError):
    """A call did not match the recorded interaction at its position."""


class CassetteUnusedError(CassetteError):
    """Recorded interactions were never replayed: the test now makes fewer (or other) calls."""


class CassetteCorruptError(CassetteError):
    """A cassette file that cannot be used (bad JSON, not a cassette, newer format); ``path`` names it."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class CassetteVersionWarning(UserWarning):
    """A call is recorded into a cassette whose recording used another Claude CLI version."""


class CassetteLockError(CassetteError):
    """The lock around a cassette file could not be taken in time."""
