"""Resolving a step before it runs: `<...>` and `${...}` in title, code block and table.

Shared by the runner and the pre-run checks (harness/loader.py), which resolve the
same way without running anything, so the checks need not import the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import expressions
from harness.spec.model import Step, Table


@dataclass
class ResolvedStep:
    """A step as it runs: placeholders in title, code block and table resolved."""

    source: Step
    text: str
    code: str | None
    language: str | None
    table: Table | None

    @property
    def keyword(self) -> str:
        return self.source.keyword

    @property
    def kind(self) -> str:
        return self.source.kind


def unresolved(step: Step) -> ResolvedStep:
    """The step as written, for an after_step hook when resolving it failed."""
    return ResolvedStep(
        source=step,
        text=step.text,
        code=step.code.text if step.code else None,
        language=step.code.language if step.code else None,
        table=step.table,
    )


def resolve_step(
    step: Step,
    text: str,
    values: dict[str, Any],
    row: dict[str, str] | None,
    variant: dict[str, Any] | None,
    path: str = "",
) -> ResolvedStep:
    """Replace `<...>` placeholders, then `${...}`, in title, code block and table.

    A `json` code block must be JSON once resolved: else an ExpressionError with the
    spec's `path:line`, so the step fails saying where (not with a step's traceback)."""
    angle: dict[str, Any] = {"variant": variant or {}, **(row or {})}
    data = {**values, **row} if row else values

    def sub(value: str, json_strings: bool = False) -> str:
        return expressions.substitute(
            expressions.replace_angle(value, angle), data, json_strings=json_strings
        )

    code = step.code
    table = step.table
    code_text = sub(code.text, json_strings=code.language == "json") if code else None
    if code is not None and code.language == "json":
        expressions.check_json(code_text, path or "<spec>", code.line)
    return ResolvedStep(
        source=step,
        text=sub(text),
        code=code_text,
        language=code.language if code else None,
        table=Table(
            header=table.header, rows=[[sub(c) for c in r] for r in table.rows], line=table.line
        )
        if table
        else None,
    )
