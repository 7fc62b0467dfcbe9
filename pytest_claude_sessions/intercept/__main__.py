"""``python -m pytest_claude_sessions.intercept [claude args]``: the launcher, run as a module."""

from __future__ import annotations

import sys

from pytest_claude_sessions.intercept.launcher import main

sys.exit(main())
