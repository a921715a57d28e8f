"""Console progress while feature runs execute in parallel, then failures and the summary.

On a terminal a status area at the bottom is redrawn in place (which feature runs are
running, their passed steps, Soon steps waiting and their attempt); elsewhere (CI
logs, pipes) each finished scenario and feature run is one line, since a redrawn area
would be noise in a log file. The last line is always exactly
`N passed, N failed, N skipped` (scenarios), uncoloured, because CI parses it.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.environment import rerun_command
from harness.events import (
    Attachment,
    Event,
    FeatureRunFinished,
    FeatureRunStarted,
    Log,
    RunFinished,
    RunStarted,
    ScenarioFinished,
    ScenarioStarted,
    StepAttempt,
    StepFinished,
)
from harness.report.later import Later
from harness.report.results import ResultBuilder, RunResult, StepResult, outcome
from harness.report.text import diff_kind, duration

_CODES = {
    "passed": "32",
    "failed": "31",
    "undefined": "35",
    "skipped": "33",
    "pending": "33",
    "bold": "1",
    "dim": "2",
    "cyan": "36",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "magenta": "35",
}
_UNICODE = {
    "passed": "✓",
    "failed": "✗",
    "skipped": "–",
    "undefined": "?",
    "pending": "…",
    "running": "⟳",
    "wait": "⏳",
    "sep": "›",
}
_ASCII = {
    "passed": "ok",
    "failed": "FAIL",
    "skipped": "skip",
    "undefined": "??",
    "pending": "..",
    "running": "*",
    "wait": "~",
    "sep": ">",
}
_DIFF_STYLES = {"file": "bold", "hunk": "cyan", "add": "green", "del": "red"}
REDRAW_EVERY = 0.1  # seconds between redraws of the status area for mere progress


def use_color(stream: TextIO, color: bool | None) -> bool:
    """Colours only on a terminal unless asked, and never when NO_COLOR is set."""
    if os.environ.get("NO_COLOR"):
        return False
    if color is not None:
        return color
    return _isatty(stream)


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _unicode_ok(stream: TextIO) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True  # an in-memory stream holds any text
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def summary_line(counts: dict[str, int]) -> str:
    """The closing line CI reads: `N passed, N failed, N skipped` (scenarios)."""
    return (
        f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
        f"{counts.get('skipped', 0)} skipped"
    )


@dataclass
class _Running:
    name: str
    total_steps: int
    passed_steps: int = 0
    failed_steps: int = 0
    scenario: str = ""
    waiting: dict[str, tuple[str, int]] = field(default_factory=dict)  # step_id -> text, attempt
    progress: str = ""


class ConsoleReporter:
    """Reports a run on a text stream; see the module docstring."""

    def __init__(
        self,
        stream: TextIO,
        *,
        verbose: bool = False,
        quiet: bool = False,
        color: bool | None = None,
        live: bool | None = None,
        reports_dir: Path | None = None,
        model: ResultBuilder | None = None,
    ) -> None:
        self.stream = stream
        self.verbose = verbose and not quiet
        self.quiet = quiet
        self.color = use_color(stream, color)
        if live is None:
            live = _isatty(stream) and os.environ.get("TERM") != "dumb"
        self.live = live and not quiet
        self.reports_dir = reports_dir
        # The run's read model: shared with the other reporters and fed by the bus ahead
        # of them (see make_reporters); a console on its own keeps and feeds its own.
        self._own_model = model is None
        self.builder = ResultBuilder() if model is None else model
        self.symbols = _UNICODE if _unicode_ok(stream) else _ASCII
        self._running: dict[str, _Running] = {}
        self._area = 0  # lines of the status area now on screen
        self._last_draw = 0.0
        self._later = Later(REDRAW_EVERY, self._draw_late)
        self._done = False
        self._broken = False
        self._started = 0  # feature runs started
        self._planned = 0
        self._scenario_counts = {"passed": 0, "failed": 0, "skipped": 0}
        self._handlers: dict[str, Callable[[Any], None]] = {
            RunStarted.type: self._on_run_started,
            FeatureRunStarted.type: self._on_feature_started,
            ScenarioStarted.type: self._on_scenario_started,
            StepAttempt.type: self._on_attempt,
            StepFinished.type: self._on_step,
            Log.type: self._on_log,
            Attachment.type: self._on_attachment,
            ScenarioFinished.type: self._on_scenario,
            FeatureRunFinished.type: self._on_feature,
            RunFinished.type: self._on_run_finished,
        }

    # -- the Reporter protocol -------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if self._done:
            return
        try:
            if self._own_model:
                self.builder(event)
            self._handle(event)
        except Exception:
            pass  # progress output is best effort; the run and the files matter more

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._finish()

    # -- events ----------------------------------------------------------------------

    def _handle(self, event: Event) -> None:
        handler = self._handlers.get(event.type)
        if handler is not None:
            handler(event)

    def _on_run_started(self, event: RunStarted) -> None:
        self._planned = len(event.plan)
        if not self.quiet:
            self._print(
                [
                    self._paint(
                        f"spec-harness: {_plural(self._planned, 'feature run')} on target "
                        f"{event.target}, "
                        f"{event.jobs} at a time",
                        "dim",
                    )
                ]
            )

    def _on_feature_started(self, event: FeatureRunStarted) -> None:
        self._started += 1
        feature = self.builder.find_feature(event.run_id)
        if feature is not None:
            total = sum(len(s.steps) for s in feature.scenarios)
            self._running[event.run_id] = _Running(feature.name, total)
        self._redraw(force=True)

    def _on_scenario_started(self, event: ScenarioStarted) -> None:
        running = self._running.get(event.run_id)
        scenario = self.builder.find_scenario(event.scenario_id)
        if running and scenario:
            running.scenario = scenario.name
        self._redraw()

    def _on_attachment(self, event: Attachment) -> None:
        if self.verbose:
            line = _attachment_line(event)
            if event.kind == "journal" and isinstance(event.data, dict):
                # the embedded target attaches every scenario's journal as its feature
                # run ends (TargetRun.journal_by_scenario): say whose it is
                scenario = self.builder.find_scenario(str(event.data.get("scenario_id")))
                if scenario is not None:
                    line += f" in {scenario.name!r}"
            self._print([self._indent(3, self._paint(line, "dim"))])

    def _on_run_finished(self, event: RunFinished) -> None:
        self._finish()

    def _on_attempt(self, event: StepAttempt) -> None:
        running = self._running.get(event.run_id)
        if event.error is not None and event.next_delay is not None:
            step = self.builder.find_step(event.step_id)
            text = f"{step.keyword} {step.text}" if step else ""
            if running:
                running.waiting[event.step_id] = (text, event.attempt)
            if self.verbose:
                self._print(
                    [
                        self._indent(
                            3,
                            self._paint(
                                f"attempt {event.attempt} failed: {_one_line(event.error)} "
                                f"(next in {duration(event.next_delay)})",
                                "dim",
                            ),
                        )
                    ]
                )
            # A wait begins: show it now (attempts are spaced by the back-off anyway).
            self._redraw(force=True)
        else:
            self._redraw()

    def _on_step(self, event: StepFinished) -> None:
        running = self._running.get(event.run_id)
        if running:
            running.waiting.pop(event.step_id, None)
            running.progress = ""
            if event.status == "passed":
                running.passed_steps += 1
            elif outcome(event.status) == "failed":
                running.failed_steps += 1
        if self.verbose:
            step = self.builder.find_step(event.step_id)
            keyword = step.keyword if step is not None else ""
            extra = f" ({_after(event.status, event.attempts)})" if event.attempts > 1 else ""
            reason = f" ({event.reason})" if event.reason and event.status != "passed" else ""
            # Parallel runs interleave their steps: name the run when others are running.
            where = ""
            if running and len(self._running) > 1:
                where = self._paint(f"[{running.name}] ", "dim")
            line = (
                f"{self._mark(event.status)} {where}{keyword} {event.text}{extra}{reason} "
                + self._paint(duration(event.duration), "dim")
            )
            self._print([self._indent(2, line)])
        else:
            self._redraw()

    def _on_log(self, event: Log) -> None:
        running = self._running.get(event.run_id)
        if running and event.level == "progress":
            running.progress = _one_line(event.message)
        if self.verbose:
            self._print([self._indent(3, self._paint(f"{event.level}: ", "dim") + event.message)])
        else:
            self._redraw()

    def _on_scenario(self, event: ScenarioFinished) -> None:
        scenario = self.builder.find_scenario(event.scenario_id)
        if scenario is None or scenario.counted:
            self._scenario_counts[outcome(event.status)] += 1
        if self.quiet:
            return
        running = self._running.get(event.run_id)
        name = scenario.name if scenario else event.scenario_id
        prefix = f"{running.name} {self.symbols['sep']} " if running else ""
        reason = f" ({event.reason})" if event.reason and event.status != "passed" else ""
        took = duration(event.duration) if event.duration or event.status != "skipped" else ""
        line = f"{self._mark(event.status)} {prefix}{name}{reason} " + self._paint(took, "dim")
        self._print([self._indent(1, line.rstrip())])

    def _on_feature(self, event: FeatureRunFinished) -> None:
        running = self._running.pop(event.run_id, None)
        if self.quiet:
            return
        feature = self.builder.find_feature(event.run_id)
        name = running.name if running else (feature.name if feature else event.run_id)
        parts = [event.status]
        if feature is not None and feature.attempt > 1:
            parts.append(
                f"attempt {feature.attempt}" + (", flaky" if event.status == "passed" else "")
            )
        ran = running is not None and (running.passed_steps or running.failed_steps)
        if ran:
            parts.append(f"{running.passed_steps}/{running.total_steps} steps passed")
        if event.reason:
            parts.append(event.reason)
        if ran or event.duration:
            parts.append(duration(event.duration))
        line = f"{self._mark(event.status)} {self._paint(name, 'bold')}  " + self._paint(
            " · ".join(parts), "dim"
        )
        self._print([line])

    # -- the end -----------------------------------------------------------------------

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._clear_area()
        run = self.builder.result()
        lines = self._failure_lines(run)
        if run.interrupted:
            lines += [
                "",
                self._paint(
                    f"{run.stopped_by.capitalize()}: the summary and reports cover what ran.",
                    "yellow",
                ),
            ]
        if not self.quiet:
            detail = [
                _plural(len(run.feature_runs), "feature run"),
                _plural(sum(run.step_counts.values()), "step"),
                duration(run.duration),
            ]
            if run.passed_after_retries:
                detail.append(f"{_plural(run.passed_after_retries, 'step')} passed after retries")
            if run.flaky:
                flaky = ", ".join(f.name for f in run.feature_runs if f.flaky)
                detail.append(f"flaky (passed when run again): {flaky}")
            if self.reports_dir is not None:
                detail.append(f"report: {self.reports_dir / 'index.html'}")
            lines += ["", self._paint(" · ".join(detail), "dim")]
            failed = list(dict.fromkeys(f.path for f in run.feature_runs if f.outcome == "failed"))
            if failed and self.reports_dir is not None:
                again = rerun_command(
                    run.environment.get("reports", str(self.reports_dir)), failed
                )[0]
                lines.append(self._paint(f"run the failures again: {again}", "dim"))
        # Uncoloured and alone on its line: CI parses it.
        lines.append(summary_line(run.counts))
        self._write("\n".join(lines) + "\n")

    def _failure_lines(self, run: RunResult) -> list[str]:
        failures = run.failures()
        if not failures:
            return []
        lines = ["", self._paint(f"Failures ({len(failures)}):", "bold")]
        sep = self.symbols["sep"]
        for number, (feature, scenario, step) in enumerate(failures, 1):
            title = feature.name + (f" {sep} {scenario.name}" if scenario else "")
            lines += ["", f"{number}) {self._paint(title, 'bold')}"]
            if step is None:
                line = scenario.line if scenario else 0
                reason = (scenario.reason if scenario else feature.reason) or "failed"
                lines.append(f"   {feature.path}:{line}: {self._paint(reason, 'red')}")
                continue
            attempts = (
                f" ({_after(step.status, step.attempt_count)})" if step.attempt_count > 1 else ""
            )
            lines.append(
                f"   {self._mark(step.status)} {step.keyword} {step.shown_text}"
                f"{self._paint(attempts, 'dim')}"
            )
            lines.append("     " + self._paint(f"{feature.path}:{step.line}", "dim"))
            error = step.error or {}
            message = error.get("message") or step.reason or step.status
            lines += ["     " + self._paint(m, "red") for m in str(message).split("\n")]
            if error.get("detail"):
                lines.append("")
                lines += ["     " + self._diff(d) for d in str(error["detail"]).split("\n")]
            lines += [self._paint(line, "dim") for line in _distinct_lines(step)]
        return lines

    # -- drawing ---------------------------------------------------------------------

    def _paint(self, text: str, style: str) -> str:
        if not self.color or not text:
            return text
        return f"\x1b[{_CODES[style]}m{text}\x1b[0m"

    def _mark(self, status: str) -> str:
        return self._paint(self.symbols.get(status, status), status if status in _CODES else "dim")

    def _diff(self, line: str) -> str:
        style = _DIFF_STYLES.get(diff_kind(line))
        return self._paint(line, style) if style else line

    @staticmethod
    def _indent(level: int, text: str) -> str:
        return "  " * level + text

    def _print(self, lines: list[str]) -> None:
        """Lines above the status area (which is redrawn below them)."""
        self._clear_area()
        self._write("".join(line + "\n" for line in lines))
        self._redraw(force=True)

    def _clear_area(self) -> None:
        if self._area:
            # Up to the first line of the area, then erase to the end of the screen.
            self._write(f"\x1b[{self._area}F\x1b[J")
            self._area = 0

    def _redraw(self, force: bool = False) -> None:
        if not self.live or self._done:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < REDRAW_EVERY:
            self._later.request()
            return
        self._last_draw = now
        width, height = self._size()
        lines = self._area_lines()[: max(1, height - 2)]
        # Cut to the width: a wrapped line would make the next redraw erase too little.
        text = "".join(self._fit(line, width - 1) + "\n" for line in lines)
        self._clear_area()
        self._write(text)
        self._area = len(lines)

    def _draw_late(self) -> None:
        """The update skipped as too soon, drawn once things calm down."""
        with contextlib.suppress(Exception):
            self._redraw(force=True)

    def _area_lines(self) -> list[tuple[str, str]]:
        counts = self._scenario_counts
        head = (
            f"{self.symbols['running']} {len(self._running)} running, "
            f"{self._started}/{self._planned or self._started} started · "
            f"{counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped"
        )
        lines = [(head, "bold")]
        for running in self._running.values():
            text = f"  {running.name}"
            if running.scenario:
                text += f" {self.symbols['sep']} {running.scenario}"
            text += f" · {running.passed_steps}/{running.total_steps} steps"
            style = "red" if running.failed_steps else ""
            if running.waiting:
                step_text, attempt = next(reversed(running.waiting.values()))
                text += f" · {self.symbols['wait']} attempt {attempt}: {step_text}"
                style = style or "cyan"
            elif running.progress:
                text += f" · {running.progress}"
            lines.append((text, style))
        return lines

    def _fit(self, line: tuple[str, str], width: int) -> str:
        text, style = line
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        return self._paint(text, style) if style else text

    def _size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.stream.fileno())
        except (AttributeError, ValueError, OSError):
            size = shutil.get_terminal_size()
        return max(20, size.columns), max(3, size.lines)

    def _write(self, text: str) -> None:
        if self._broken or not text:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self._broken = True  # a closed pipe: stop writing, keep the run going
        except UnicodeEncodeError:
            self.stream.write(text.encode("ascii", "replace").decode("ascii"))


def _after(status: str, attempts: int) -> str:
    """`passed after 3 attempts`, `failed after 34 attempts`."""
    return f"{status} after {attempts} attempts"


def _distinct_lines(step: StepResult) -> list[str]:
    """A retried step's different failures, each once with how often, oldest first
    (the final one is the message above): not one line per attempt."""
    distinct = step.distinct_failures()
    if len(distinct) < 2 and not (distinct and step.status == "passed"):
        return []
    lines = ["     earlier attempts:"]
    for failure in distinct:
        when = (
            f"attempt {failure.first}"
            if failure.count == 1
            else f"attempts {failure.first}-{failure.last} ({failure.count}x)"
        )
        lines.append(f"       {when}: {_one_line(failure.error)[:200]}")
    return lines


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _attachment_line(event: Attachment) -> str:
    data = event.data or {}
    if event.kind == "http":
        request, response = data.get("request") or {}, data.get("response") or {}
        took = (
            f" ({duration(data['duration'])})"
            if isinstance(data.get("duration"), int | float)
            else ""
        )
        return f"http {request.get('method')} {request.get('url')} → {response.get('status')}{took}"
    if event.kind in ("ws-in", "ws-out"):
        message = data.get("message")
        if not isinstance(message, str):
            message = json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)
        message = _one_line(message)[:200]
        return f"{event.kind} {data.get('fingerprint', '')}: {message}"
    if event.kind == "journal":
        return f"journal: {_plural(len(data.get('entries') or []), 'request')}"
    return f"{event.kind}: {data.get('title') or ''} {_one_line(str(data.get('text', '')))[:200]}"
