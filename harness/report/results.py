"""The result tree: the one read model of a run, folded from its events.

This is the one place that interprets events (like cucumber's Query): it is fed each
event once, and the console, HTML, JUnit, JSON and Markdown all read the tree it
builds, so they can never disagree on a count, a status or a name.

`RunStarted` carries the plan (harness/plan.py): every feature run, execution and step,
with its id, its name and what the reports show of the spec. The skeleton is built
from it, and the later events fill it in by id; nothing is joined by line number or
title. What never ran (a skipped feature run, the rest of a failed one, an interrupted
run) stays in the tree as skipped, with the reason.

The builder takes events as plain dicts (`Event.to_dict()`, or a line of
`events.ndjson` parsed back), so a rebuild from the saved stream gives the same tree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from harness.events import STATUSES, Event, worst
from harness.naming import fill
from harness.plan import counts_as_scenario

# The three outcomes every summary counts (CI reads "N passed, N failed, N skipped").
# Undefined steps fail; pending ones did not run, so they count as skipped.
OUTCOMES = ("passed", "failed", "skipped")
_OUTCOME = {
    "passed": "passed",
    "failed": "failed",
    "undefined": "failed",
    "skipped": "skipped",
    "pending": "skipped",
}

INTERRUPTED = "interrupted"
TIMED_OUT = "timed out"  # RunFinished's status when --timeout cut the run
PLANNED = "planned"  # in the plan, no event yet


def outcome(status: str) -> str:
    """passed, failed or skipped: how a step or scenario status counts."""
    return _OUTCOME.get(status, "skipped")


@dataclass
class Attempt:
    attempt: int
    time: float
    duration: float
    error: str | None  # None: this attempt passed
    next_delay: float | None = None
    repeated: int = 0  # attempts before this one folded into it (same error, fast retries)


@dataclass
class DistinctFailure:
    """One error message a retried step saw, and on which attempts."""

    error: str
    count: int
    first: int  # attempt numbers
    last: int


@dataclass
class LogEntry:
    time: float
    level: str
    message: str


@dataclass
class AttachmentEntry:
    time: float
    kind: str  # http | ws-in | ws-out | journal | text
    data: dict[str, Any]


@dataclass
class StepResult:
    id: str
    keyword: str
    kind: str
    text: str  # as written (an outline's `<name>` filled from its row)
    line: int
    status: str = PLANNED
    template: str | None = None  # an outline step as written, before its row filled it
    definition: str | None = None  # the id of the step definition it matches
    resolved: str | None = None  # placeholders replaced (None: never resolved)
    code: str | None = None  # resolved when the step ran, else as written
    language: str | None = None
    table: dict[str, Any] | None = None  # {header, rows, line}
    description: str | None = None
    comments: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    started: float | None = None
    duration: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    attempt_count: int = 0
    error: dict[str, Any] | None = None  # {message, kind, detail}
    reason: str | None = None
    logs: list[LogEntry] = field(default_factory=list)
    attachments: list[AttachmentEntry] = field(default_factory=list)
    ran: bool = False  # False: known only from the plan
    interrupted: bool = False
    retrying: bool = False  # a Soon step or `after N retries`

    @property
    def shown_text(self) -> str:
        return self.resolved if self.resolved is not None else self.text

    @property
    def passed_after_retries(self) -> bool:
        """Passed, but not at the first attempt: normal for an eventually consistent
        system (shown as "passed after N attempts"; "flaky" is for reruns)."""
        return self.status == "passed" and self.attempt_count > 1

    def distinct_failures(self) -> list[DistinctFailure]:
        """The different errors of its attempts, in order of first sight, each counted."""
        found: dict[str, DistinctFailure] = {}
        for a in self.attempts:
            if a.error is None:
                continue
            seen = found.get(a.error)
            if seen is None:
                found[a.error] = DistinctFailure(
                    a.error, 1 + a.repeated, a.attempt - a.repeated, a.attempt
                )
            else:
                seen.count += 1 + a.repeated
                seen.last = a.attempt
        return list(found.values())


@dataclass
class ScenarioResult:
    id: str
    title: str  # `<name>` filled from the row
    name: str  # title with the Examples row
    line: int
    kind: str  # scenario | background | outline
    example: dict[str, str] | None = None
    rule: str | None = None
    keyword: str | None = None
    status: str = PLANNED
    started: float | None = None
    duration: float = 0.0
    reason: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    journal: list[Any] = field(default_factory=list)  # the mock's journal entries
    ran: bool = False
    interrupted: bool = False

    @property
    def outcome(self) -> str:
        return outcome(self.status)

    @property
    def counted(self) -> bool:
        """Whether it counts as a scenario (harness.plan.counts_as_scenario)."""
        return counts_as_scenario(self.kind, self.outcome == "failed")


@dataclass
class RuleInfo:
    title: str
    line: int
    description: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class FeatureResult:
    id: str  # the run_id
    path: str
    title: str
    name: str  # title with the variant
    variant: dict[str, Any] | None = None
    status: str = PLANNED
    started: float | None = None
    duration: float = 0.0
    reason: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    rules: list[RuleInfo] = field(default_factory=list)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    logs: list[LogEntry] = field(default_factory=list)
    attachments: list[AttachmentEntry] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # scenarios by outcome
    step_counts: dict[str, int] = field(default_factory=dict)
    passed_after_retries: int = 0  # steps
    interrupted: bool = False
    attempt: int = 1  # >1: run again by --rerun-failed after failing
    previous: list[FeatureResult] = field(default_factory=list)  # earlier attempts

    @property
    def outcome(self) -> str:
        return outcome(self.status)

    @property
    def flaky(self) -> bool:
        """Failed, then passed when --rerun-failed ran it again."""
        return self.status == "passed" and bool(self.previous)


@dataclass
class RunResult:
    status: str = "running"
    started: float | None = None
    duration: float = 0.0
    target: str | None = None
    paths: list[str] = field(default_factory=list)
    jobs: int | None = None
    environment: dict[str, Any] = field(default_factory=dict)  # harness/environment.py
    definitions: list[dict[str, Any]] = field(default_factory=list)  # {id, pattern, file..}
    exit_code: int | None = None
    interrupted: bool = False
    complete: bool = False  # RunFinished was seen
    counts: dict[str, int] = field(default_factory=dict)  # scenarios by outcome
    step_counts: dict[str, int] = field(default_factory=dict)
    passed_after_retries: int = 0  # steps that passed, but not at the first attempt
    flaky: int = 0  # feature runs that failed, then passed when run again
    feature_runs: list[FeatureResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def stopped_by(self) -> str:
        """Why a cut-short run stopped, in the words the reports use: `--timeout`
        shows as "timed out", Ctrl-C, SIGTERM or a kill as "interrupted"."""
        return TIMED_OUT if self.status == TIMED_OUT else INTERRUPTED

    def failures(self) -> list[tuple[FeatureResult, ScenarioResult | None, StepResult | None]]:
        """Every failure in report order: (feature, scenario, failed step or None)."""
        found: list[tuple[FeatureResult, ScenarioResult | None, StepResult | None]] = []
        for feature in self.feature_runs:
            failed_scenarios = [s for s in feature.scenarios if s.outcome == "failed"]
            if feature.outcome == "failed" and not failed_scenarios:
                found.append((feature, None, None))  # failed outside any scenario (a hook)
            for scenario in failed_scenarios:
                steps = [s for s in scenario.steps if outcome(s.status) == "failed"]
                if not steps:
                    found.append((feature, scenario, None))
                found.extend((feature, scenario, step) for step in steps)
        return found


class ResultBuilder:
    """Folds events into a RunResult; `result()` finalizes it once.

    Subscribed to the EventBus itself (`__call__`), ahead of the reporters that read it,
    so each event is folded once however many reporters there are.
    """

    def __init__(self) -> None:
        self.run = RunResult()
        self._features: dict[str, FeatureResult] = {}
        self._scenarios: dict[str, ScenarioResult] = {}
        self._steps: dict[str, StepResult] = {}
        self._finished_features: set[str] = set()
        self._finished_scenarios: set[str] = set()
        self._planned: dict[str, dict[str, Any]] = {}  # run_id -> its plan (for reruns)
        self._last_time: float | None = None
        self._result: RunResult | None = None
        self._cut = INTERRUPTED  # the reason given to what the run's end cut short
        self.events = 0
        self._handlers = {
            "run_started": self._on_run_started,
            "feature_started": self._on_feature_started,
            "feature_finished": self._on_feature_finished,
            "scenario_started": self._on_scenario_started,
            "scenario_finished": self._on_scenario_finished,
            "step_attempt": self._on_step_attempt,
            "step_finished": self._on_step_finished,
            "log": self._on_log,
            "attachment": self._on_attachment,
            "run_finished": self._on_run_finished,
        }

    def __call__(self, event: Event) -> None:
        # A shallow dict: the same keys as the events.ndjson line, without copying.
        self.add({"type": event.type, **vars(event)})

    def close(self) -> None:
        """Nothing to release (the Reporter protocol)."""

    # -- lookups (the console reads names and totals here) ----------------------------

    def find_feature(self, run_id: str) -> FeatureResult | None:
        return self._features.get(run_id)

    def find_scenario(self, scenario_id: str) -> ScenarioResult | None:
        return self._scenarios.get(scenario_id)

    def find_step(self, step_id: str) -> StepResult | None:
        return self._steps.get(step_id)

    # -- folding -------------------------------------------------------------------

    def add(self, data: dict[str, Any]) -> None:
        """Fold one event; unknown types, unknown ids and malformed events are ignored."""
        if self._result is not None or self.run.complete:
            # Nothing after RunFinished counts (none is expected): the live reports are
            # written on RunFinished, and a rebuild must come out the same.
            return
        handler = self._handlers.get(data.get("type"))  # type: ignore[arg-type]
        if handler is None:
            return
        when = data.get("time")
        if type(when) is float or type(when) is int:
            last = self._last_time
            self._last_time = when if last is None or when > last else last
        self.events += 1
        try:  # noqa: SIM105 - contextlib.suppress costs more, on every event
            handler(data)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a malformed event must not cost the rest of the report

    def _on_run_started(self, e: dict[str, Any]) -> None:
        run = self.run
        run.started = e.get("time")
        run.paths = list(e.get("paths") or [])
        run.target = e.get("target")
        run.jobs = e.get("jobs")
        run.environment = e.get("environment") or {}
        for planned in e.get("plan") or []:
            feature = _planned_feature(planned)
            self._features[feature.id] = feature
            self._planned[feature.id] = planned
            run.feature_runs.append(feature)
            self._index(feature)
        for definition in e.get("definitions") or []:
            run.definitions.append({k: v for k, v in definition.items() if k != "steps"})
            for step_id in definition.get("steps") or []:
                step = self._steps.get(step_id)
                if step is not None:
                    step.definition = definition["id"]

    def _index(self, feature: FeatureResult) -> None:
        for scenario in feature.scenarios:
            self._scenarios[scenario.id] = scenario
            for step in scenario.steps:
                self._steps[step.id] = step

    def _on_feature_started(self, e: dict[str, Any]) -> None:
        feature = self._features[e["run_id"]]
        attempt = e.get("attempt") or 1
        if attempt > 1 and feature.id in self._finished_features:
            feature = self._rerun(feature, attempt)
        feature.started = e.get("time")
        feature.status = "running"

    def _rerun(self, earlier: FeatureResult, attempt: int) -> FeatureResult:
        """A fresh tree for the feature run's next attempt (--rerun-failed); the earlier
        attempt is finished as it stands and kept in `previous`."""
        self._finish_feature(earlier)
        fresh = _planned_feature(self._planned[earlier.id])
        for old, new in zip(_steps_of(earlier), _steps_of(fresh), strict=False):
            new.definition = old.definition
        fresh.attempt = attempt
        fresh.previous = [*earlier.previous, earlier]
        earlier.previous = []
        self._features[fresh.id] = fresh
        runs = self.run.feature_runs
        runs[runs.index(earlier)] = fresh
        self._finished_features.discard(fresh.id)
        self._finished_scenarios -= {s.id for s in fresh.scenarios}
        self._index(fresh)
        return fresh

    def _on_feature_finished(self, e: dict[str, Any]) -> None:
        feature = self._features[e["run_id"]]
        feature.status = e.get("status") or "failed"
        feature.duration = e.get("duration") or 0.0
        feature.reason = e.get("reason")
        self._finished_features.add(feature.id)

    def _on_scenario_started(self, e: dict[str, Any]) -> None:
        scenario = self._scenarios[e["scenario_id"]]
        scenario.started = e.get("time")
        scenario.status = "running"
        scenario.ran = True

    def _on_scenario_finished(self, e: dict[str, Any]) -> None:
        scenario = self._scenarios[e["scenario_id"]]
        scenario.status = e.get("status") or "failed"
        scenario.duration = e.get("duration") or 0.0
        scenario.reason = e.get("reason")
        self._finished_scenarios.add(scenario.id)

    def _step(self, e: dict[str, Any], duration: float) -> StepResult:
        """The step an event is about, marked running at its first event (there is no
        StepStarted: see harness/events.py), started `duration` before it."""
        step = self._steps[e["step_id"]]
        if not step.ran:
            step.ran = True
            step.status = "running"
            when = e.get("time")
            if isinstance(when, int | float) and isinstance(duration, int | float):
                step.started = when - duration
        return step

    def _on_step_attempt(self, e: dict[str, Any]) -> None:
        step = self._step(e, e.get("duration") or 0.0)
        step.attempts.append(
            Attempt(
                attempt=e.get("attempt", len(step.attempts) + 1),
                time=e.get("time", 0.0),
                duration=e.get("duration", 0.0),
                error=e.get("error"),
                next_delay=e.get("next_delay"),
                repeated=e.get("repeated") or 0,
            )
        )
        step.attempt_count = max(step.attempt_count, step.attempts[-1].attempt)

    def _on_step_finished(self, e: dict[str, Any]) -> None:
        step = self._step(e, e.get("duration") or 0.0)
        step.status = e.get("status") or "failed"
        step.duration = e.get("duration") or 0.0
        step.resolved = e.get("text")
        if e.get("code") is not None:
            step.code = e["code"]
        step.attempt_count = max(step.attempt_count, e.get("attempts") or 0)
        step.error = e.get("error")
        step.reason = e.get("reason")

    def _on_log(self, e: dict[str, Any]) -> None:
        entry = LogEntry(
            time=e.get("time", 0.0), level=e.get("level", "info"), message=str(e.get("message", ""))
        )
        step = self._steps.get(e.get("step_id") or "")
        if step is not None:
            self._step(e, 0.0).logs.append(entry)
        else:
            self._features[e["run_id"]].logs.append(entry)

    def _on_attachment(self, e: dict[str, Any]) -> None:
        kind = e.get("kind", "text")
        data = e.get("data") if isinstance(e.get("data"), dict) else {"value": e.get("data")}
        entry = AttachmentEntry(time=e.get("time", 0.0), kind=kind, data=data)
        step = self._steps.get(e.get("step_id") or "")
        if step is not None:
            self._step(e, 0.0).attachments.append(entry)
            return
        if kind == "journal":
            scenario = self._scenarios.get(str(data.get("scenario_id")))
            if scenario is not None:
                entries = data.get("entries")
                scenario.journal.extend(entries if isinstance(entries, list) else [entries])
                return
        self._features[e["run_id"]].attachments.append(entry)

    def _on_run_finished(self, e: dict[str, Any]) -> None:
        run = self.run
        run.complete = True
        run.status = e.get("status") or "failed"
        run.duration = e.get("duration") or 0.0
        run.exit_code = e.get("exit_code")
        run.interrupted = bool(e.get("interrupted"))

    # -- finalizing ----------------------------------------------------------------

    def result(self) -> RunResult:
        """The finished tree: what never finished marked interrupted, what never ran
        skipped with the reason."""
        if self._result is None:
            self._result = self._finalize()
        return self._result

    def _finalize(self) -> RunResult:
        run = self.run
        if not run.complete:
            # No RunFinished: the process was stopped; everything still open was cut short.
            run.interrupted = True
            run.status = INTERRUPTED
            if run.started is not None and self._last_time is not None:
                run.duration = max(0.0, self._last_time - run.started)
        self._cut = run.stopped_by
        for feature in run.feature_runs:
            self._finish_feature(feature)
        run.counts = _tally(s.outcome for f in run.feature_runs for s in f.scenarios if s.counted)
        run.step_counts = _tally(
            outcome(st.status) for f in run.feature_runs for s in f.scenarios for st in s.steps
        )
        run.passed_after_retries = sum(f.passed_after_retries for f in run.feature_runs)
        run.flaky = sum(1 for f in run.feature_runs if f.flaky)
        return run

    def _finish_feature(self, feature: FeatureResult) -> None:
        finished = feature.id in self._finished_features
        started = feature.status != PLANNED or finished
        if not started:
            feature.status = "skipped"
            feature.reason = self._cut if self.run.interrupted else "not run"
            feature.interrupted = self.run.interrupted
        # Cut short: never finished, or finished while a scenario was still open (a
        # cancelled run may close the feature run without closing its scenario).
        cut_short = started and (
            not finished
            or any(s.ran and s.id not in self._finished_scenarios for s in feature.scenarios)
        )
        cut = cut_short or feature.interrupted
        why = self._cut if cut else (feature.reason or "skipped")
        for scenario in feature.scenarios:
            self._finish_scenario(scenario, why, cut)
        if cut_short:
            feature.interrupted = True
            failed = any(s.outcome == "failed" for s in feature.scenarios)
            feature.status = "failed" if failed else "skipped"
            feature.reason = feature.reason or self._cut
            if not finished:
                feature.duration = _elapsed(feature.started, self._last_time)
        counted = [s for s in feature.scenarios if s.counted]
        feature.counts = _tally(s.outcome for s in counted)
        feature.step_counts = _tally(
            outcome(st.status) for s in feature.scenarios for st in s.steps
        )
        feature.passed_after_retries = sum(
            1 for s in feature.scenarios for st in s.steps if st.passed_after_retries
        )

    def _finish_scenario(self, scenario: ScenarioResult, why: str, cut: bool) -> None:
        """`why` the rest did not run; `cut`: because the run's end cut it short."""
        if not scenario.ran:  # never started: skipped, for the feature run's reason
            scenario.status = "skipped"
            scenario.reason = why
            scenario.interrupted = cut
            for step in scenario.steps:
                _not_run(step, why, cut)
            return
        finished = scenario.id in self._finished_scenarios
        later = scenario.reason if finished and scenario.reason else self._cut
        if not finished:
            # Cut short: the step running then is the first not finished (steps run in
            # plan order), whether or not it had sent an event yet.
            running = next((st for st in scenario.steps if st.status in (PLANNED, "running")), None)
            if running is not None and not running.ran:
                done = [st for st in scenario.steps if st.ran]
                running.ran = True
                running.status = "running"
                running.started = (
                    (done[-1].started or 0.0) + done[-1].duration if done else scenario.started
                )
        for step in scenario.steps:
            if step.status == "running":
                step.status = "skipped"
                step.reason = self._cut
                step.interrupted = True
                step.duration = _elapsed(step.started, self._last_time)
            elif not step.ran:
                _not_run(step, later if finished else self._cut, not finished)
        if not finished:
            scenario.interrupted = True
            failed = any(outcome(st.status) == "failed" for st in scenario.steps)
            scenario.status = "failed" if failed else "skipped"
            scenario.reason = self._cut
            scenario.duration = _elapsed(scenario.started, self._last_time)


def _not_run(step: StepResult, why: str, cut: bool) -> None:
    step.status = "skipped"
    step.reason = why
    step.interrupted = cut


# -- the skeleton, from the plan RunStarted carries ------------------------------------


def _planned_feature(p: dict[str, Any]) -> FeatureResult:
    return FeatureResult(
        id=p["run_id"],
        path=p["path"],
        title=p["title"],
        name=p["name"],
        variant=p.get("variant"),
        description=p.get("description"),
        tags=[str(t) for t in p.get("tags") or []],
        needs=list(p.get("needs") or []),
        rules=[
            RuleInfo(
                title=r["title"],
                line=r["line"],
                description=r.get("description"),
                tags=r.get("tags") or [],
            )
            for r in p.get("rules") or []
        ],
        scenarios=[_planned_scenario(x) for x in p.get("executions") or []],
    )


def _planned_scenario(p: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult(
        id=p["id"],
        title=p["title"],
        name=p["name"],
        line=p["line"],
        kind=p["kind"],
        example=p.get("example"),
        rule=p.get("rule"),
        keyword=p.get("keyword"),
        description=p.get("description"),
        tags=[str(t) for t in p.get("tags") or []],
        comments=list(p.get("comments") or []),
        steps=[_planned_step(x, p.get("example")) for x in p.get("steps") or []],
    )


def _planned_step(p: dict[str, Any], row: dict[str, str] | None) -> StepResult:
    code = p.get("code") or {}
    return StepResult(
        id=p["id"],
        keyword=p["keyword"],
        kind=p["kind"],
        text=fill(p["text"], row),
        template=p["text"] if row else None,
        line=p["line"],
        code=fill(code["text"], row) if code else None,
        language=code.get("language"),
        table=p.get("table"),
        description=p.get("description"),
        comments=list(p.get("comments") or []),
        tags=[str(t) for t in p.get("tags") or []],
        retrying=bool(p.get("retrying")),
    )


def _steps_of(feature: FeatureResult) -> list[StepResult]:
    return [step for scenario in feature.scenarios for step in scenario.steps]


def _tally(outcomes: Any) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for item in outcomes:
        counts[item] += 1
    return counts


def _elapsed(start: float | None, end: float | None) -> float:
    if start is None or end is None:
        return 0.0
    return max(0.0, end - start)


__all__ = [
    "OUTCOMES",
    "STATUSES",
    "AttachmentEntry",
    "Attempt",
    "DistinctFailure",
    "FeatureResult",
    "LogEntry",
    "ResultBuilder",
    "RunResult",
    "ScenarioResult",
    "StepResult",
    "outcome",
    "worst",
]
