"""The file reporter: events.ndjson as events arrive, the other reports at the end."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import orjson

from harness.events import Event, FeatureRunFinished, RunFinished
from harness.report import html, jsonout, junit, markdown, messages
from harness.report.later import Later
from harness.report.results import ResultBuilder, RunResult

EVENTS = "events.ndjson"
FLUSH_EVERY = 0.1  # seconds an event may wait in the buffer before it is on disk
RENDERERS = {
    "index.html": html.render,
    "junit.xml": junit.render,
    "results.json": jsonout.render,
    "summary.md": markdown.render,
    "messages.ndjson": messages.render,
}


def write_reports(run: RunResult, reports_dir: Path) -> list[Path]:
    """Write every report of a finished tree (not events.ndjson); return their paths."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, render in RENDERERS.items():
        path = reports_dir / name
        _write_atomically(path, render(run))
        written.append(path)
    return written


def _write_atomically(path: Path, text: str) -> None:
    # A report is replaced whole or not at all: a crash mid-write never leaves a
    # truncated index.html over the previous good one.
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8", errors="replace", newline="\n") as out:
        out.write(text)
    os.replace(temporary, path)


class FileReporter:
    """Appends each event to events.ndjson and writes the other reports on RunFinished,
    or at close() when it never came.

    The reports are rendered from the run's read model (`model`, fed by the bus ahead
    of this reporter; without one it keeps its own), which holds what the saved events
    rebuild to, so `rebuild` gives the same bytes. The file is flushed at the end of
    every feature run and at most FLUSH_EVERY seconds after any event (on the runner's
    loop), so a killed or hung run leaves what happened on disk without a write per
    event.
    """

    def __init__(
        self, reports_dir: Path, *, errors: TextIO | None = None, model: ResultBuilder | None = None
    ) -> None:
        self.reports_dir = Path(reports_dir)
        self._own_model = model is None
        self.model = ResultBuilder() if model is None else model
        self.written: list[Path] = []
        self.result: RunResult | None = None
        self._events: TextIO | None = None
        self._done = False
        self._failed = False
        self._dirty = False
        self._later = Later(FLUSH_EVERY, self._flush_late)
        self._last_flush = 0.0
        self._errors = errors

    def __call__(self, event: Event) -> None:
        try:
            self._handle(event)
        except Exception as exc:  # a reporter must never break the run it reports
            self._warn(f"could not record {event.type}: {exc!r}")

    def _handle(self, event: Event) -> None:
        if self._done:
            return
        if self._own_model:
            self.model(event)
        out = self._open()
        try:
            out.write(jsonout.event_line(event) + "\n")
        except UnicodeEncodeError:
            # Encoding happens before anything is written, so no half line is left.
            out.write(jsonout.ascii_line(event) + "\n")
        self._written(event.type)

    def add_line(self, line: bytes) -> None:
        """One event as its events.ndjson line (the report worker's way in: it folds the
        line into its own model). A line that is not an event is skipped, as `build`
        skips it."""
        if self._done:
            return
        try:
            data = orjson.loads(line)
        except ValueError:  # orjson refuses a lone surrogate, which json takes
            try:
                data = json.loads(line)
            except ValueError:
                return
        if not isinstance(data, dict):
            return
        try:
            if self._own_model:
                self.model.add(data)
            self._open().write(line.decode("utf-8", "replace") + "\n")
            self._written(data.get("type"))
        except Exception as exc:
            self._warn(f"could not record {data.get('type')}: {exc!r}")

    def _written(self, kind: object) -> None:
        self._dirty = True
        if kind == RunFinished.type:
            self._write()
        elif kind == FeatureRunFinished.type or time.monotonic() - self._last_flush >= FLUSH_EVERY:
            self._flush()
        else:
            self._later.request()

    def flush(self) -> None:
        """events.ndjson on disk now (the worker's, after each chunk it reads)."""
        self._flush_late()

    @property
    def failed(self) -> bool:
        """Something could not be written (and was said on stderr)."""
        return self._failed

    def _open(self) -> TextIO:
        if self._events is None:
            self.reports_dir.mkdir(parents=True, exist_ok=True)
            # Kept open for the whole run (closed in close()).
            self._events = open(  # noqa: SIM115
                self.reports_dir / EVENTS, "w", encoding="utf-8", newline="\n"
            )
        return self._events

    def _flush(self) -> None:
        self._last_flush = time.monotonic()
        if self._events is not None and self._dirty:
            self._dirty = False
            self._events.flush()

    def _flush_late(self) -> None:
        try:
            self._flush()
        except Exception as exc:
            self._warn(f"could not write {EVENTS}: {exc!r}")

    def _write(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._flush()
            self.result = self.model.result()
            self.written = write_reports(self.result, self.reports_dir)
        except Exception as exc:
            self._warn(f"could not write the reports in {self.reports_dir}: {exc!r}")

    def close(self) -> None:
        try:
            # Without RunFinished (a crash, a kill) the reports are still written for what
            # ran; without any event there is nothing to report and old reports stay.
            if self._events is not None:
                self._write()
        finally:
            if self._events is not None:
                with contextlib.suppress(OSError):
                    self._events.close()
                self._events = None

    def _warn(self, message: str) -> None:
        if self._failed:
            return
        self._failed = True  # once: a broken disk must not flood the console
        with contextlib.suppress(Exception):
            print(f"spec-harness: reports: {message}", file=self._errors or sys.stderr)


def read_events(events_path: Path) -> list[dict[str, Any]]:
    """The events of an events.ndjson, skipping what cannot be parsed (the torn last line
    of a killed run, a blank line)."""
    events = []
    with open(events_path, encoding="utf-8", errors="replace") as source:
        for line in source:
            line = line.strip()
            if not line:
                continue
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                events.append(data)
    return events


def build(events_path: Path) -> RunResult:
    """The result tree of an events.ndjson."""
    builder = ResultBuilder()
    for data in read_events(Path(events_path)):
        builder.add(data)
    return builder.result()


def rebuild(events_path: Path, reports_dir: Path) -> list[Path]:
    """Rebuild index.html, junit.xml, results.json and summary.md from an events.ndjson."""
    return write_reports(build(Path(events_path)), Path(reports_dir))
