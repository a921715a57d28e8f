"""The event stream: the runner emits these; reporters only listen.

Every event is a plain dataclass written as one JSON line (`to_dict`), so a saved
`events.ndjson` rebuilds every report. `RunStarted` carries the plan; every later event
refers to its feature runs, executions and steps by id (as cucumber's messages do).

There is no StepStarted: steps run in plan order within a scenario, so the step
running is the first of a started scenario without a StepFinished, and a step that
passes at once costs two events fewer than a started/finished pair per step
would (a third of a trivial run's events; see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

log = logging.getLogger(__name__)

# Step and scenario outcomes, worst last (a scenario takes the worst of its steps).
STATUSES = ("passed", "skipped", "pending", "undefined", "failed")


@dataclass
class Event:
    type: ClassVar[str] = "event"
    # Stamped by the EventBus from its clock when emitted (None until then), so tests and
    # previews run on a fake clock; an event built with a time keeps it.
    time: float | None = field(default=None, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **dataclasses.asdict(self)}


@dataclass
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    paths: list[str]
    target: str
    jobs: int
    # The plan (harness.plan.Plan.to_dict): feature runs, their executions and steps,
    # with the ids every later event refers to and the names every report shows.
    plan: list[dict[str, Any]]
    # Where and how it runs (harness/environment.py): target, API version, versions,
    # the command, the CI build; the reports show it.
    environment: dict[str, Any] = field(default_factory=dict)
    # The step definitions the plan's steps match: {id, pattern, regex, file, line,
    # steps: [step ids]} (harness/run/definitions.py).
    definitions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FeatureRunStarted(Event):
    type: ClassVar[str] = "feature_started"
    run_id: str
    # >1: `--rerun-failed` runs it again after a failure; what this attempt does replaces
    # what the earlier did (the reports keep those as earlier attempts, the run as flaky
    # when it then passes).
    attempt: int = 1


@dataclass
class FeatureRunFinished(Event):
    type: ClassVar[str] = "feature_finished"
    run_id: str
    status: str
    duration: float
    reason: str | None = None  # why skipped or failed; also why the rest did not run


@dataclass
class ScenarioStarted(Event):
    type: ClassVar[str] = "scenario_started"
    run_id: str
    scenario_id: str


@dataclass
class ScenarioFinished(Event):
    type: ClassVar[str] = "scenario_finished"
    run_id: str
    scenario_id: str
    status: str
    duration: float
    reason: str | None = None  # why skipped or failed; also why later steps did not run


@dataclass
class StepAttempt(Event):
    type: ClassVar[str] = "step_attempt"
    run_id: str
    step_id: str
    attempt: int  # 1-based
    duration: float
    error: str | None  # None: this attempt passed
    next_delay: float | None = None  # seconds until the next attempt, when retrying
    # Attempts folded into this one since the last recorded (same error, fast retries):
    # a zero-delay Soon step must not write an event per spin.
    repeated: int = 0


@dataclass
class StepFinished(Event):
    type: ClassVar[str] = "step_finished"
    run_id: str
    step_id: str
    status: str
    duration: float
    text: str  # resolved (placeholders replaced), or as written when never resolved
    code: str | None = None  # resolved code block
    attempts: int = 0
    error: dict[str, Any] | None = None  # {message, kind, detail}
    reason: str | None = None  # why skipped


@dataclass
class Log(Event):
    type: ClassVar[str] = "log"
    run_id: str
    step_id: str | None
    level: str  # debug | info | progress
    message: str


@dataclass
class Attachment(Event):
    type: ClassVar[str] = "attachment"
    run_id: str
    step_id: str | None
    kind: str  # http | ws-in | ws-out | journal | text
    data: dict[str, Any]


@dataclass
class RunFinished(Event):
    type: ClassVar[str] = "run_finished"
    status: str
    duration: float
    counts: dict[str, int]  # scenarios by status
    exit_code: int
    interrupted: bool = False


Listener = Callable[[Event], None]


class EventBus:
    """Fan-out of events to listeners, in subscription order; listeners must not block.

    A listener never breaks the run it listens to: what one raises is logged here, once
    for every listener, and the next listener still hears the event.
    `clock` stamps each event's `time` (seconds since the epoch; injectable for tests)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._listeners: list[Listener] = []
        self.clock = clock

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        if event.time is None:
            event.time = self.clock()
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a reporter's bug must not fail the specs it reports on
                log.exception("listener %r failed on %s", listener, event.type)


def worst(statuses: list[str]) -> str:
    """The worst status of a list (passed when empty)."""
    return max(statuses, key=STATUSES.index, default="passed")
