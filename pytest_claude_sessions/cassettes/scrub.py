"""What a cassette must not hold: secrets are redacted, machine paths become placeholders.

Every string a call records (request, output, transcript records) goes through :meth:`CallScrubber.scrub`:
literal API keys from the environment, the :class:`~pytest_claude_sessions.redact.Redactor` rules and user
patterns are replaced by markers (for good), then the home, cwd, config-dir and temp paths (raw, realpath and
the CLI's slug-encoded project-dir form) become ``{{PCS_…}}`` placeholders. On replay the placeholders are
restored with the *current* call's paths, so replayed transcripts land where the validator looks.

PYTEST_DONT_REWRITE: no assert here relies on pytest's assert rewriting (skipping it keeps imports cheap).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_claude_sessions.ids import encode_project_path
from pytest_claude_sessions.models import CliCall
from pytest_claude_sessions.redact import SECRET_ENV_VARS, Redactor, env_secrets, marker

__all__ = ["PLACEHOLDER_NAME", "SECRET_ENV_VARS", "CallScrubber", "CassetteScrubber", "PlaceholderPaths"]

_MIN_PATH = 5  # "/", "/tmp", "/root" are too common to replace blindly
_MIN_SLUG = 8
_TOKEN_RE = re.compile(r"\{\{PCS_[A-Z0-9_]+\}\}")
# Every text holding a placeholder's path has a separator, or a slug: "-" then 7+ of [A-Za-z0-9-]
# (the CLI's project-dir name of an absolute path, at least _MIN_SLUG long).
_SLUG_RUN = re.compile(f"-[A-Za-z0-9-]{{{_MIN_SLUG - 1},}}")


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
            redactor = redactor.with_patterns(patterns)
        return cls(redactor=redactor)

    def for_call(self, call: CliCall, cwds: Sequence[str | os.PathLike[str]] = ()) -> CallScrubber:
        """A scrubber bound to the secrets and paths of ``call``.

        ``cwds``: every working directory the test's calls used so far, in first-use order (a resume from
        another cwd appends to the first cwd's project dir, which must become a placeholder too). The
        realpath and project-dir forms are computed on first need (a replay rarely needs a realpath).
        """
        return CallScrubber(self, _secrets(call.env, self.secrets), PlaceholderPaths.of(call, cwds))


#: The names a placeholder may carry: a path (``CWD``, ``CWD_2``, ...) and its ``_REAL``/``_PROJECT`` forms.
PLACEHOLDER_NAME = re.compile(
    r"(?:CONFIG_DIR|CWD(?:_[2-9]|_[1-9][0-9]+)?|TMPDIR|XDG_RUNTIME_DIR|HOME)(?:_REAL|_PROJECT)?"
)


class PlaceholderPaths:
    """Placeholder name → the path it stands for in one call; each form computed once, on first use.

    Names: ``CONFIG_DIR``, ``CWD`` (``CWD_2``, …), ``TMPDIR``, ``XDG_RUNTIME_DIR``, ``HOME``, each also as
    ``<NAME>_REAL`` (its realpath: lstat calls) and ``<NAME>_PROJECT`` (the CLI's slug of the realpath).
    """

    def __init__(self, raw: Mapping[str, str]) -> None:
        self._raw = dict(raw)
        self._cache: dict[str, str] = {}

    @classmethod
    def of(cls, call: CliCall, cwds: Sequence[str | os.PathLike[str]] = ()) -> PlaceholderPaths:
        """The raw paths of ``call``; ``cwds`` as in :meth:`CassetteScrubber.for_call`."""
        sources: list[tuple[str, str | None]] = [("CONFIG_DIR", str(call.config_dir))]
        for index, cwd in enumerate([os.fspath(c) for c in cwds] or [str(call.cwd)]):
            sources.append(("CWD" if index == 0 else f"CWD_{index + 1}", cwd))
        for name in ("TMPDIR", "XDG_RUNTIME_DIR", "HOME"):
            sources.append((name, call.env.get(name) or (os.environ.get(name) if name == "HOME" else None)))
        return cls({name: raw.rstrip("/") or raw for name, raw in sources if raw})

    def get(self, name: str) -> str | None:
        """The path placeholder ``name`` stands for, ``None`` for a name this call has no path for."""
        value = self._cache.get(name)
        if value is not None:
            return value
        base, _, form = name.rpartition("_")
        if name in self._raw:
            value = self._raw[name]
        elif form == "REAL" and base in self._raw:
            value = os.path.realpath(self._raw[base])
        elif form == "PROJECT" and base in self._raw:
            real = self.get(base + "_REAL")
            assert real is not None
            value = encode_project_path(real)
        else:
            return None
        self._cache[name] = value
        return value

    def complete(self) -> dict[str, str]:
        """Every form of every path (a replay fills ``{{PCS_CWD_REAL}}`` even where it equals the raw)."""
        out: dict[str, str] = {}
        for base in self._raw:
            for name in (base, base + "_REAL", base + "_PROJECT"):
                value = self.get(name)
                assert value is not None
                out[name] = value
        return out

    def scrubbing(self) -> dict[str, str]:
        """The forms to scrub: a realpath equal to its raw path adds nothing (the raw placeholder wins)."""
        complete = self.complete()
        return {k: v for k, v in complete.items() if not (k.endswith("_REAL") and complete[k[:-5]] == v)}


class CallScrubber:
    """Scrubs (on record) and restores (on replay) the strings of one call."""

    def __init__(self, base: CassetteScrubber, secrets: list[str], paths: PlaceholderPaths) -> None:
        self._redactor = base.redactor
        self._secrets = sorted(set(secrets), key=len, reverse=True)
        self._placeholders = paths
        self._to_token: dict[str, str] | None = None  # built on first need: most strings hold no path
        self._path_re: re.Pattern[str] | None = None
        self._restore_json: dict[str, str] = {}

    @property
    def paths(self) -> dict[str, str]:
        """Placeholder name → path, the forms scrubbed on record."""
        return self._placeholders.scrubbing()

    # ---------------------------------------------------------------- record
    def _tokens(self) -> dict[str, str]:
        if self._to_token is None:
            pairs = [
                (value, token(name))
                for name, value in self.paths.items()
                if len(value) >= (_MIN_SLUG if name.endswith("_PROJECT") else _MIN_PATH)
            ]
            pairs.sort(key=lambda pair: len(pair[0]), reverse=True)  # the longest path wins at a position
            self._to_token = dict(pairs)
        return self._to_token

    def scrub_text(self, text: str) -> str:
        """Secrets masked, then machine paths replaced by placeholders."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, marker("secret-env"))
        text = self._redactor.redact(text)
        # plain text (a prompt, "stream-json") cannot hold a path: no realpath computed for it
        if "/" not in text and os.sep not in text and _SLUG_RUN.search(text) is None:
            return text
        to_token = self._tokens()
        if any(value in text for value in to_token):
            if self._path_re is None:
                alternatives = "|".join(re.escape(v) for v in to_token)  # longest first
                self._path_re = re.compile(f"(?:{alternatives})(?![A-Za-z0-9_])")
            text = self._path_re.sub(lambda m: to_token[m.group(0)], text)
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
        path must not break the record). Only the placeholders present are resolved (realpath is costly).
        """
        paths = self._placeholders
        escaped = self._restore_json

        def one(match: re.Match[str]) -> str:
            text = match.group(0)
            value = paths.get(text[6:-2])
            if value is None:
                return text  # a placeholder we cannot fill stays visible
            if not json_text:
                return value
            if text not in escaped:
                escaped[text] = json.dumps(value, ensure_ascii=False)[1:-1]
            return escaped[text]

        def restore(text: str) -> str:
            return _TOKEN_RE.sub(one, text) if "{{PCS_" in text else text

        return restore


def _secrets(env: Mapping[str, str], extra: Iterable[str]) -> list[str]:
    # the redactor knows the key variables of this process's environment; the call's own env may add some
    return [*extra, *env_secrets(env)]
