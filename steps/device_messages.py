"""Devices sending messages to nRF Cloud (REAL-SUITE.md §2.1): over CoAP (SenML, sent as
CBOR) and over MQTT (JSON). The target delivers them; the steps never reach the backend."""

from __future__ import annotations

import re

from behave import step, use_step_matcher

from harness.run.context import StepContext
from steps.common import device_account, json_block

use_step_matcher("re")

COAP_METHODS = ("GET", "POST", "PUT", "DELETE")
# as BE's CoAP step accepts them (feature-runner/steps/device/CoAP.ts)
COAP_RESOURCE = re.compile(r"^/msg/d2c.+")


@step(
    r"the device `(?P<device_id>[^`]+)` does a `(?P<method>[^`]+)` to this CoAP resource "
    r"`(?P<resource>[^`]+)` with this SenML payload"
)
async def coap_senml(ctx: StepContext, device_id: str, method: str, resource: str) -> None:
    """The device sends the SenML block (encoded as CBOR) to the CoAP resource."""
    if method.upper() not in COAP_METHODS:
        raise ValueError(
            f"`{method}` is no CoAP method here; expected one of {', '.join(COAP_METHODS)}"
        )
    if not COAP_RESOURCE.match(resource):
        raise ValueError(
            f"`{resource}` is no device-to-cloud resource; expected e.g. `/msg/d2c/raw`"
        )
    senml = json_block(ctx)
    if not isinstance(senml, list) or not all(isinstance(r, dict) for r in senml):
        raise ValueError("the SenML payload must be a JSON array of records (objects)")
    sent = await ctx.target.device_message(
        device_id,
        account=device_account(ctx, device_id),
        transport="coap",
        method=method.upper(),
        resource=resource,
        payload=senml,
    )
    ctx.log.info(
        f"device {device_id} sent {len(senml)} SenML record(s) via CoAP "
        f"{method.upper()} {resource} (bridge message #{sent.get('seq')})"
    )


@step(
    r"the device `(?P<device_id>[^`]+)` publishes this message to the topic "
    r"`(?P<topic>[^`]+)`"
)
async def mqtt_publish(ctx: StepContext, device_id: str, topic: str) -> None:
    """The device publishes the JSON block to the MQTT topic (under its account's prefix)."""
    message = json_block(ctx)
    sent = await ctx.target.device_message(
        device_id,
        account=device_account(ctx, device_id),
        transport="mqtt",
        topic=topic,
        payload=message,
    )
    ctx.log.info(f"device {device_id} published to {topic} (bridge message #{sent.get('seq')})")


use_step_matcher("parse")
