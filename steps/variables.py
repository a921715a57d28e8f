"""Variables: store values, random values, and assertions on JSONata values."""

from __future__ import annotations

import random
import uuid

from behave import step, use_step_matcher

from harness.run.context import StepContext
from steps.common import json_block
from steps.matching import EQUAL, PARTIAL, check

use_step_matcher("re")


@step(r"I store `(?P<expr>[^`]+)` into `(?P<name>[^`]+)`")
def store(ctx: StepContext, expr: str, name: str) -> None:
    """Evaluate the JSONata expression against the context and store the result."""
    ctx.vars[name] = ctx.require(expr)


def random_value(kind: str) -> str | int:
    if kind == "UUIDv4":
        return str(uuid.uuid4())
    if kind == "email":
        return f"{uuid.uuid4().hex[:12]}@example.com"
    if kind == "IMEI":
        return "35" + "".join(random.choices("0123456789", k=13))
    return random.randint(1, 268_435_455)  # cellId: a 28-bit E-UTRAN cell identity


@step(r"I have a random (?P<kind>UUIDv4|email|IMEI|cellId) in `(?P<name>[^`]+)`")
def random_into(ctx: StepContext, kind: str, name: str) -> None:
    """Kinds: UUIDv4, email, IMEI (15 digits, `35` prefix), cellId."""
    ctx.vars[name] = random_value(kind)


@step(r"`(?P<expr>[^`]+)` should (?P<mode>equal|match)")
def value_should(ctx: StepContext, expr: str, mode: str) -> None:
    """The JSONata value equals (exactly) or deep-partially matches the JSON block."""
    expected = json_block(ctx)
    check(expected, ctx.evaluate(expr), EQUAL if mode == "equal" else PARTIAL, f"`{expr}`")


use_step_matcher("parse")
