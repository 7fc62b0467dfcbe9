"""pytest entry point (``pytest11: claude_sessions``): hooks, fixtures, options and markers only."""

from __future__ import annotations
