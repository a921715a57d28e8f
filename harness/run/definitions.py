"""Which step definition each planned step matches, for the reports (RunStarted).

The plan is checked against the registry before a run (loader.check_steps); this
records the outcome once per run, so the reports can name the definition of a step
(messages.ndjson's stepDefinitions) without loading step code themselves.
"""

from __future__ import annotations

from typing import Any

from harness.plan import Plan
from harness.run.registry import StepRegistry


def matched_definitions(plan: Plan, registry: StepRegistry) -> list[dict[str, Any]]:
    """The definitions the plan's steps match (exactly one each; an undefined or
    ambiguous step is left out), each with the ids of its steps, in first-use order."""
    found: dict[int, dict[str, Any]] = {}
    for run in plan.runs:
        for execution in run.executions:
            for planned in execution.steps:
                matchers = registry.is_defined(planned.step.kind, planned.sentence)
                if len(matchers) != 1:
                    continue
                matcher = matchers[0]
                entry = found.get(id(matcher))
                if entry is None:
                    location = matcher.location
                    entry = found[id(matcher)] = {
                        "id": f"sd:{len(found) + 1}",
                        "pattern": str(matcher.pattern),
                        "regex": "regex" in type(matcher).__name__.lower(),
                        "file": str(getattr(location, "filename", location)),
                        "line": int(getattr(location, "line", 0) or 0),
                        "steps": [],
                    }
                entry["steps"].append(planned.id)
    return list(found.values())
