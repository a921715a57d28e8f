"""Helpers the step modules share: the attached JSON block, the run's accounts."""

from __future__ import annotations

import json
from typing import Any

from harness.run.context import StepContext
from harness.targets.base import SPEC_ACCOUNT


def json_block(ctx: StepContext) -> Any:
    """The step's code block as JSON; a clear error when missing or invalid."""
    if ctx.text is None:
        raise ValueError(
            f"step on line {ctx.step.source.line} needs a JSON code block right after it"
        )
    try:
        return json.loads(ctx.text)
    except json.JSONDecodeError as exc:
        line = (ctx.step.source.code.line if ctx.step.source.code else 0) + exc.lineno
        raise ValueError(
            f"the code block is not valid JSON (line {line}, column {exc.colno}): "
            f"{exc.msg}\n{ctx.text}"
        ) from None


def code_block(ctx: StepContext) -> str:
    if ctx.text is None:
        raise ValueError(f"step on line {ctx.step.source.line} needs a code block right after it")
    return ctx.text


def device_account(ctx: StepContext, device_id: str) -> str:
    """The account a device of this run was registered in (`nordic` when unknown)."""
    return ctx.state.get("devices", {}).get(device_id) or SPEC_ACCOUNT
