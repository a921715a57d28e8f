"""Finding and parsing spec files, and the pre-run checks that need no target."""

from __future__ import annotations

import re
from pathlib import Path

from harness import expressions
from harness.plan import FeatureRun
from harness.run.assigns import assigned_names
from harness.run.registry import Ambiguous, StepRegistry, snippet
from harness.run.resolve import resolve_step
from harness.spec.errors import SpecError, SpecErrors
from harness.spec.model import Feature, Step
from harness.spec.parser import parse_file
from harness.spec.retry import split_after_retries

_LINE_SUFFIX = re.compile(r"^(.*):(\d+)$")


def discover(paths: list[str]) -> tuple[list[Path], dict[str, set[int]]]:
    """Spec files for the given paths (folders recursively), and `path:line` selections."""
    files: list[Path] = []
    lines: dict[str, set[int]] = {}
    missing = []
    for raw in paths:
        m = _LINE_SUFFIX.match(raw)
        path, line = (
            (Path(m.group(1)), int(m.group(2)))
            if m and not Path(raw).exists()
            else (Path(raw), None)
        )
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


def add_needed(features: list[Feature], paths: list[str]) -> list[Feature]:
    """Features that the given ones `need` but were not given, found beside the given
    files (`run dir/LastSeenCoAP.feature.md` finds "Device to websocket (CoAP)" in
    dir/); returned to be added, the caller says so. Needs of needs are followed.
    Folders given are searched whole by `discover` already."""
    have = {f.title for f in features}
    parsed = {str(Path(f.path)) for f in features}
    folders = dict.fromkeys(
        Path(_LINE_SUFFIX.sub(r"\1", p) if not Path(p).exists() else p).parent
        for p in paths
        if not Path(p).is_dir()
    )
    candidates: list[Feature] | None = None
    added: list[Feature] = []
    missing = {n for f in features for n in f.needs} - have
    while missing:
        if candidates is None:
            candidates = []
            for folder in folders:
                for path in sorted(folder.glob("*.feature.md")):
                    if str(path) not in parsed:
                        try:
                            candidates.append(parse_file(path))
                        except SpecErrors:
                            continue  # not given and not needed yet: its problems are not ours
        found = [f for f in candidates if f.title in missing and f.title not in have]
        if not found:
            break  # make_plan names what is still missing
        for f in found:
            have.add(f.title)
            added.append(f)
        missing = {n for f in found for n in f.needs} - have
    return added


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


# Names every feature run's context has from its target (embedded or remote), which
# `check` cannot know the values of: harness/targets/base.py `Target.values`, the
# backend's VERSION, and the third-party URLs of REAL-SUITE.md §1.3.
TARGET_NAMES = frozenset(
    {
        "APIURL",
        "websocketURL",
        "nrfCloudMockURL",
        "VERSION",
        "feedbackWebhookURL",
        "memfaultApiEndpoint",
        "mapAPIURL",
    }
)


def check_examples(runs: list[FeatureRun], registry: StepRegistry) -> list[str]:
    r"""Resolve placeholders with `exampleContext` and check JSON code blocks parse.

    A dry run of each feature run, in order: a name set by an earlier step (`I store
    ... into \`x\``, a device's `<name>_deviceId`; see run/assigns.py), by a feature
    it needs, or by the target is known; a placeholder reading such a name without an
    `exampleContext` value can only resolve at run time, and is not an error. Anything
    else that does not resolve is, with the names that are missing."""
    problems: dict[tuple[str, int], str] = {}
    by_id = {r.run_id: r for r in runs}
    assigned: dict[str, set[str]] = {}  # run_id -> names its steps set
    for run in runs:
        feature = run.feature
        values = dict(feature.example_context)
        if run.variant is not None:
            values["variant"] = run.variant
        known = set(TARGET_NAMES)
        for dep in _all_deps(run, by_id):
            known |= assigned.get(dep, set()) | set(by_id[dep].feature.example_context)
        scenarios = ([feature.background] if feature.background else []) + list(run.scenarios)
        sets: set[str] = set()
        for scenario in scenarios:
            rows = [r for ex in scenario.examples if ex.table for r in ex.table.as_dicts()]
            for step in scenario.steps:
                for row in rows or [None]:
                    problem, text = _example_problem(
                        step, values, row, run.variant, feature.path, known | sets
                    )
                    key = (feature.path, step.line)
                    if problem and key not in problems:
                        # a code block's problem names its own line (path:line: ...)
                        problems[key] = (
                            problem
                            if problem.startswith(f"{feature.path}:")
                            else f"{feature.path}:{step.line}:1: {problem}"
                        )
                    sets |= _sets(step, text, registry)
        assigned[run.run_id] = sets
    return [problems[k] for k in sorted(problems)]


def _all_deps(run: FeatureRun, by_id: dict[str, FeatureRun]) -> list[str]:
    seen: dict[str, None] = {}
    todo = list(run.deps)
    while todo:
        dep = todo.pop()
        if dep not in seen and dep in by_id:
            seen[dep] = None
            todo += by_id[dep].deps
    return list(seen)


def _sets(step: Step, text: str, registry: StepRegistry) -> set[str]:
    try:
        match = registry.match(step.kind, text)
    except Exception:  # undefined or ambiguous: check_steps reports those
        return set()
    return set(assigned_names(match.matcher.pattern, match.func, match.kwargs))


def _example_problem(
    step: Step, values: dict, row, variant, path: str, runtime: set[str]
) -> tuple[str | None, str]:
    """(the problem or None, the step's sentence as resolved as far as it could be)."""
    sentence = split_after_retries(step.text)[0]
    try:
        resolved = resolve_step(step, sentence, values, row, variant, path)
        return None, resolved.text
    except expressions.ExpressionError as exc:
        angle = expressions.replace_angle(sentence, {"variant": variant or {}, **(row or {})})
        reads = set(expressions.root_names(exc.expr)) if exc.expr else set()
        if reads & (runtime - set(values)):
            return None, angle  # resolves at run time only
        if str(exc).startswith(f"{path}:"):
            return str(exc), angle
        return f"with exampleContext: {exc}", angle
