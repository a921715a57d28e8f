"""The result tree: the event stream folded into plain dataclasses.

This is the one place that interprets events. Every report format (console summary,
HTML, JUnit, JSON, Markdown) reads the tree built here, so they can never disagree
on a count or a status.

The builder takes events as plain dicts (`Event.to_dict()`, or a line of
`events.ndjson` parsed back): the file writer feeds it the JSON it has just written,
which is exactly what `rebuild` reads later, so both produce identical reports.

The tree merges the events with the parsed spec (`FeatureRunStarted.feature`): the
spec supplies what events do not carry (descriptions, rules, tables, code languages),
and scenarios or steps that never ran appear as skipped, with the reason, instead of
silently vanishing (a skipped feature run, the rest of a failed one, an interrupted
run).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from harness.events import STATUSES, worst

# The three outcomes every summary counts (CI reads "N passed, N failed, N skipped").
# Undefined steps fail; pending ones did not run, so they count as skipped.
OUTCOMES = ("passed", "failed", "skipped")
_OUTCOME = {"passed": "passed", "failed": "failed", "undefined": "failed",
            "skipped": "skipped", "pending": "skipped"}

INTERRUPTED = "interrupted"


def outcome(status: str) -> str:
    """passed, failed or skipped: how a step or scenario status counts."""
    return _OUTCOME.get(status, "skipped")


def label(values: dict[str, Any] | None) -> str:
    """`k=v, k=v` for a variant or an Examples row (non-strings as compact JSON)."""
    if not values:
        return ""
    parts = []
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"),
                                                                ensure_ascii=False, default=str)
        parts.append(f"{key}={text}")
    return ", ".join(parts)


def named(title: str, values: dict[str, Any] | None) -> str:
    """A title with its variant or example row, e.g. `Device FOTA [nw=ltem]`."""
    text = label(values)
    return f"{title} [{text}]" if text else title


def run_name(title: str, variant: dict[str, Any] | None) -> str:
    """A feature run's name from an event title that may already name the variant."""
    return named(_without(title, variant, "[", "]"), variant)


def row_title(title: str, example: dict[str, str] | None) -> str:
    """A scenario title from an event: the runner's ` (a=1, b=2)` row suffix dropped,
    `<a>` filled in; `named(row_title(...), example)` is how reports name the row."""
    return _fill(_without(title, example, "(", ")"), example)


@dataclass
class Attempt:
    attempt: int
    time: float
    duration: float
    error: str | None  # None: this attempt passed
    next_delay: float | None = None


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
    id: str | None
    keyword: str
    kind: str
    text: str  # as written
    line: int
    status: str = "running"
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
    ran: bool = True  # False: known only from the spec
    interrupted: bool = False
    flaky: bool = False  # passed after more than one attempt

    @property
    def shown_text(self) -> str:
        return self.resolved if self.resolved is not None else self.text


@dataclass
class ScenarioResult:
    id: str | None
    title: str
    name: str  # title with the Examples row
    line: int
    kind: str  # scenario | background | outline
    example: dict[str, str] | None = None
    rule: str | None = None
    keyword: str | None = None
    status: str = "running"
    started: float | None = None
    duration: float = 0.0
    reason: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    journal: list[Any] = field(default_factory=list)  # the mock's journal entries
    ran: bool = True
    interrupted: bool = False
    flaky: bool = False

    @property
    def outcome(self) -> str:
        return outcome(self.status)

    @property
    def counted(self) -> bool:
        """Whether it counts as a scenario: the Background is not one, unless it failed
        (then that failure must show in every count, or a run could fail with 0 failed)."""
        return self.kind != "background" or self.outcome == "failed"


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
    status: str = "running"
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
    flaky: int = 0
    interrupted: bool = False
    spec: dict[str, Any] | None = None  # the parsed Feature, as the event carried it

    @property
    def outcome(self) -> str:
        return outcome(self.status)


@dataclass
class RunResult:
    status: str = "running"
    started: float | None = None
    duration: float = 0.0
    target: str | None = None
    paths: list[str] = field(default_factory=list)
    jobs: int | None = None
    exit_code: int | None = None
    interrupted: bool = False
    complete: bool = False  # RunFinished was seen
    counts: dict[str, int] = field(default_factory=dict)  # scenarios by outcome
    step_counts: dict[str, int] = field(default_factory=dict)
    flaky: int = 0  # scenarios that passed only after retrying a step
    runner_counts: dict[str, int] | None = None  # as RunFinished reported them
    feature_runs: list[FeatureResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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
    """Folds events (as dicts) into a RunResult; `result()` finalizes it once."""

    def __init__(self) -> None:
        self.run = RunResult()
        self._features: dict[str, FeatureResult] = {}
        self._scenarios: dict[str, ScenarioResult] = {}
        self._steps: dict[str, StepResult] = {}
        self._planned: list[dict[str, Any]] = []
        self._selected: dict[str, set[int]] = {}
        self._finished_features: set[str] = set()
        self._finished_scenarios: set[str] = set()
        self._last_time: float | None = None
        self._result: RunResult | None = None
        self.events = 0
        self._handlers = {
            "run_started": self._on_run_started, "feature_started": self._on_feature_started,
            "feature_finished": self._on_feature_finished,
            "scenario_started": self._on_scenario_started,
            "scenario_finished": self._on_scenario_finished,
            "step_started": self._on_step_started, "step_attempt": self._on_step_attempt,
            "step_finished": self._on_step_finished, "log": self._on_log,
            "attachment": self._on_attachment, "run_finished": self._on_run_finished,
        }

    # -- lookups for live reporters (the console) ------------------------------------

    def find_feature(self, run_id: str) -> FeatureResult | None:
        return self._features.get(run_id)

    def find_scenario(self, scenario_id: str) -> ScenarioResult | None:
        return self._scenarios.get(scenario_id)

    def find_step(self, step_id: str) -> StepResult | None:
        return self._steps.get(step_id)

    # -- folding -------------------------------------------------------------------

    def add(self, data: dict[str, Any]) -> None:
        """Fold one event; unknown types and malformed events are ignored, never raised."""
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
        self._planned = [p for p in e.get("planned") or [] if isinstance(p, dict)]
        # Optional: the lines of the scenarios the command line selected in each run, so
        # that a skipped or cut-short run lists exactly those.
        self._selected = {p["run_id"]: set(p["scenarios"]) for p in self._planned
                          if isinstance(p.get("scenarios"), list) and "run_id" in p}

    def _feature(self, run_id: str) -> FeatureResult:
        feature = self._features.get(run_id)
        if feature is None:  # events for a feature run that never announced itself
            path = run_id.split("#", 1)[0]
            feature = FeatureResult(id=run_id, path=path, title=path, name=path)
            self._features[run_id] = feature
        return feature

    def _on_feature_started(self, e: dict[str, Any]) -> None:
        spec = e.get("feature") if isinstance(e.get("feature"), dict) else None
        variant = e.get("variant")
        feature = self._feature(e["run_id"])
        feature.path = e.get("path") or feature.path
        # The runner's title may already carry the variant ("Title [nw=ltem]"): the
        # spec's own title is the heading, the name adds the variant once.
        title = str(e.get("title") or feature.title)
        if spec and spec.get("title"):
            title = str(spec["title"])
        feature.title = _without(title, variant, "[", "]")
        feature.variant = variant
        feature.name = named(feature.title, variant)
        feature.started = e.get("time")
        feature.spec = spec
        if spec:
            feature.description = spec.get("description")
            front = spec.get("front_matter") or {}
            feature.tags = [str(t) for t in front.get("tags") or []] + list(spec.get("tags") or [])
            feature.needs = [str(n) for n in front.get("needs") or []]
            feature.rules = [RuleInfo(title=c.get("title", ""), line=c.get("line", 0),
                                      description=c.get("description"), tags=c.get("tags") or [])
                             for c in spec.get("children") or [] if _is_rule(c)]

    def _on_feature_finished(self, e: dict[str, Any]) -> None:
        feature = self._feature(e["run_id"])
        feature.status = e.get("status") or "failed"
        feature.duration = e.get("duration") or 0.0
        feature.reason = e.get("reason")
        self._finished_features.add(feature.id)

    def _on_scenario_started(self, e: dict[str, Any]) -> None:
        feature = self._feature(e["run_id"])
        example = e.get("example")
        # The runner names an outline row "Title (a=1, b=2)"; the reports name rows as
        # variants are named, "Title [a=1, b=2]", with `<a>` in the title filled in.
        title = row_title(str(e.get("title", "")), example)
        scenario = ScenarioResult(id=e["scenario_id"], title=title,
                                  name=named(title, example), line=e.get("line", 0),
                                  kind=e.get("kind") or "scenario", example=example,
                                  rule=e.get("rule"), started=e.get("time"))
        self._scenarios[scenario.id] = scenario
        feature.scenarios.append(scenario)

    def _on_scenario_finished(self, e: dict[str, Any]) -> None:
        scenario = self._scenarios.get(e["scenario_id"])
        if scenario is None:
            return
        scenario.status = e.get("status") or "failed"
        scenario.duration = e.get("duration") or 0.0
        scenario.reason = e.get("reason")
        self._finished_scenarios.add(scenario.id)

    def _on_step_started(self, e: dict[str, Any]) -> None:
        scenario = self._scenarios.get(e["scenario_id"])
        if scenario is None:
            return
        step = StepResult(id=e["step_id"], keyword=e.get("keyword", ""), kind=e.get("kind", ""),
                          text=e.get("text", ""), line=e.get("line", 0), started=e.get("time"))
        self._steps[e["step_id"]] = step
        scenario.steps.append(step)

    def _on_step_attempt(self, e: dict[str, Any]) -> None:
        step = self._steps.get(e["step_id"])
        if step is None:
            return
        step.attempts.append(Attempt(attempt=e.get("attempt", len(step.attempts) + 1),
                                     time=e.get("time", 0.0), duration=e.get("duration", 0.0),
                                     error=e.get("error"), next_delay=e.get("next_delay")))
        step.attempt_count = max(step.attempt_count, len(step.attempts))

    def _on_step_finished(self, e: dict[str, Any]) -> None:
        step = self._steps.get(e["step_id"])
        if step is None:
            return
        step.status = e.get("status") or "failed"
        step.duration = e.get("duration") or 0.0
        step.resolved = e.get("text")
        if e.get("code") is not None:
            step.code = e["code"]
        step.attempt_count = max(step.attempt_count, len(step.attempts), e.get("attempts") or 0)
        step.error = e.get("error")
        step.reason = e.get("reason")

    def _on_log(self, e: dict[str, Any]) -> None:
        entry = LogEntry(time=e.get("time", 0.0), level=e.get("level", "info"),
                         message=str(e.get("message", "")))
        step = self._steps.get(e.get("step_id") or "")
        if step is not None:
            step.logs.append(entry)
        else:
            self._feature(e["run_id"]).logs.append(entry)

    def _on_attachment(self, e: dict[str, Any]) -> None:
        kind = e.get("kind", "text")
        data = e.get("data") if isinstance(e.get("data"), dict) else {"value": e.get("data")}
        entry = AttachmentEntry(time=e.get("time", 0.0), kind=kind, data=data)
        step = self._steps.get(e.get("step_id") or "")
        if step is not None:
            step.attachments.append(entry)
            return
        if kind == "journal":
            scenario = self._scenarios.get(str(data.get("scenario_id")))
            if scenario is not None:
                entries = data.get("entries")
                scenario.journal.extend(entries if isinstance(entries, list) else [entries])
                return
        self._feature(e["run_id"]).attachments.append(entry)

    def _on_run_finished(self, e: dict[str, Any]) -> None:
        run = self.run
        run.complete = True
        run.status = e.get("status") or "failed"
        run.duration = e.get("duration") or 0.0
        run.exit_code = e.get("exit_code")
        run.interrupted = bool(e.get("interrupted"))
        counts = e.get("counts")
        run.runner_counts = dict(counts) if isinstance(counts, dict) else None

    # -- finalizing ----------------------------------------------------------------

    def result(self) -> RunResult:
        """The finished tree: unfinished items marked interrupted, unrun ones added."""
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
        self._add_unstarted_features()
        for feature in self._features.values():
            self._finish_feature(feature)
        run.feature_runs = self._ordered_features()
        run.counts = _tally(s.outcome for f in run.feature_runs for s in f.scenarios
                            if s.counted)
        run.step_counts = _tally(outcome(st.status) for f in run.feature_runs
                                 for s in f.scenarios for st in s.steps)
        run.flaky = sum(f.flaky for f in run.feature_runs)
        return run

    def _add_unstarted_features(self) -> None:
        """Planned feature runs that never started are shown as skipped, with why."""
        for plan in self._planned:
            run_id = plan.get("run_id")
            if not isinstance(run_id, str) or run_id in self._features:
                continue
            variant = plan.get("variant")
            title = _without(str(plan.get("title") or run_id), variant, "[", "]")
            self._features[run_id] = FeatureResult(
                id=run_id, path=str(plan.get("path") or run_id.split("#", 1)[0]), title=title,
                name=named(title, variant), variant=variant, status="skipped",
                reason=INTERRUPTED if self.run.interrupted else "not run",
                interrupted=self.run.interrupted, needs=list(plan.get("needs") or []))
            self._finished_features.add(run_id)

    def _ordered_features(self) -> list[FeatureResult]:
        # Plan order (path order, `needs` first) reads better than the start order of
        # concurrent runs, and does not change between a run and its rebuild.
        rank = {p.get("run_id"): i for i, p in enumerate(self._planned)}
        features = list(self._features.values())
        return sorted(features, key=lambda f: rank.get(f.id, len(rank)))

    def _finish_feature(self, feature: FeatureResult) -> None:
        finished = feature.id in self._finished_features
        # Cut short: never finished, or finished while a scenario was still open (a
        # cancelled run may close the feature run without closing its scenario).
        cut_short = not finished or any(s.id not in self._finished_scenarios
                                        for s in feature.scenarios)
        for scenario in feature.scenarios:
            self._finish_scenario(scenario)
        if feature.spec:
            # Only what never got the chance to run is added from the spec: a skipped
            # feature run (no scenario events) and a cut-short one. After a failure the
            # runner reports the rest as skipped itself, and inventing scenarios there
            # would count ones the command line did not select.
            skipped_whole = finished and feature.status == "skipped" and not feature.scenarios
            why = (feature.reason or "skipped") if skipped_whole else INTERRUPTED
            feature.scenarios = _merge_scenarios(feature, skipped_whole or cut_short, why,
                                                 self._selected.get(feature.id))
        if cut_short:
            feature.interrupted = True
            failed = any(s.outcome == "failed" for s in feature.scenarios)
            feature.status = "failed" if failed else "skipped"
            feature.reason = feature.reason or INTERRUPTED
            if not finished:
                feature.duration = _elapsed(feature.started, self._last_time)
        counted = [s for s in feature.scenarios if s.counted]
        feature.counts = _tally(s.outcome for s in counted)
        feature.step_counts = _tally(outcome(st.status) for s in feature.scenarios
                                     for st in s.steps)
        feature.flaky = sum(1 for s in counted if s.flaky)

    def _finish_scenario(self, scenario: ScenarioResult) -> None:
        finished = scenario.id in self._finished_scenarios
        for step in scenario.steps:
            if step.status == "running":
                step.status = "skipped"
                step.reason = INTERRUPTED
                step.interrupted = True
                step.duration = _elapsed(step.started, self._last_time)
            step.flaky = step.status == "passed" and step.attempt_count > 1
        if not finished:
            scenario.interrupted = True
            failed = any(outcome(st.status) == "failed" for st in scenario.steps)
            scenario.status = "failed" if failed else "skipped"
            scenario.reason = INTERRUPTED
            scenario.duration = _elapsed(scenario.started, self._last_time)
        scenario.flaky = scenario.status == "passed" and any(st.flaky for st in scenario.steps)


# -- merging events with the spec ------------------------------------------------------


def _is_rule(child: dict[str, Any]) -> bool:
    # dataclasses.asdict drops the class: a Rule is the child holding scenarios, not steps.
    return "scenarios" in child and "steps" not in child


def _spec_scenarios(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec's scenarios in run order: the background, then the rest, rules opened."""
    found: list[dict[str, Any]] = []
    if spec.get("background"):
        found.append(spec["background"])
    for child in spec.get("children") or []:
        if _is_rule(child):
            found.extend({**s, "rule": s.get("rule") or child.get("title")}
                         for s in child.get("scenarios") or [])
        else:
            found.append(child)
    return found


def _rows(spec_scenario: dict[str, Any]) -> list[dict[str, str] | None]:
    """The example rows an outline runs with (one None for a plain scenario)."""
    if spec_scenario.get("kind") != "outline":
        return [None]
    rows: list[dict[str, str] | None] = []
    for examples in spec_scenario.get("examples") or []:
        table = examples.get("table") or {}
        header = table.get("header") or []
        rows.extend(dict(zip(header, row, strict=False)) for row in table.get("rows") or [])
    return rows or [None]


def _without(title: str, values: dict[str, Any] | None, opening: str, closing: str) -> str:
    """The title without a trailing ` [k=v, ...]` (or `(...)`) naming these values."""
    suffix = f" {opening}{label(values)}{closing}"
    return title[: -len(suffix)] if values and title.endswith(suffix) else title


def _fill(text: str, row: dict[str, str] | None) -> str:
    """`<name>` replaced by the row's value, as an outline shows it for that row."""
    for key, value in (row or {}).items():
        text = text.replace(f"<{key}>", str(value))
    return text


def _merge_scenarios(feature: FeatureResult, may_add: bool, why: str,
                     selected: set[int] | None) -> list[ScenarioResult]:
    spec_scenarios = [s for s in _spec_scenarios(feature.spec or {})
                      if selected is None or s.get("kind") == "background"
                      or s.get("line") in selected]
    ran = list(feature.scenarios)
    by_line: dict[int, list[ScenarioResult]] = {}
    for scenario in ran:
        by_line.setdefault(scenario.line, []).append(scenario)
    known = {s.get("line") for s in spec_scenarios}
    if any(s.line not in known for s in ran):
        may_add = False  # events and spec disagree: show what ran, never invent duplicates
    merged: list[ScenarioResult] = []
    for spec_scenario in spec_scenarios:
        runs = by_line.pop(spec_scenario.get("line", -1), [])
        for scenario in runs:
            _decorate_scenario(scenario, spec_scenario, may_add, why)
        merged.extend(runs)
        if not may_add:
            continue
        seen = [s.example for s in runs]
        for row in _rows(spec_scenario):
            if row in seen:
                seen.remove(row)
                continue
            if runs and row is None:
                continue
            merged.append(_unrun_scenario(spec_scenario, row, why))
    for leftovers in by_line.values():
        merged.extend(leftovers)
    return merged


def _decorate_scenario(scenario: ScenarioResult, spec: dict[str, Any], may_add: bool,
                       why: str) -> None:
    if spec.get("title") is not None:
        scenario.title = _fill(str(spec["title"]), scenario.example)
        scenario.name = named(scenario.title, scenario.example)
    scenario.description = spec.get("description")
    scenario.tags = [str(t) for t in spec.get("tags") or []]
    scenario.comments = list(spec.get("comments") or [])
    scenario.keyword = spec.get("keyword")
    scenario.rule = scenario.rule or spec.get("rule")
    spec_steps = spec.get("steps") or []
    lines = {s.get("line") for s in spec_steps}
    if any(st.line not in lines for st in scenario.steps):
        return  # events and spec disagree: keep the steps as they ran
    by_line: dict[int, list[StepResult]] = {}
    for step in scenario.steps:
        by_line.setdefault(step.line, []).append(step)
    add = may_add and scenario.status != "passed"
    reason = INTERRUPTED if scenario.interrupted else why
    merged: list[StepResult] = []
    for spec_step in spec_steps:
        runs = by_line.pop(spec_step.get("line", -1), [])
        for step in runs:
            _decorate_step(step, spec_step, scenario.example)
        merged.extend(runs)
        if not runs and add:
            merged.append(_unrun_step(spec_step, scenario.example, reason))
    scenario.steps = merged


def _decorate_step(step: StepResult, spec: dict[str, Any], row: dict[str, str] | None) -> None:
    code = spec.get("code") or None
    if code:
        step.language = code.get("language")
        if step.code is None:
            step.code = _fill(code.get("text", ""), row)
    step.table = spec.get("table")
    step.description = spec.get("description")
    step.comments = list(spec.get("comments") or [])
    step.tags = [str(t) for t in spec.get("tags") or []]


def _unrun_step(spec: dict[str, Any], row: dict[str, str] | None, reason: str) -> StepResult:
    step = StepResult(id=None, keyword=spec.get("keyword", ""), kind=spec.get("kind", ""),
                      text=_fill(spec.get("text", ""), row), line=spec.get("line", 0),
                      status="skipped", reason=reason, ran=False,
                      interrupted=reason == INTERRUPTED)
    _decorate_step(step, spec, row)
    return step


def _unrun_scenario(spec: dict[str, Any], row: dict[str, str] | None,
                    reason: str) -> ScenarioResult:
    title = _fill(spec.get("title", ""), row)
    scenario = ScenarioResult(id=None, title=title, name=named(title, row),
                              line=spec.get("line", 0), kind=spec.get("kind") or "scenario",
                              example=row, rule=spec.get("rule"), status="skipped",
                              reason=reason, ran=False, interrupted=reason == INTERRUPTED)
    scenario.steps = []
    _decorate_scenario(scenario, spec, True, reason)
    return scenario


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
    "FeatureResult",
    "LogEntry",
    "ResultBuilder",
    "RunResult",
    "ScenarioResult",
    "StepResult",
    "label",
    "named",
    "outcome",
    "worst",
]
