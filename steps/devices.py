"""Devices and accounts: the target registers them; specs get fingerprint and device ID."""

from __future__ import annotations

from behave import step, use_step_matcher

from harness.run.context import StepContext
from harness.targets.base import SPEC_ACCOUNT

use_step_matcher("re")


async def _register(ctx: StepContext, model: str, name: str, account: str | None) -> None:
    device = await ctx.target.register_device(model, account)
    ctx.vars[name] = device["fingerprint"]
    ctx.vars[f"{name}_deviceId"] = device["id"]
    ctx.state.setdefault("devices", {})[device["id"]] = account
    ctx.log.info(
        f"registered {model} device {device['id']} ({device['fingerprint']})"
        + (f" in account {account}" if account else "")
    )


@step(r"I have the fingerprint for a `(?P<model>[^`]+)` device in `(?P<name>[^`]+)`")
async def device(ctx: StepContext, model: str, name: str) -> None:
    """Register a device in account `nordic`; `<name>` and `<name>_deviceId` get its IDs."""
    await _register(ctx, model, name, SPEC_ACCOUNT)


@step(
    r"I have the fingerprint for a `(?P<model>[^`]+)` device in the `(?P<account>[^`]+)` "
    r"account in `(?P<name>[^`]+)`"
)
async def device_in_account(ctx: StepContext, model: str, account: str, name: str) -> None:
    """Register a device in another nRF Cloud account of this run."""
    await _register(ctx, model, name, account)


@step(r"I have the fingerprint for an unsupported device in `(?P<name>[^`]+)`")
async def unsupported_device(ctx: StepContext, name: str) -> None:
    """Register a device of model `unsupported`, with no account."""
    await _register(ctx, "unsupported", name, None)


use_step_matcher("parse")
