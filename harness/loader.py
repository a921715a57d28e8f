"""Finding and parsing spec files, and the pre-run checks that need no target."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from . import expressions
from .plan import FeatureRun
from .run.registry import Ambiguous, StepRegistry, snippet
from .run.retry import split_after_retries
from .run.runner import resolve_step
from .spec.errors import SpecError, SpecErrors
from .spec.model import Feature, Step
from .spec.parser import parse_file

_LINE_SUFFIX = re.compile(r"^(.*):(\d+)$")


def discover(paths: list[str]) -> tuple[list[Path], dict[str, set[int]]]:
    """Spec files for the given paths (folders recursively), and `path:line` selections."""
    files: list[Path] = []
    lines: dict[str, set[int]] = {}
    missing = []
    for raw in paths:
        m = _LINE_SUFFIX.match(raw)
        path, line = (Path(m.group(1)), int(m.group(2))) if m and not Path(raw).exists() \
            else (Path(raw), None)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.feature.md") if p.is_file())
        elif path.is_file():
            files.append(path)
            if line is not None:
                lines.setdefault(str(path), set()).add(line)
        else:
            missing.append(SpecError(raw, 1, 1, "no such file or folder"))
    if missing:
        raise SpecErrors(missing)
    unique = list(dict.fromkeys(files))
    return unique, lines


def parse_all(files: list[Path]) -> list[Feature]:
    """Parse every file; raise SpecErrors with the problems of all of them."""
    features, errors = [], []
    for f in files:
        try:
            features.append(parse_file(f))
        except SpecErrors as exc:
            errors += exc.errors
    if errors:
        raise SpecErrors(errors)
    return features


def check_steps(runs: list[FeatureRun], registry: StepRegistry) -> list[str]:
    """Every undefined or ambiguous step of the planned runs, each with its place."""
    problems: dict[tuple[str, int], str] = {}
    for run in runs:
        feature = run.feature
        scenarios = list(run.scenarios) + ([feature.background] if feature.background else [])
        for scenario in scenarios:
            for step in scenario.steps:
                key = (feature.path, step.line)
                if key not in problems:
                    problem = _step_problem(step, registry)
                    if problem:
                        problems[key] = f"{feature.path}:{step.line}:1: {problem}"
    return [problems[k] for k in sorted(problems)]


def _step_problem(step: Step, registry: StepRegistry) -> str | None:
    text, _ = split_after_retries(step.text)
    found = registry.is_defined(step.kind, text)
    if len(found) > 1:
        return str(Ambiguous(found)) + f"\n    {step.keyword} {step.text}"
    if not found:
        code = "\n".join("    " + line for line in snippet(step).split("\n"))
        return f"undefined step: {step.keyword} {step.text}\n  write it, e.g.:\n{code}"
    return None


def check_examples(features: list[Feature]) -> list[str]:
    """Resolve placeholders with `exampleContext` and check JSON code blocks parse."""
    problems = []
    for feature in features:
        values = feature.example_context
        variants = feature.variants or [None]
        scenarios = list(feature.scenarios())
        if feature.background:
            scenarios.insert(0, feature.background)
        for scenario in scenarios:
            rows = [r for ex in scenario.examples if ex.table for r in ex.table.as_dicts()]
            for step in scenario.steps:
                # Every row and variant only where the step can differ by them.
                source = step.text + (step.code.text if step.code else "")
                varied = "<" in source or "variant" in source
                for row, variant in itertools.product(
                        rows or [None], variants if varied else variants[:1]):
                    problem = _example_problem(step, values, row, variant, feature.path)
                    if problem:
                        problems.append(f"{feature.path}:{step.line}:1: {problem}")
                        break
    return problems


def _example_problem(step: Step, values: dict, row, variant, path: str) -> str | None:
    try:
        resolve_step(step, split_after_retries(step.text)[0], values, row, variant, path)
    except expressions.ExpressionError as exc:
        return f"with exampleContext: {exc}"
    return None
