"""Narrowing a plan to some of its feature runs: `--last-failed` and `--shard K/N`.

Both pick feature runs by the plan's ids and keep what those need (`needs` is a hard
dependency: a feature starts with its needs' final context), so a narrowed plan runs
as the whole would have run those features.

- `--last-failed`: the feature runs of the last run in the reports folder that failed,
  or were skipped because of a failure or a cut-short run (read from its
  events.ndjson, through the same read model as the reports).
- `--shard K/N`: the feature runs fall into groups that `needs` ties together (a group
  is never split, so no feature runs twice); the groups are dealt to N shards, the
  heaviest first to the lightest shard, by step count or, given a previous run's
  events, by the durations it measured. The same plan and N give the same shards on
  every machine, and the N shards together run every feature run once.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path

from harness.plan import FeatureRun, Plan


class NarrowError(Exception):
    """A --last-failed or --shard request that cannot be met; the message says why."""


def narrow(plan: Plan, run_ids: Iterable[str]) -> Plan:
    """The plan with only these feature runs and, transitively, the runs they need."""
    by_id = {r.run_id: r for r in plan.runs}
    keep: set[str] = set()
    todo = [i for i in run_ids if i in by_id]
    while todo:
        run_id = todo.pop()
        if run_id not in keep:
            keep.add(run_id)
            todo.extend(by_id[run_id].deps)
    # `after` (order: first/last) only orders; an edge to a run left out is dropped.
    return Plan(
        runs=[
            dataclasses.replace(r, after=[a for a in r.after if a in keep])
            for r in plan.runs
            if r.run_id in keep
        ]
    )


# -- --last-failed --------------------------------------------------------------------


def last_run(events_path: Path):  # -> RunResult
    from harness.report.writer import build

    if not Path(events_path).is_file():
        raise NarrowError(
            f"{events_path}: no events of a previous run "
            "(--last-failed reads the events.ndjson of --reports)"
        )
    return build(Path(events_path))


def failed_run_ids(run) -> list[str]:  # run: RunResult
    """Feature runs that failed, or were skipped because something failed or the run
    was cut short; not those marked `run: never` (they would be skipped again)."""
    out = []
    for feature in run.feature_runs:
        skipped = feature.outcome == "skipped" and "run: never" not in (feature.reason or "")
        if feature.outcome == "failed" or feature.interrupted or skipped:
            out.append(feature.id)
    return out


# -- --shard K/N ----------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` with 1 <= K <= N."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found or not 1 <= int(found[1]) <= int(found[2]):
        raise NarrowError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 1/4")
    return int(found[1]), int(found[2])


def groups(plan: Plan) -> list[list[FeatureRun]]:
    """Feature runs tied by `needs` (either way), each group in plan order."""
    parent = {r.run_id: r.run_id for r in plan.runs}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for run in plan.runs:
        for dep in run.deps:
            if dep in parent:
                parent[root(run.run_id)] = root(dep)
    found: dict[str, list[FeatureRun]] = {}
    for run in plan.runs:
        found.setdefault(root(run.run_id), []).append(run)
    return list(found.values())


def weights(plan: Plan, durations: dict[str, float] | None = None) -> dict[str, float]:
    """Each feature run's expected cost: its steps, or (given a previous run's
    durations) its seconds; a run the previous one did not have is estimated from its
    steps at the previous run's mean seconds per step."""
    steps = {r.run_id: float(max(1, sum(len(e.steps) for e in r.executions))) for r in plan.runs}
    if not durations:
        return steps
    known = [(durations[i], steps[i]) for i in steps if durations.get(i)]
    per_step = sum(d for d, _ in known) / sum(s for _, s in known) if known else 1.0
    return {i: durations.get(i) or steps[i] * per_step for i in steps}


def shard(plan: Plan, k: int, n: int, durations: dict[str, float] | None = None) -> Plan:
    """Shard K of N (1-based) of the plan; see the module docstring."""
    cost = weights(plan, durations)
    loads = [0.0] * n
    mine: list[str] = []
    heaviest_first = sorted(
        groups(plan), key=lambda g: (-sum(cost[r.run_id] for r in g), g[0].run_id)
    )
    for group in heaviest_first:
        lightest = min(range(n), key=lambda i: (loads[i], i))
        loads[lightest] += sum(cost[r.run_id] for r in group)
        if lightest == k - 1:
            mine.extend(r.run_id for r in group)
    return narrow(plan, mine)


def durations_of(events_path: Path) -> dict[str, float]:
    """Seconds each feature run took in a previous run (its events.ndjson)."""
    run = last_run(events_path)
    return {f.id: f.duration for f in run.feature_runs if f.duration}
