"""The stored resource history: per device and object instance, the numeric resources of
every reported write at the instance's own time (resource 99), for a bounded time.

Kept in memory only (like BE's Timestream table it is derived data; a restart starts it
empty). Bounds: RETENTION_SECONDS of age and MAX_ROWS_PER_DEVICE rows per device.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reference_backend.history.definitions import (
    GEOLOCATION,
    RESOURCE_TYPES,
    TIMESTAMP_RESOURCE,
    numeric_resources,
)
from reference_backend.lwm2m_types import ShadowSide

log = logging.getLogger(__name__)

RETENTION_SECONDS = 30 * 24 * 3600  # the longest time span, lastMonth
MAX_ROWS_PER_DEVICE = 50_000  # a device reporting every minute fills a month with 43,200
EARLIEST_TIME = 1_700_000_000  # BE lwm2m/isUnixTimeInSeconds.ts

# (ObjectID, ObjectVersion, ObjectInstanceID)
SeriesKey = tuple[int, str, int]


@dataclass
class Row:
    time_ms: int
    values: dict[str, float]  # resource ID -> value


class Rejected(ValueError):
    """An instance that the history does not keep; the message says why."""


def instance_measures(
    object_id: int, resources: dict[str, Any], now: float
) -> tuple[int, dict[str, float]]:
    """(time in ms, numeric resource values) of one reported instance; Rejected when its
    time (resource 99) is missing, not a number, before 1700000000 or after `now` (s), or
    when it has a resource PMAP does not define or a numeric one that is not a number
    (BE historicalData/instanceToMeasures.ts). Numbers sent as text count: "3.4" is 3.4."""
    types = RESOURCE_TYPES.get(object_id)
    if types is None:
        raise Rejected(f"{object_id} is not a known LwM2M object")
    ts = resources.get(TIMESTAMP_RESOURCE)
    if ts is None:
        raise Rejected(f"no timestamp (resource 99) for {object_id}")
    if not _is_number(ts) or ts < EARLIEST_TIME or ts > now:
        raise Rejected(
            f"timestamp {ts!r} for {object_id} is not a Unix time in seconds "
            "between 1700000000 and now"
        )
    numeric = set(numeric_resources(object_id))
    values: dict[str, float] = {}
    for resource_id, value in resources.items():
        if resource_id not in types:
            raise Rejected(f"no definition for {object_id}/{resource_id}")
        if value is None or resource_id not in numeric:
            continue
        number = _as_float(value)
        if number is None:
            raise Rejected(f"{object_id}/{resource_id} is {value!r}, not a number")
        values[resource_id] = number
    return round(ts * 1000), values


class ResourceHistory:
    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        retention_seconds: float = RETENTION_SECONDS,
        max_rows_per_device: int = MAX_ROWS_PER_DEVICE,
    ) -> None:
        self.clock = clock
        self._retention_ms = retention_seconds * 1000
        self._max_rows = max_rows_per_device
        self._series: dict[str, dict[SeriesKey, list[Row]]] = {}  # rows sorted by time
        self._counts: dict[str, int] = {}

    async def record(self, device_id: str, written: ShadowSide) -> None:
        """The shadow's `on_reported` listener: keeps every instance of what was written,
        except Geolocation (14201) and instances the history rejects."""
        # `reported` may pass nRF Cloud's shadow through as it is: anything not shaped as
        # the LwM2M shadow form is skipped, never raised into the shadow's write
        for key, instances in written.items():
            if not isinstance(instances, dict):
                continue
            object_part, _, version = key.partition(":")
            try:
                object_id = int(object_part)
            except ValueError:
                continue
            if object_id == GEOLOCATION or object_id not in RESOURCE_TYPES:
                continue
            for instance, resources in instances.items():
                if not isinstance(resources, dict):
                    continue
                try:
                    self.add(device_id, (object_id, version or "1.0", int(instance)), resources)
                except (Rejected, ValueError) as exc:
                    log.debug("history of %s keeps no %s/%s: %s", device_id, key, instance, exc)

    def add(self, device_id: str, key: SeriesKey, resources: dict[str, Any]) -> None:
        """Stores one instance (Rejected when the history does not keep it). An instance
        at a time already stored adds its values to that row."""
        time_ms, values = instance_measures(key[0], resources, self.clock())
        if not values:
            return
        series = self._series.setdefault(device_id, {})
        rows = series.setdefault(key, [])
        i = bisect.bisect_left(rows, time_ms, key=lambda r: r.time_ms)
        if i < len(rows) and rows[i].time_ms == time_ms:
            rows[i].values.update(values)
            return
        rows.insert(i, Row(time_ms, values))
        self._counts[device_id] = self._counts.get(device_id, 0) + 1
        self._expire(device_id)

    def rows(self, device_id: str, key: SeriesKey, after_ms: float) -> list[Row]:
        """The rows of a series with time > after_ms, oldest first."""
        rows = self._series.get(device_id, {}).get(key, [])
        i = bisect.bisect_right(rows, after_ms, key=lambda r: r.time_ms)
        return rows[i:]

    def _expire(self, device_id: str) -> None:
        series = self._series[device_id]
        oldest_kept = self.clock() * 1000 - self._retention_ms
        for rows in series.values():
            i = bisect.bisect_right(rows, oldest_kept, key=lambda r: r.time_ms)
            if i:
                del rows[:i]
                self._counts[device_id] -= i
        while self._counts[device_id] > self._max_rows:
            rows = min((r for r in series.values() if r), key=lambda r: r[0].time_ms)
            del rows[0]
            self._counts[device_id] -= 1


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _as_float(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str) and "_" not in value:  # Python's float() allows 1_000
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None
