"""`GET /device/{id}/history/{objectId}/{instanceId}`: a device's resource history in time
bins (BE lambda/queryLwM2MHistory.ts)."""

from __future__ import annotations

import re

from aiohttp import web

from reference_backend import app_keys
from reference_backend.clock import iso_seconds
from reference_backend.contexts import LWM2M_OBJECT_HISTORY
from reference_backend.history.auth import device_for_history
from reference_backend.history.definitions import OBJECT_VERSION, is_object_id, numeric_resources
from reference_backend.history.query import (
    AGGREGATES,
    DEFAULT_AGGREGATE,
    DEFAULT_TIME_SPAN,
    TIME_SPANS,
    bin_rows,
    window_start_ms,
)
from reference_backend.problems import bad_request
from reference_backend.store import Device

# The location (14201/0) and reboot (14250/0) histories have routes of their own; this
# pattern leaves those two paths out, so that they reach them whatever the registration
# order (aiohttp tries routes with the same static prefix in that order).
OWN_ROUTES = ("14201/0", "14250/0")
PATH = (
    "/device/{id}/history/{objectId:(?!(?:"
    + "|".join(re.escape(p) for p in OWN_ROUTES)
    + ")$)[^/]+}/{instanceId}"
)
_INTEGER = re.compile(r"^[0-9]+$")


async def get_history(request: web.Request) -> web.Response:
    object_text, instance_text = request.match_info["objectId"], request.match_info["instanceId"]
    object_id = int(object_text) if _INTEGER.match(object_text) else None
    if object_id is None or not is_object_id(object_id):
        raise bad_request(f"{object_text!r} is not the ID of a hello.nrfcloud.com LwM2M object.")
    if not _INTEGER.match(instance_text):
        raise bad_request(f"The instance ID {instance_text!r} is not an integer of 0 or more.")
    time_span = request.query.get("timeSpan", DEFAULT_TIME_SPAN)
    if time_span not in TIME_SPANS:
        raise bad_request(f"The timeSpan {time_span!r} is none of {', '.join(TIME_SPANS)}.")
    aggregate = request.query.get("aggregate", DEFAULT_AGGREGATE)
    if aggregate not in AGGREGATES:
        raise bad_request(f"The aggregate {aggregate!r} is none of {', '.join(AGGREGATES)}.")
    device = await device_for_history(request)
    instance_id = int(instance_text)
    span = TIME_SPANS[time_span]
    history = request.app[app_keys.SERVICES].history
    after = window_start_ms(history.clock(), span, hide_data_before_ms(device))
    rows = history.rows(device.id, (object_id, OBJECT_VERSION, instance_id), after)
    return web.json_response(
        {
            "@context": LWM2M_OBJECT_HISTORY,
            "query": {
                "ObjectID": object_id,
                "ObjectVersion": OBJECT_VERSION,
                "ObjectInstanceID": instance_id,
                "deviceId": device.id,
                "binIntervalMinutes": span.bin_minutes,
            },
            "partialInstances": bin_rows(
                rows, numeric_resources(object_id), span.bin_minutes, aggregate
            ),
        }
    )


def hide_data_before_ms(device: Device) -> float | None:
    """The device's hideDataBefore (ISO 8601) in ms since the epoch; None when unset."""
    value = getattr(device, "hide_data_before", None)
    if not value:
        return None
    return iso_seconds(value) * 1000


def add_routes(app: web.Application, base: str = "") -> None:
    """The routes under `base` ("" for the root, "/2024-04-17" for the dated API)."""
    app.router.add_get(base + PATH, get_history)
