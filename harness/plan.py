"""The planner (pure): features in, feature runs out, ordered by `needs`, `order` and path.

A feature run is one feature with one variant. `deps` are the runs whose failure skips
this one (from `needs`); `after` are runs it merely waits for (from `order`).

Each feature run lists its executions, as cucumber compiles pickles before a run: the
Background first, then each selected scenario, an outline once per Examples row, each
with its steps, its stable id (`<run_id>/<n>`, `<run_id>/<n>/<i>`), its name (from
harness/naming.py) and its merged retry settings. The runner plays this tree, the
events refer to it by id (`RunStarted` carries it), and the reports fill it by id.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from harness.naming import fill, named
from harness.spec.errors import SpecError, SpecErrors
from harness.spec.model import Feature, Rule, Scenario, Step, to_dict
from harness.spec.retry import split_after_retries
from harness.tags import Predicate


@dataclass
class Selection:
    """What the command line asked for; empty means everything."""

    lines: dict[str, set[int]] = field(default_factory=dict)  # path -> lines (path:line)
    names: list[str] = field(default_factory=list)  # -k substrings (case-insensitive)
    tags: Predicate | None = None


def counts_as_scenario(kind: str, failed: bool) -> bool:
    """Whether an execution counts in `N passed, N failed, N skipped`: the Background is
    no scenario, unless it failed (then that failure must show in every count, or a run
    could fail with 0 failed). The runner and the reports both count with this."""
    return kind != "background" or failed


@dataclass
class PlannedStep:
    id: str
    step: Step
    sentence: str  # the text matched against step definitions (no `after N retries`)
    retry: dict[str, Any]  # the spec's settings, merged (feature, rule/scenario, step)
    retrying: bool  # a Soon step, or one ending in `after N retries`

    def to_dict(self) -> dict[str, Any]:
        step = self.step
        code = step.code
        return {
            "id": self.id,
            "keyword": step.keyword,
            "kind": step.kind,
            "text": step.text,
            "line": step.line,
            "retrying": self.retrying,
            "code": {"text": code.text, "language": code.language} if code else None,
            "table": to_dict(step.table),
            "description": step.description,
            "comments": step.comments,
            "tags": step.tags,
        }


@dataclass
class Execution:
    """One scenario execution: the Background, a scenario, or one row of an outline."""

    id: str
    scenario: Scenario
    row: dict[str, str] | None
    title: str  # the scenario's title, `<name>` filled from the row
    name: str  # the title with the row: `Add 1 and 2 [a=1, b=2]`
    steps: list[PlannedStep]

    @property
    def kind(self) -> str:
        return self.scenario.kind

    def to_dict(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "id": self.id,
            "title": self.title,
            "name": self.name,
            "line": s.line,
            "kind": s.kind,
            "example": self.row,
            "rule": s.rule,
            "keyword": s.keyword,
            "description": s.description,
            "tags": s.tags,
            "comments": s.comments,
            "steps": [p.to_dict() for p in self.steps],
        }


@dataclass
class FeatureRun:
    run_id: str
    feature: Feature
    variant: dict[str, Any] | None
    scenarios: list[Scenario]  # selected, in document order
    deps: list[str] = field(default_factory=list)  # run_ids, in `needs` order
    after: list[str] = field(default_factory=list)
    skip_reason: str | None = None  # decided at plan time (run: never)
    executions: list[Execution] = field(default_factory=list)

    @property
    def name(self) -> str:
        return named(self.feature.title, self.variant)

    def to_dict(self) -> dict[str, Any]:
        """What `RunStarted` carries of this run: ids, names, and what the reports show
        of the spec (descriptions, tags, code blocks, tables), so no report reads the
        spec again or joins anything by line."""
        f = self.feature
        return {
            "run_id": self.run_id,
            "path": f.path,
            "title": f.title,
            "name": self.name,
            "variant": self.variant,
            "needs": f.needs,
            "deps": self.deps,
            "skip_reason": self.skip_reason,
            "description": f.description,
            "tags": f.all_tags,
            "rules": [
                {"title": r.title, "line": r.line, "description": r.description, "tags": r.tags}
                for r in f.children
                if isinstance(r, Rule)
            ],
            "executions": [e.to_dict() for e in self.executions],
        }


@dataclass
class Plan:
    runs: list[FeatureRun]  # dependencies before dependents

    def to_dict(self) -> list[dict[str, Any]]:
        """The plan as `RunStarted` carries it."""
        return [r.to_dict() for r in self.runs]


def executions(run: FeatureRun) -> list[Execution]:
    """The executions of a feature run, in the order they run (see the module docstring)."""
    feature = run.feature
    scenarios: list[tuple[Scenario, dict[str, str] | None]] = [
        (s, row) for s in run.scenarios for row in _rows(s)
    ]
    if feature.background is not None and (scenarios or not any(feature.scenarios())):
        # Also a feature that is only a Background: it runs alone.
        scenarios.insert(0, (feature.background, None))
    out = []
    for n, (scenario, row) in enumerate(scenarios, start=1):
        scenario_id = f"{run.run_id}/{n}"
        title = fill(scenario.title, row)
        steps = [
            _planned_step(f"{scenario_id}/{i}", feature, scenario, step)
            for i, step in enumerate(scenario.steps, start=1)
        ]
        out.append(
            Execution(
                id=scenario_id,
                scenario=scenario,
                row=row,
                title=title,
                name=named(title, row),
                steps=steps,
            )
        )
    return out


def _rows(scenario: Scenario) -> list[dict[str, str] | None]:
    if scenario.kind != "outline":
        return [None]
    return [row for ex in scenario.examples if ex.table for row in ex.table.as_dicts()]


def _planned_step(step_id: str, feature: Feature, scenario: Scenario, step: Step) -> PlannedStep:
    sentence, after = split_after_retries(step.text)
    return PlannedStep(
        id=step_id,
        step=step,
        sentence=sentence,
        retry={**feature.retry, **scenario.retry, **step.retry},
        retrying=step.kind == "soon" or after is not None,
    )


def make_plan(features: list[Feature], selection: Selection | None = None) -> Plan:
    """Order, select and expand features; raise SpecErrors for unknown needs or cycles."""
    selection = selection or Selection()
    features = sorted(features, key=lambda f: f.path)
    by_title = _index_titles(features)
    graph = {f.path: [by_title[n].path for n in f.needs] for f in features}
    order = _topological(features, graph)
    chosen = _choose(features, graph, selection)
    never = _never(features, graph)
    runs: dict[str, list[FeatureRun]] = {}
    for feature in (f for f in order if f.path in chosen):
        scenarios = _select_scenarios(feature, selection)
        variants = feature.variants or [None]
        deps = [r.run_id for p in graph[feature.path] for r in runs.get(p, [])]
        runs[feature.path] = [
            FeatureRun(
                run_id=feature.path if len(variants) == 1 else f"{feature.path}#{i + 1}",
                feature=feature,
                variant=v,
                scenarios=scenarios,
                deps=list(deps),
                skip_reason=never.get(feature.path),
            )
            for i, v in enumerate(variants)
        ]
    flat = [r for p in (f.path for f in order) for r in runs.get(p, [])]
    _order_edges(flat, graph)
    for run in flat:
        run.executions = executions(run)
    return Plan(runs=flat)


def _index_titles(features: list[Feature]) -> dict[str, Feature]:
    by_title: dict[str, Feature] = {}
    twins: dict[str, list[str]] = {}
    for f in features:
        if f.title in by_title:
            twins.setdefault(f.title, [by_title[f.title].path]).append(f.path)
        by_title.setdefault(f.title, f)
    errors = []
    for f in features:
        for name in f.needs:
            if name in twins:
                errors.append(
                    _needs_error(
                        f,
                        f"needs {name!r}, but several features have that "
                        f"title: {', '.join(twins[name])}",
                    )
                )
            elif name not in by_title:
                close = difflib.get_close_matches(name, list(by_title), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                errors.append(
                    _needs_error(f, f"needs {name!r}, but no feature has that title{hint}")
                )
    if errors:
        raise SpecErrors(errors)
    return by_title


def _needs_error(feature: Feature, message: str) -> SpecError:
    return SpecError(
        feature.path, feature.front_matter_lines.get("needs", feature.line), 1, message
    )


def _topological(features: list[Feature], graph: dict[str, list[str]]) -> list[Feature]:
    """Needs before dependents; among ready features, `first` < plain < `last`, then path."""
    by_path = {f.path: f for f in features}
    rank = {"first": 0, None: 1, "last": 2}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    out: list[Feature] = []

    def visit(path: str, trail: list[str]) -> None:
        if state.get(path) == 2:
            return
        if state.get(path) == 1:
            cycle = [*trail[trail.index(path) :], path]
            titles = " -> ".join(repr(by_path[p].title) for p in cycle)
            raise SpecErrors([_needs_error(by_path[path], f"`needs` form a cycle: {titles}")])
        state[path] = 1
        for dep in sorted(graph[path], key=lambda p: (rank.get(by_path[p].order, 1), p)):
            visit(dep, [*trail, path])
        state[path] = 2
        out.append(by_path[path])

    for f in sorted(features, key=lambda f: (rank.get(f.order, 1), f.path)):
        visit(f.path, [])
    return out


def _closure(start: set[str], edges: dict[str, list[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in edges.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _reverse(graph: dict[str, list[str]]) -> dict[str, list[str]]:
    rev: dict[str, list[str]] = {p: [] for p in graph}
    for path, deps in graph.items():
        for d in deps:
            rev[d].append(path)
    return rev


def _choose(features: list[Feature], graph: dict[str, list[str]], sel: Selection) -> set[str]:
    """Paths that run: `run: only` and the command line narrow; needs always come along."""
    chosen = {f.path for f in features}
    only = {f.path for f in features if f.run == "only"}
    if only:
        chosen = _closure(only, graph)
    picked = {f.path for f in features if f.path in chosen and _selected(f, sel)}
    return _closure(picked, graph)


def _selected(feature: Feature, sel: Selection) -> bool:
    if sel.lines and feature.path not in sel.lines:
        return False
    if sel.names:
        haystack = " ".join(
            [feature.title, feature.path, *(s.title for s in feature.scenarios())]
        ).lower()
        if not any(n.lower() in haystack for n in sel.names):
            return False
    return not sel.tags or bool(_select_scenarios(feature, sel))


def _never(features: list[Feature], graph: dict[str, list[str]]) -> dict[str, str]:
    """`run: never` features and, transitively, their dependents -> the reason."""
    reasons: dict[str, str] = {}
    rev = _reverse(graph)
    for f in features:
        if f.run == "never":
            reasons[f.path] = "marked `run: never`"
            for dependent in _closure({f.path}, rev) - {f.path}:
                reasons.setdefault(dependent, f"needs {f.title!r}, which is marked `run: never`")
    return reasons


def _select_scenarios(feature: Feature, sel: Selection) -> list[Scenario]:
    """Scenarios to run. `path:line` keeps the chosen scenario and the story before it."""
    scenarios = list(feature.scenarios())
    if sel.tags:
        base = set(feature.all_tags)
        scenarios = [s for s in scenarios if sel.tags(base | set(s.tags))]
    lines = sel.lines.get(feature.path)
    if lines and not lines & {0, feature.line}:
        starts = [s.line for s in scenarios] + [10**9]
        hit = [
            i for i in range(len(scenarios)) if any(starts[i] <= n < starts[i + 1] for n in lines)
        ]
        scenarios = scenarios[: max(hit) + 1] if hit else scenarios
    return scenarios


def _order_edges(runs: list[FeatureRun], graph: dict[str, list[str]]) -> None:
    """`first` runs go before the others, `last` after; never against a need."""
    paths_needed_by = {r.feature.path: _closure({r.feature.path}, graph) for r in runs}
    firsts = [r for r in runs if r.feature.order == "first"]
    for run in runs:
        mine = paths_needed_by[run.feature.path]
        if run.feature.order != "first":
            run.after += [
                f.run_id
                for f in firsts
                if run.feature.path not in paths_needed_by[f.feature.path]
                and f.feature.path not in mine
            ]
        if run.feature.order == "last":
            run.after += [
                o.run_id
                for o in runs
                if o.feature.order != "last"
                and run.feature.path not in paths_needed_by[o.feature.path]
                and o.feature.path not in mine
            ]
