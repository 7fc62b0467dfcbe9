"""pytest-html, when it is installed and writing a report (``--html``): each test's session graph and
steps table go into its row as an extra, the fragment the HTML report shows for it. Optional: nothing here
runs, and pytest-html is never imported, without it.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

PLUGIN = "html"  # pytest-html's pytest11 entry point name


def wanted(config: pytest.Config) -> bool:
    """pytest-html is active and writes a report in this run (a worker sees the same options)."""
    return config.pluginmanager.has_plugin(PLUGIN) and bool(getattr(config.option, "htmlpath", None))


def add(config: pytest.Config, report: pytest.TestReport, record: Mapping[str, Any] | None) -> None:
    """Append the test's fragment to ``report.extras`` (the teardown report: the record is final then;
    extras travel with the report from an xdist worker)."""
    if record is None or not record.get("steps") or not wanted(config):
        return
    from pytest_html import extras  # type: ignore[import-not-found,unused-ignore]

    from pytest_claude_sessions.report.html import session_fragment

    report.extras = [*getattr(report, "extras", []), extras.html(session_fragment(record))]  # type: ignore[attr-defined]
