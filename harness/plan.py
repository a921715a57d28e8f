"""The planner (pure): features in, feature runs out, ordered by `needs`, `order` and path.

A feature run is one feature with one variant. `deps` are the runs whose failure skips
this one (from `needs`); `after` are runs it merely waits for (from `order`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from .spec.errors import SpecError, SpecErrors
from .spec.model import Feature, Scenario
from .tags import Predicate


@dataclass
class Selection:
    """What the command line asked for; empty means everything."""
    lines: dict[str, set[int]] = field(default_factory=dict)  # path -> lines (path:line)
    names: list[str] = field(default_factory=list)  # -k substrings (case-insensitive)
    tags: Predicate | None = None


@dataclass
class FeatureRun:
    run_id: str
    feature: Feature
    variant: dict[str, Any] | None
    scenarios: list[Scenario]  # selected, in document order
    deps: list[str] = field(default_factory=list)  # run_ids, in `needs` order
    after: list[str] = field(default_factory=list)
    skip_reason: str | None = None  # decided at plan time (run: never)

    @property
    def name(self) -> str:
        if not self.variant:
            return self.feature.title
        values = ", ".join(f"{k}={v}" for k, v in self.variant.items())
        return f"{self.feature.title} [{values}]"


@dataclass
class Plan:
    runs: list[FeatureRun]  # dependencies before dependents


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
            FeatureRun(run_id=feature.path if len(variants) == 1 else f"{feature.path}#{i + 1}",
                       feature=feature, variant=v, scenarios=scenarios, deps=list(deps),
                       skip_reason=never.get(feature.path))
            for i, v in enumerate(variants)]
    flat = [r for p in (f.path for f in order) for r in runs.get(p, [])]
    _order_edges(flat, graph)
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
                errors.append(_needs_error(f, f"needs {name!r}, but several features have that "
                                           f"title: {', '.join(twins[name])}"))
            elif name not in by_title:
                close = difflib.get_close_matches(name, list(by_title), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                errors.append(_needs_error(f, f"needs {name!r}, but no feature has that "
                                           f"title{hint}"))
    if errors:
        raise SpecErrors(errors)
    return by_title


def _needs_error(feature: Feature, message: str) -> SpecError:
    return SpecError(feature.path, feature.front_matter_lines.get("needs", feature.line), 1,
                     message)


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
            cycle = [*trail[trail.index(path):], path]
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
        haystack = " ".join([feature.title, feature.path, *(s.title for s in
                                                             feature.scenarios())]).lower()
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
        hit = [i for i in range(len(scenarios))
               if any(starts[i] <= n < starts[i + 1] for n in lines)]
        scenarios = scenarios[:max(hit) + 1] if hit else scenarios
    return scenarios


def _order_edges(runs: list[FeatureRun], graph: dict[str, list[str]]) -> None:
    """`first` runs go before the others, `last` after; never against a need."""
    paths_needed_by = {r.feature.path: _closure({r.feature.path}, graph) for r in runs}
    firsts = [r for r in runs if r.feature.order == "first"]
    for run in runs:
        mine = paths_needed_by[run.feature.path]
        if run.feature.order != "first":
            run.after += [f.run_id for f in firsts
                          if run.feature.path not in paths_needed_by[f.feature.path]
                          and f.feature.path not in mine]
        if run.feature.order == "last":
            run.after += [o.run_id for o in runs if o.feature.order != "last"
                          and run.feature.path not in paths_needed_by[o.feature.path]
                          and o.feature.path not in mine]
