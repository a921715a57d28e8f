"""The report writer: the file reports of `spec-harness run`, written by a second process.

`spec-harness run` starts it first thing (harness/entry.py), so that what only the file
reports need (the HTML template engine, Markdown, the renderers: ~50 ms of imports) and
their rendering at the end happen on another core while the runner imports, plans and
runs. It is the FileReporter, fed through a pipe: after one header line naming the
reports folder, the runner sends each event as its events.ndjson line; the worker
appends the lines to events.ndjson as they come and writes index.html, junit.xml,
results.json, summary.md and messages.ndjson on RunFinished, or at the end of its input
when that never came. The same files, byte for byte, as the in-process FileReporter
(which the pytest plugin, watch mode and `cli.main()` called in-process keep using).

However the runner ends (done, Ctrl-C, SIGTERM, a crash, `kill -9`), its end closes the
pipe and the worker writes the reports of what it received. The worker ignores SIGINT
and SIGTERM, which a terminal or a CI job sends to the whole process group: what to
report is the runner's decision. Without a header (the run never got to reporting, or
had reports off) it writes nothing and exits.

    python -m harness.report.worker    (reads its standard input; started by the runner)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from harness.events import Event, FeatureRunFinished, RunFinished
from harness.report import jsonout
from harness.report.later import Later

FLUSH_EVERY = 0.1  # seconds an event may wait in the runner before it goes to the worker
WAIT_FOR_WORKER = 120.0  # seconds the runner waits at the end for the reports to be written


class WorkerProcess:
    """The runner's side: the started worker, until a run claims it as its reporter."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.claimed = False

    def reporter(self, reports_dir: Path) -> WorkerReporter | None:
        """The reporter that feeds this worker for a run writing to `reports_dir`; None
        when the worker is gone already (the run then writes in-process)."""
        if self.claimed or self.process.poll() is not None:
            return None
        self.claimed = True
        reporter = WorkerReporter(self.process, Path(reports_dir))
        if not reporter.send_header():
            return None
        return reporter

    def discard(self) -> None:
        """No run claimed it: end it without a header, so it writes nothing."""
        if self.claimed:
            return
        self.claimed = True
        with contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


class WorkerReporter:
    """A reporter (`harness.report.Reporter`) that sends each event to the worker: at the
    end of every feature run, on RunFinished, and otherwise at most FLUSH_EVERY late."""

    def __init__(self, process: subprocess.Popen[bytes], reports_dir: Path) -> None:
        self.process = process
        self.reports_dir = reports_dir
        self._pipe: IO[bytes] = process.stdin  # type: ignore[assignment]
        self._pending: list[bytes] = []
        self._later = Later(FLUSH_EVERY, self._send)
        self._broken = False

    def send_header(self) -> bool:
        header = json.dumps({"reports": str(self.reports_dir)}) + "\n"
        self._pending.append(header.encode())
        self._send()
        return not self._broken

    def __call__(self, event: Event) -> None:
        if self._broken:
            return
        try:
            line = (jsonout.event_line(event) + "\n").encode("utf-8")
        except UnicodeEncodeError:
            line = (jsonout.ascii_line(event) + "\n").encode("ascii")
        self._pending.append(line)
        if isinstance(event, FeatureRunFinished | RunFinished):
            self._send()
        else:
            self._later.request()

    def _send(self) -> None:
        if not self._pending or self._broken:
            return
        data, self._pending = b"".join(self._pending), []
        try:
            self._pipe.write(data)
            self._pipe.flush()
        except (OSError, ValueError):
            self._broken = True
            _warn(
                f"the report writer stopped (exit {self.process.poll()}): the reports in "
                f"{self.reports_dir} miss what came after"
            )

    def close(self) -> None:
        """Send what is left, end the input, and wait for the reports to be written."""
        self._send()
        with contextlib.suppress(OSError, ValueError):
            self._pipe.close()
        try:
            code = self.process.wait(timeout=WAIT_FOR_WORKER)
        except subprocess.TimeoutExpired:
            _warn(f"the report writer did not finish in {WAIT_FOR_WORKER:.0f} s; left running")
            return
        if code != 0 and not self._broken:
            _warn(f"the report writer failed (exit {code}): see above")


def _warn(message: str) -> None:
    with contextlib.suppress(Exception):
        print(f"spec-harness: reports: {message}", file=sys.stderr)


def main() -> int:
    """The worker: read the header and the event lines from standard input until it ends."""
    for name in ("SIGINT", "SIGTERM"):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    # Loaded before waiting for the run: this is what the worker is for (module doc).
    from harness.report.writer import FileReporter

    source = sys.stdin.buffer
    header = source.readline()
    if not header.strip():
        return 0  # no run to report
    try:
        reports_dir = Path(json.loads(header)["reports"])
    except (ValueError, KeyError, TypeError):
        _warn(f"the report writer got no reports folder: {header[:200]!r}")
        return 2
    reporter = FileReporter(reports_dir)
    rest = b""
    try:
        while True:
            chunk = source.read1(1 << 16)  # what has come, after what readline buffered
            if not chunk:
                break
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                reporter.add_line(line)
            reporter.flush()
        if rest:
            reporter.add_line(rest)  # a torn last line is skipped, as by `rebuild`
    finally:
        reporter.close()
    return 1 if reporter.failed else 0


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    # Everything is written and closed: tearing down the interpreter (every module and
    # object, ~50 ms) would only keep the runner waiting for this process to end.
    os._exit(code)
