"""The ``claude`` executable the plugin puts first on ``PATH``: written once per pytest process.

It is a three-line Python script run with ``-S`` (no ``site``: nothing but the standard library is needed)
that loads :mod:`.launcher` straight from this directory, not through the package (whose ``__init__``
costs milliseconds the launcher does not need), and passes it the server's socket, so a launcher whose
environment was rebuilt from scratch still finds its test.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

__all__ = ["LAUNCHER_NAME", "write_launcher"]

LAUNCHER_NAME = "claude"


def write_launcher(directory: Path, socket_path: str, *, python: str | None = None) -> Path:
    """Write ``<directory>/claude`` (executable) and return its path."""
    python = python or sys.executable
    here = str(Path(__file__).resolve().parent)
    body = (
        "import sys\n"
        f"sys.path.insert(0, {here!r})\n"
        "from launcher import main\n"
        f"sys.exit(main({socket_path!r}))\n"
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LAUNCHER_NAME
    if " " in python or len(python) > 120:  # a shebang line cannot hold that: go through sh
        script = directory / "claude-launcher.py"
        script.write_text(body, encoding="utf-8")
        quoted = python.replace("'", "'\\''")
        path.write_text(f"#!/bin/sh\nexec '{quoted}' -S '{script}' \"$@\"\n", encoding="utf-8")
    else:
        path.write_text(f"#!{python} -S\n{body}", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
