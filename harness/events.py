"""The event stream: the runner emits these; reporters only listen.

Every event is a plain dataclass that round-trips through JSON (`to_dict`/`from_dict`),
so a saved `events.ndjson` rebuilds every report.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Step and scenario outcomes, worst last (a scenario takes the worst of its steps).
STATUSES = ("passed", "skipped", "pending", "undefined", "failed")


@dataclass
class Event:
    type: ClassVar[str] = "event"
    time: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **dataclasses.asdict(self)}


@dataclass
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    paths: list[str]
    target: str
    jobs: int
    planned: list[dict[str, Any]]  # [{run_id, path, title, variant, needs}]


@dataclass
class FeatureRunStarted(Event):
    type: ClassVar[str] = "feature_started"
    run_id: str
    path: str
    title: str
    variant: dict[str, Any] | None
    feature: dict[str, Any]  # the parsed Feature as a dict, for living-document reports


@dataclass
class FeatureRunFinished(Event):
    type: ClassVar[str] = "feature_finished"
    run_id: str
    status: str
    duration: float
    reason: str | None = None


@dataclass
class ScenarioStarted(Event):
    type: ClassVar[str] = "scenario_started"
    run_id: str
    scenario_id: str
    title: str
    line: int
    kind: str  # scenario | background | outline
    example: dict[str, str] | None = None  # the Examples row of an outline run
    rule: str | None = None


@dataclass
class ScenarioFinished(Event):
    type: ClassVar[str] = "scenario_finished"
    run_id: str
    scenario_id: str
    status: str
    duration: float
    reason: str | None = None


@dataclass
class StepStarted(Event):
    type: ClassVar[str] = "step_started"
    run_id: str
    scenario_id: str
    step_id: str
    keyword: str
    kind: str
    text: str  # as written
    line: int


@dataclass
class StepAttempt(Event):
    type: ClassVar[str] = "step_attempt"
    run_id: str
    step_id: str
    attempt: int  # 1-based
    duration: float
    error: str | None  # None: this attempt passed
    next_delay: float | None = None  # seconds until the next attempt, when retrying


@dataclass
class StepFinished(Event):
    type: ClassVar[str] = "step_finished"
    run_id: str
    scenario_id: str
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


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (RunStarted, FeatureRunStarted, FeatureRunFinished,
                              ScenarioStarted, ScenarioFinished, StepStarted, StepAttempt,
                              StepFinished, Log, Attachment, RunFinished)
}


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from `to_dict` output."""
    cls = EVENT_TYPES[data["type"]]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


Listener = Callable[[Event], None]


class EventBus:
    """Fan-out of events to listeners, in subscription order; listeners must not block."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)


def worst(statuses: list[str]) -> str:
    """The worst status of a list (passed when empty)."""
    return max(statuses, key=STATUSES.index, default="passed")
