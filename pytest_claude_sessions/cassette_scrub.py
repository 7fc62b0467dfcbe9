"""What a cassette must not hold: secrets are redacted, machine paths become placeholders.

Every string a call records (request, output, transcript records) goes through :meth:`CallScrubber.scrub`:
literal API keys from the environment, the :class:`~pytest_claude_sessions.redact.Redactor` rules and user
patterns are replaced by markers (for good), then the home, cwd, config-dir and temp paths (raw, realpath and
the CLI's slug-encoded project-dir form) become ``{{PCS_…}}`` placeholders. On replay the placeholders are
restored with the *current* call's paths, so replayed transcripts land where the validator looks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .models import CliCall
from .redact import Redactor, marker
from .transcripts import project_dir_name

__all__ = ["SECRET_ENV_VARS", "CallScrubber", "CassetteScrubber"]

# Environment variables whose values are secrets whatever they look like: replaced literally.
SECRET_ENV_VARS: tuple[str, ...] = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
_MIN_SECRET = 6  # shorter values would mangle ordinary text
_MIN_PATH = 5  # "/", "/tmp", "/root" are too common to replace blindly
_MIN_SLUG = 8
_TOKEN_RE = re.compile(r"\{\{PCS_[A-Z0-9_]+\}\}")


def token(name: str) -> str:
    """The placeholder text for ``name`` (``{{PCS_CWD}}``)."""
    return "{{PCS_" + name + "}}"


@dataclass(frozen=True)
class CassetteScrubber:
    """Redaction settings shared by every call of a cassette; :meth:`for_call` binds a call's paths."""

    redactor: Redactor
    secrets: tuple[str, ...] = ()  # literal values to mask, in addition to the env's secret variables

    @classmethod
    def create(
        cls, *, redactor: Redactor | None = None, patterns: Iterable[str | re.Pattern[str]] = ()
    ) -> CassetteScrubber:
        """A scrubber with the default Redactor rules plus ``patterns`` (regexes, marker ``custom``)."""
        patterns = list(patterns)
        if redactor is None:
            redactor = Redactor(patterns)
        elif patterns:
            redactor = Redactor([*redactor.rules, *patterns], defaults=False, callback=redactor.callback)
        return cls(redactor=redactor)

    def for_call(self, call: CliCall, cwds: Sequence[str | os.PathLike[str]] = ()) -> CallScrubber:
        """A scrubber bound to the secrets and paths of ``call``.

        ``cwds``: every working directory the test's calls used so far, in first-use order (a resume from
        another cwd appends to the first cwd's project dir, which must become a placeholder too).
        """
        complete = placeholder_values(call, complete=True, cwds=cwds)
        # for scrubbing, a realpath equal to the raw path adds nothing (the raw placeholder wins)
        paths = {k: v for k, v in complete.items() if not (k.endswith("_REAL") and complete[k[:-5]] == v)}
        return CallScrubber(self, _secrets(call.env, self.secrets), paths, complete)


def placeholder_values(
    call: CliCall, *, complete: bool = False, cwds: Sequence[str | os.PathLike[str]] = ()
) -> dict[str, str]:
    """Placeholder name → the path it stands for in ``call`` (raw, realpath and slug forms).

    ``complete``: also the realpath forms that equal the raw path (a recording made where they differed
    uses ``{{PCS_CWD_REAL}}`` and the replay must fill it in). ``cwds``: the test's working directories in
    first-use order: ``CWD``, ``CWD_2``, … (default: just the call's).
    """
    values: dict[str, str] = {}
    sources: list[tuple[str, str | None]] = [("CONFIG_DIR", str(call.config_dir))]
    for index, cwd in enumerate([os.fspath(c) for c in cwds] or [str(call.cwd)]):
        sources.append(("CWD" if index == 0 else f"CWD_{index + 1}", cwd))
    for name in ("TMPDIR", "XDG_RUNTIME_DIR", "HOME"):
        sources.append((name, call.env.get(name) or (os.environ.get(name) if name == "HOME" else None)))
    for name, raw in sources:
        if not raw:
            continue
        raw = raw.rstrip("/") or raw
        values[name] = raw
        real = os.path.realpath(raw)
        if complete or real != raw:
            values[name + "_REAL"] = real
        values[name + "_PROJECT"] = project_dir_name(raw)
    return values


class CallScrubber:
    """Scrubs (on record) and restores (on replay) the strings of one call."""

    def __init__(
        self, base: CassetteScrubber, secrets: list[str], paths: dict[str, str], restore_paths: dict[str, str]
    ) -> None:
        self._redactor = base.redactor
        self._secrets = sorted(set(secrets), key=len, reverse=True)
        self.paths = paths
        self.restore_paths = restore_paths
        pairs = [
            (value, token(name))
            for name, value in paths.items()
            if len(value) >= (_MIN_SLUG if name.endswith("_PROJECT") else _MIN_PATH)
        ]
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)  # the longest path wins at a position
        self._to_token = dict(pairs)
        self._path_re: re.Pattern[str] | None = None  # compiled on first need: most strings hold no path

    # ---------------------------------------------------------------- record
    def scrub_text(self, text: str) -> str:
        """Secrets masked, then machine paths replaced by placeholders."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, marker("secret-env"))
        text = self._redactor.redact(text)
        if any(value in text for value in self._to_token):
            if self._path_re is None:
                alternatives = "|".join(re.escape(v) for v in self._to_token)  # longest first
                self._path_re = re.compile(f"(?:{alternatives})(?![A-Za-z0-9_])")
            text = self._path_re.sub(lambda m: self._to_token[m.group(0)], text)
        return text

    def scrub(self, obj: Any) -> Any:
        """A scrubbed copy of a JSON-like value (keys too: the CLI keys some maps by file path)."""
        if isinstance(obj, str):
            return self.scrub_text(obj)
        if isinstance(obj, Mapping):
            out: dict[str, Any] = {}
            sensitive = self._redactor.sensitive_keys
            for key, value in obj.items():
                new_key = self.scrub_text(key) if isinstance(key, str) else key
                if isinstance(key, str) and key.lower() in sensitive and value not in (None, ""):
                    out[new_key] = marker(key.lower())
                else:
                    out[new_key] = self.scrub(value)
            return out
        if isinstance(obj, list | tuple):
            return [self.scrub(v) for v in obj]
        return obj

    # ---------------------------------------------------------------- replay
    def restorer(self, *, json_text: bool) -> Callable[[str], str]:
        """A function that puts this call's paths back into recorded text.

        ``json_text``: the text is JSON, so each path is inserted JSON-escaped (a quote or backslash in a
        path must not break the record).
        """
        values = {token(name): value for name, value in self.restore_paths.items()}
        if json_text:
            values = {key: json.dumps(value, ensure_ascii=False)[1:-1] for key, value in values.items()}

        def one(match: re.Match[str]) -> str:
            return values.get(match.group(0), match.group(0))  # a placeholder we cannot fill stays visible

        def restore(text: str) -> str:
            return _TOKEN_RE.sub(one, text) if "{{PCS_" in text else text

        return restore


def _secrets(env: Mapping[str, str], extra: Iterable[str]) -> list[str]:
    found = [*extra]
    for name in SECRET_ENV_VARS:
        for source in (env, os.environ):
            value = source.get(name)
            if value and len(value) >= _MIN_SECRET:
                found.append(value)
    return found
