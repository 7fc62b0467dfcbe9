"""What the controller writes and checks at the end of a run besides the JSON report: the HTML report
(``--claude-html``), the baseline (``--claude-save-baseline``) and the regression gate
(``--claude-compare`` / ``--claude-compare-fail``).

The baseline is read at start-up, before the run directory is made (and old runs are pruned): a baseline
that cannot be found is a start-up error naming the option, never a surprise after a long run. The figures
come from the test records (:func:`pytest_claude_sessions.report.compare.figures`); a replayed call carries
its recorded cost, turns and duration, so a suite replayed from cassettes compares offline.

PYTEST_DONT_REWRITE: nothing here relies on pytest's assert rewriting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_claude_sessions.plugin.options import Settings

if TYPE_CHECKING:
    from pytest_claude_sessions.report.compare import Comparison, Threshold

# Outputs written at the end whose place is checked at start-up (the JSON report is checked the same way).
OUTPUT_PATHS = ("json_report", "html", "save_baseline")


def check_output_paths(settings: Settings) -> None:
    """Each output path that could not be written at the end is a start-up error naming its option."""
    from pytest_claude_sessions.plugin.reporting import json_report_problem

    for name in OUTPUT_PATHS:
        path = getattr(settings, name)
        if path is None:
            continue
        problem = json_report_problem(path)
        if problem is not None:
            raise pytest.UsageError(str(settings.invalid(name, f"cannot write there: {problem}")))


class RunOutputs:
    """The end-of-run outputs of one controller (or single process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.baseline_name = ""
        self.baseline: dict[str, dict[str, float]] | None = None
        self.thresholds: list[Threshold] = []
        self.comparison: Comparison | None = None
        self.notes: list[str] = []  # written, or nothing to compare with
        self.errors: list[str] = []  # could not write

    @classmethod
    def start(cls, settings: Settings) -> RunOutputs:
        """Check the output paths and load the baseline (call before the run directory is created)."""
        check_output_paths(settings)
        outputs = cls(settings)
        if settings.compare_fail is not None and settings.compare is None:
            raise pytest.UsageError(
                str(
                    settings.invalid(
                        "compare_fail",
                        "needs --claude-compare=previous|RUN_ID|FILE (the baseline to compare with)",
                    )
                )
            )
        if settings.compare is not None:
            outputs.load_baseline(settings.compare)
        return outputs

    def load_baseline(self, ref: str) -> None:
        from pytest_claude_sessions.errors import ClaudeSessionsError
        from pytest_claude_sessions.report import compare

        if self.settings.compare_fail is not None:
            self.thresholds = compare.parse_thresholds(self.settings.compare_fail)
        try:
            self.baseline_name, self.baseline = compare.load_baseline(ref, self.settings.sessions_dir)
        except ClaudeSessionsError as exc:
            if ref == "previous":
                # The first run of a store (a fresh CI cache) has nothing to compare with: said, not failed.
                self.notes.append(f"{exc} (nothing compared)")
                return
            why = str(exc).removeprefix(f"--claude-compare={ref}: ")
            raise pytest.UsageError(str(self.settings.invalid("compare", why))) from None

    @property
    def failed(self) -> bool:
        """Some test went beyond a ``--claude-compare-fail`` threshold."""
        return self.comparison is not None and self.comparison.failed

    def finish(
        self, run_id: str, run_dir: Path, records: Sequence[Mapping[str, Any]], wrote_report: bool
    ) -> None:
        """Compare, write the baseline and the HTML report (``wrote_report``: the run directory holds its
        ``report.json``, so the HTML is rendered from the run as ``claude-sessions html`` renders it)."""
        from pytest_claude_sessions.report import compare

        if self.baseline is not None:
            self.comparison = compare.compare(
                records, self.baseline, self.thresholds, baseline_name=self.baseline_name
            )
        path = self.settings.save_baseline
        if path is not None:
            try:
                compare.write_baseline(path, compare.baseline_from_records(records, run_id=run_id))
                self.notes.append(f"baseline: {path} ({len(records)} test(s))")
            except OSError as exc:
                self.errors.append(f"could not write the baseline to {path}: {exc}")
        if self.settings.html is not None:
            self.write_html(run_id, run_dir, records, wrote_report)

    def write_html(
        self, run_id: str, run_dir: Path, records: Sequence[Mapping[str, Any]], wrote_report: bool
    ) -> None:
        from pytest_claude_sessions.errors import ClaudeSessionsError
        from pytest_claude_sessions.fs import atomic_write
        from pytest_claude_sessions.report import model
        from pytest_claude_sessions.report.html import read_extras, render_html

        path = self.settings.html
        assert path is not None
        try:
            run = model.load_run_dir(run_dir) if wrote_report else None
        except (ClaudeSessionsError, OSError):
            run = None
        if run is None:  # no test touched Claude, or the run's report.json could not be written
            run = model.Run(run_id, str(run_dir), [dict(r) for r in records])
        text = render_html(run, extras=read_extras(run, redact=self.settings.cassette_redact))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text.encode("utf-8"))
        except OSError as exc:
            self.errors.append(f"could not write the HTML report to {path}: {exc}")
            return
        self.notes.append(f"HTML report: {path}")

    def write_summary(self, terminal: Any) -> None:
        """The "claude compare" section (the table and the offenders) and what was written where."""
        if self.comparison is not None:
            terminal.write_sep("-", "claude compare")
            offenders = False
            for line in self.comparison.lines():
                offenders = offenders or line.startswith("REGRESSION")
                terminal.write_line(line, red=offenders, bold=offenders)
        if self.notes or self.errors:
            terminal.write_sep("-", "claude outputs")
            for line in self.notes:
                terminal.write_line(line)
            for line in self.errors:
                terminal.write_line(line, red=True, bold=True)
