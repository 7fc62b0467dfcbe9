"""Identifiers and encodings shared by every subsystem: Claude session ids and the CLI's project-dir names.

The CLI keeps a session's transcript at ``<config>/projects/<project_dir_name(cwd)>/<session_id>.jsonl``;
the executor, the transcripts and the cassettes all need that name, so it is computed here, once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Final

__all__ = ["MAX_PROJECT_DIR_CHARS", "encode_project_path", "is_session_id", "project_dir_name"]

#: Project directory names longer than this are cut and suffixed with a hash (as the CLI does).
MAX_PROJECT_DIR_CHARS: Final = 200

_UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


def is_session_id(value: object) -> bool:
    """True when ``value`` is a string in UUID form (8-4-4-4-12 hex digits), as the CLI requires."""
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None


def _utf16_units(text: str) -> Iterator[int]:
    for ch in text:
        code = ord(ch)
        if code > 0xFFFF:  # JS strings hold astral characters as surrogate pairs
            code -= 0x10000
            yield 0xD800 + (code >> 10)
            yield 0xDC00 + (code & 0x3FF)
        else:
            yield code


def _js_hash32(text: str) -> int:
    """Java's ``String.hashCode`` over UTF-16 units, as a signed 32-bit int (the CLI's path hash)."""
    h = 0
    for unit in _utf16_units(text):
        h = (h * 31 + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _BASE36[r] + out
        if n == 0:
            return out


def encode_project_path(real_path: str) -> str:
    """Encode an already-resolved path the way the CLI names project directories (no realpath here).

    Every UTF-16 code unit outside ``[A-Za-z0-9]`` becomes ``-`` (an astral character gives two); no
    Unicode normalisation. Longer than 200 units: the first 200, ``-``, then base-36 of ``abs(hash)``.
    """
    parts = []
    for ch in real_path:
        if ch.isascii() and ch.isalnum():
            parts.append(ch)
        else:
            parts.append("--" if ord(ch) > 0xFFFF else "-")
    enc = "".join(parts)
    if len(enc) > MAX_PROJECT_DIR_CHARS:
        enc = enc[:MAX_PROJECT_DIR_CHARS] + "-" + _base36(abs(_js_hash32(real_path)))
    return enc


def project_dir_name(cwd: str | os.PathLike[str]) -> str:
    """The CLI's project directory name for ``cwd``: :func:`encode_project_path` of its realpath.

    (A cwd whose name is not valid UTF-8 needs no special case: the CLI refuses to start in one.)
    """
    return encode_project_path(os.path.realpath(os.fspath(cwd)))
