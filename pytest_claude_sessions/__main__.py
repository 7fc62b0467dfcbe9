"""``python -m pytest_claude_sessions``: the ``claude-sessions`` command."""

from __future__ import annotations

import sys

from pytest_claude_sessions.commands.main import main

if __name__ == "__main__":
    sys.exit(main())
