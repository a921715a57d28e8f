"""Play fixture specs through the real parser, planner, runner and reporters.

    played = play(SPECS / "reports", tmp_path / "reports")
    played.output, played.events, played.outcome, played.result

The steps are the scripted ones of tests/support/scripted_steps.py.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from behave import step_registry

from harness.events import Event, EventBus
from harness.loader import discover, parse_all
from harness.plan import Selection, make_plan
from harness.report import make_reporters
from harness.report.results import ResultBuilder, RunResult
from harness.run.registry import StepRegistry
from harness.run.retry import RetryPolicy
from harness.run.runner import Runner, RunOutcome, RunSettings

from . import scripted_steps

SPECS = Path(__file__).resolve().parents[1] / "specs"
FAST = RetryPolicy(initialDelay=1, maxDelay=5, timeout=5000)


def scripted_registry() -> StepRegistry:
    behave_registry = step_registry.StepRegistry()
    scripted_steps.register(behave_registry.make_decorator("step"))
    return StepRegistry(behave_registry)


@dataclass
class Played:
    outcome: RunOutcome | None
    events: list[Event]
    output: str = ""
    reporters: list[Any] = field(default_factory=list)

    @property
    def result(self) -> RunResult:
        """The read model of the run, built from the events alone."""
        model = ResultBuilder()
        for event in self.events:
            model(event)
        return model.result()


def play(
    paths: Path | list[Path],
    reports: Path | None = None,
    *,
    lines: dict | None = None,
    close: bool = True,
    settings: RunSettings | None = None,
    **console: Any,
) -> Played:
    """Run the specs at `paths` with scripted steps; reporters as `spec-harness run` has
    them (console to a string, files to `reports` when given)."""
    files, _ = discover([str(p) for p in (paths if isinstance(paths, list) else [paths])])
    plan = make_plan(parse_all(files), Selection(lines=lines or {}))
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append)
    out = io.StringIO()
    reporters = make_reporters(reports, stream=out, color=console.pop("color", False), **console)
    for reporter in reporters:
        bus.subscribe(reporter)
    runner = Runner(plan, scripted_registry(), None, bus, settings or RunSettings(retry=FAST))
    outcome = asyncio.run(runner.run())
    if close:
        for reporter in reporters:
            reporter.close()
    return Played(outcome, events, out.getvalue(), reporters)


def feed(reporter: Any, events: list[Event]) -> None:
    for event in events:
        reporter(event)
