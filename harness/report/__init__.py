"""Reporters: consumers of the runner's events (`harness.events`); they never drive it.

    reporters = make_reporters(Path("reports"), verbose=False)
    for reporter in reporters:
        bus.subscribe(reporter)
    ... run ...
    for reporter in reporters:
        reporter.close()

The read model (`results.ResultBuilder`) folds each event once; the console reporter
shows progress and the final summary from it; the file reporter writes
`events.ndjson` as events arrive and, on RunFinished (or at close when it never came),
`index.html`, `junit.xml`, `results.json` and `summary.md`, all from that one tree.
`rebuild` makes the same files again from a saved `events.ndjson`. `spec-harness run`
has the file reports written by a second process instead (`worker.py`), fed the same
events; the renderers (`writer` and what it imports) are loaded only where they run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from harness.events import Event
from harness.report import github
from harness.report.console import ConsoleReporter, summary_line, use_color
from harness.report.results import ResultBuilder, RunResult

if TYPE_CHECKING:
    from harness.report.worker import WorkerProcess


class Reporter(Protocol):
    def __call__(self, event: Event) -> None:
        """Take one event; subscribed to the EventBus, so it must not block or raise."""

    def close(self) -> None:
        """Called once at the end, after RunFinished (or instead of it, when cut short)."""


def make_reporters(
    reports_dir: Path | None,
    *,
    stream: TextIO | None = None,
    verbose: bool = False,
    quiet: bool = False,
    color: bool | None = None,
    worker: WorkerProcess | None = None,
) -> list[Reporter]:
    """The read model, the console reporter, then (with `reports_dir`) the file writer;
    subscribe them to the bus in this order.

    `stream` None is sys.stdout as it is at the call (not at import: test runners and
    the CLI may replace it). `color` None means auto: colours on a terminal, never when
    NO_COLOR is set. With a started `worker` (harness/report/worker.py), that process
    writes the files; without one, or when it is gone, this one does.
    """
    stream = sys.stdout if stream is None else stream
    # One read model, subscribed first: each event is folded once, then the reporters
    # read the tree (the console its names and counts, the writer the whole of it).
    model = ResultBuilder()
    reporters: list[Reporter] = [
        model,
        ConsoleReporter(
            stream, verbose=verbose, quiet=quiet, color=color, reports_dir=reports_dir, model=model
        ),
    ]
    if reports_dir is not None:
        files = worker.reporter(Path(reports_dir)) if worker is not None else None
        if files is None:
            from harness.report.writer import FileReporter

            files = FileReporter(Path(reports_dir), model=model)
        reporters.append(files)
    if github.enabled():
        # After the console: the annotations follow its summary in the job log.
        reporters.append(github.GitHubReporter(model, stream))
    return reporters


def rebuild(events_path: Path, reports_dir: Path) -> None:
    """Write index.html, junit.xml, results.json and summary.md from an events.ndjson.

    A stream cut short (no RunFinished, a torn last line) still gives reports, with
    what never finished marked interrupted.
    """
    from harness.report.writer import rebuild as _rebuild

    _rebuild(Path(events_path), Path(reports_dir))


def __getattr__(name: str) -> Any:
    # The renderers load when first asked for (see the module's docstring).
    if name in ("FileReporter", "write_reports"):
        from harness.report import writer

        return getattr(writer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ConsoleReporter",
    "FileReporter",
    "Reporter",
    "ResultBuilder",
    "RunResult",
    "make_reporters",
    "rebuild",
    "summary_line",
    "use_color",
    "write_reports",
]
