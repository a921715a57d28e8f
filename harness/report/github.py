"""GitHub Actions: workflow-command annotations and the job summary.

When `GITHUB_ACTIONS=true`, every failure of the run and every spec error before it
is printed as an `::error file=...,line=...,title=...::message` line (a feature run
that passed only when --rerun-failed ran it again, as a `::warning`), which GitHub
shows on the pull request's diff at that line, and `summary.md` (the same renderer as
the file) is appended to `$GITHUB_STEP_SUMMARY`. Paths are made relative to
`$GITHUB_WORKSPACE` (else the working directory), as GitHub matches them against the
repository.

Both read the one result tree (results.ResultBuilder); nothing here derives a status.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from harness.events import Event
from harness.report import markdown
from harness.report.results import ResultBuilder, RunResult

# A problem line of the spec checks: `path:line:col: message`.
_PROBLEM = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$")
MAX_ANNOTATIONS = 50  # GitHub shows at most 10 errors per step and 50 per job


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def _data(text: str) -> str:
    # The escaping of the workflow-command format (actions/toolkit's command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def relative(path: str, environ: Mapping[str, str] | None = None) -> str:
    """`path` relative to the workspace (a path outside it stays absolute)."""
    environ = os.environ if environ is None else environ
    workspace = Path(environ.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    full = Path(path)
    if not full.is_absolute():
        full = Path.cwd() / full
    try:
        return full.resolve().relative_to(workspace).as_posix()
    except ValueError:
        return full.as_posix()


def annotation(
    path: str,
    line: int,
    title: str,
    message: str,
    *,
    level: str = "error",
    environ: Mapping[str, str] | None = None,
) -> str:
    """One workflow command, e.g. `::error file=specs/A.feature.md,line=12,title=...::...`."""
    return (
        f"::{level} file={_property(relative(path, environ))},line={max(1, line)},"
        f"title={_property(title)}::{_data(message)}"
    )


def failure_annotations(run: RunResult, environ: Mapping[str, str] | None = None) -> list[str]:
    """An annotation per failure of the run, at the failed step (or scenario) line."""
    out = []
    for feature, scenario, step in run.failures()[:MAX_ANNOTATIONS]:
        title = feature.name + (f" › {scenario.name}" if scenario else "")
        if step is not None:
            error = step.error or {}
            message = error.get("message") or step.reason or step.status
            attempts = (
                f" (failed after {step.attempt_count} attempts)" if step.attempt_count > 1 else ""
            )
            body = f"{step.keyword} {step.shown_text}{attempts}\n{message}"
            out.append(annotation(feature.path, step.line, title, body, environ=environ))
        else:
            line = scenario.line if scenario else 1
            reason = (scenario.reason if scenario else feature.reason) or "failed"
            out.append(annotation(feature.path, line, title, reason, environ=environ))
    return out


def flaky_annotations(run: RunResult, environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning per feature run that failed, then passed when --rerun-failed ran it
    again, at the line where it failed first."""
    out = []
    for feature in (f for f in run.feature_runs if f.flaky):
        first = feature.previous[0]
        failures = RunResult(feature_runs=[first]).failures()
        line, message = 1, first.reason or "failed"
        if failures:
            _, scenario, step = failures[0]
            line = step.line if step else scenario.line if scenario else 1
            message = (
                ((step.error or {}).get("message") if step else None)
                or (scenario.reason if scenario else None)
                or message
            )
        out.append(
            annotation(
                feature.path,
                line,
                f"flaky: {feature.name}",
                f"failed at attempt 1, passed at attempt {feature.attempt}: {message}",
                level="warning",
                environ=environ,
            )
        )
    return out


def problem_annotations(
    problems: Iterable[str], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Annotations for spec errors and undefined steps (`path:line:col: message` texts,
    the rest of a multi-line problem kept as its body)."""
    out = []
    for problem in problems:
        head, _, rest = str(problem).partition("\n")
        found = _PROBLEM.match(head)
        if found is None:
            continue
        message = found["message"] + (f"\n{rest}" if rest else "")
        out.append(
            annotation(found["path"], int(found["line"]), "spec error", message, environ=environ)
        )
        if len(out) >= MAX_ANNOTATIONS:
            break
    return out


def append_summary(run: RunResult, environ: Mapping[str, str] | None = None) -> None:
    """summary.md appended to $GITHUB_STEP_SUMMARY (when it names a file)."""
    target = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(markdown.render(run) + "\n")


class GitHubReporter:
    """Prints the failures as annotations and fills the job summary at the run's end."""

    def __init__(
        self,
        model: ResultBuilder,
        stream: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.stream = stream
        self.environ = environ
        self._done = False

    def __call__(self, event: Event) -> None:
        if event.type == "run_finished":
            self._finish()

    def close(self) -> None:
        self._finish()  # without RunFinished (a crash, a kill): what ran

    def _finish(self) -> None:
        if self._done or self.model.run.started is None:
            return
        self._done = True
        with contextlib.suppress(Exception):  # CI extras never break the run
            run = self.model.result()
            stream = self.stream or sys.stdout
            for line in failure_annotations(run, self.environ) + flaky_annotations(
                run, self.environ
            ):
                print(line, file=stream)
            stream.flush()
            append_summary(run, self.environ)
