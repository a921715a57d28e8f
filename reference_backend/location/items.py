"""nRF Cloud location history pages: validation, and conversion to LwM2M 14201.

Pure functions (REAL-SUITE.md §2.4; the backend's getLocationHistory and toGeoLocation).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from reference_backend.lwm2m_types import LwM2MObject
from reference_backend.timeline import iso_ms

GEOLOCATION = 14201
GEOLOCATION_VERSION = "1.0"
SERVICE_TYPES = frozenset(
    {"ANCHOR", "GNSS", "GPS", "MCELL", "SCELL", "WIFI", "MCELL_EVAL", "SCELL_EVAL", "WIFI_EVAL"}
)
# The web app shows one position per kind of fix; any other service goes to instance 9.
INSTANCE_BY_SERVICE = {"GNSS": 0, "MCELL": 1, "WIFI": 1, "SCELL": 2}
OTHER_INSTANCE = 9
_UNCERTAINTY = re.compile(r"^[0-9.]+$")


class InvalidPage(ValueError):
    """A page that is not what nRF Cloud's location history answers; names the field."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_token: str | None


def parse_page(body: Any) -> Page:
    """The items and `pageNextToken` of a page; InvalidPage naming the first bad field."""
    if not isinstance(body, dict):
        raise InvalidPage("the page is not a JSON object")
    items = body.get("items")
    if not isinstance(items, list):
        raise InvalidPage("`items` is not an array")
    for n, item in enumerate(items):
        problem = item_problem(item)
        if problem is not None:
            raise InvalidPage(f"items[{n}]: {problem}")
    token = body.get("pageNextToken")
    if token is not None and (not isinstance(token, str) or not token):
        raise InvalidPage(f"`pageNextToken` must be a non-empty string, got {token!r}")
    return Page(items, token)


def item_problem(item: Any) -> str | None:
    """Why a location history item is invalid, or None."""
    if not isinstance(item, dict):
        return "not an object"
    for name in ("id", "deviceId", "insertedAt"):
        if not isinstance(item.get(name), str) or not item[name]:
            return f"`{name}` must be a non-empty string"
    if item.get("serviceType") not in SERVICE_TYPES:
        return f"`serviceType` must be one of {', '.join(sorted(SERVICE_TYPES))}"
    for name in ("lat", "lon"):
        value = item.get(name)
        if not isinstance(value, str) or not value or not _finite(value):
            return f"`{name}` must be a number as a non-empty string, got {value!r}"
    uncertainty = item.get("uncertainty")
    if (
        not isinstance(uncertainty, str)
        or not _UNCERTAINTY.match(uncertainty)
        or not _finite(uncertainty)
    ):
        return f"`uncertainty` must be a number as a string (digits and `.`), got {uncertainty!r}"
    if not isinstance(item.get("meta"), dict):
        return "`meta` must be an object"
    if "anchors" in item and not isinstance(item["anchors"], list):
        return "`anchors` must be an array"
    if iso_ms(item["insertedAt"]) is None:
        return f"`insertedAt` is not a date and time, got {item['insertedAt']!r}"
    return None


def to_geolocation(item: dict[str, Any]) -> LwM2MObject:
    """A valid item as 14201, instance by service type, time in whole seconds."""
    service = item["serviceType"]
    return {
        "ObjectID": GEOLOCATION,
        "ObjectVersion": GEOLOCATION_VERSION,
        "ObjectInstanceID": INSTANCE_BY_SERVICE.get(service, OTHER_INSTANCE),
        "Resources": {
            "0": float(item["lat"]),
            "1": float(item["lon"]),
            "3": float(item["uncertainty"]),
            "6": service,
            "99": iso_ms(item["insertedAt"]) // 1000,  # type: ignore[operator]
        },
    }


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
