"""Per-device records with a time (locations, reboots), and the history windows of the
`/device/{id}/history/...` routes (REAL-SUITE.md §2.3–2.5).

Records are kept RETENTION_S after they were stored (the backend's 30-day TTL) and at most
LIMIT_PER_DEVICE per device (the oldest go first), in memory.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reference_backend.contexts import LWM2M_OBJECT_HISTORY
from reference_backend.history.query import DEFAULT_TIME_SPAN, TIME_SPANS, TimeSpan
from reference_backend.problems import bad_request

RETENTION_S = 30 * 24 * 3600
LIMIT_PER_DEVICE = 10_000


def time_span(value: str | None) -> TimeSpan:
    """The `timeSpan` query parameter's span; a 400 problem for an unknown one."""
    if value is None:
        return TIME_SPANS[DEFAULT_TIME_SPAN]
    span = TIME_SPANS.get(value)
    if span is None:
        raise bad_request(f"`timeSpan` must be one of {', '.join(TIME_SPANS)}, got {value!r}.")
    return span


def iso_ms(text: str | None) -> int | None:
    """`YYYY-MM-DDTHH:MM:SS.sssZ` (or any ISO 8601 with a zone) in ms; None if not one."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return math.floor(parsed.timestamp() * 1000 + 0.5)


def window_start_ms(span: TimeSpan, now_s: float, hide_data_before: str | None) -> int:
    """Records count when later than this: the span back from now, or the device's
    hideDataBefore when that is later."""
    start = math.floor(now_s * 1000) - span.duration_hours * 3600 * 1000
    hidden = iso_ms(hide_data_before)
    return max(start, hidden) if hidden is not None else start


@dataclass(frozen=True)
class Record:
    time_ms: int
    stored_s: float
    data: dict[str, Any]


class TimedLog:
    def __init__(
        self,
        clock: Callable[[], float],
        retention_s: float = RETENTION_S,
        limit: int = LIMIT_PER_DEVICE,
    ) -> None:
        self._clock = clock
        self._retention_s = retention_s
        self._limit = limit
        self._records: dict[str, list[Record]] = {}

    def add(self, device_id: str, time_ms: int, data: dict[str, Any]) -> None:
        records = self._records.setdefault(device_id, [])
        now = self._clock()
        bisect.insort(records, Record(time_ms, now, data), key=lambda r: r.time_ms)
        self._expire(device_id, records, now)

    def after(self, device_id: str, start_ms: int) -> list[Record]:
        """The device's records with a time later than start_ms, oldest first."""
        records = self._records.get(device_id)
        if not records:
            return []
        self._expire(device_id, records, self._clock())
        first = bisect.bisect_right(records, start_ms, key=lambda r: r.time_ms)
        return records[first:]

    def _expire(self, device_id: str, records: list[Record], now: float) -> None:
        oldest_kept = now - self._retention_s
        kept = [r for r in records if r.stored_s > oldest_kept]
        if len(kept) > self._limit:
            kept = kept[len(kept) - self._limit :]
        if len(kept) != len(records):
            records[:] = kept
        if not records:
            del self._records[device_id]


def history_answer(
    object_id: int, device_id: str, span: TimeSpan, partial_instances: list[dict[str, Any]]
) -> dict[str, Any]:
    """The `lwm2m/object/history` document of the location and reboot routes."""
    return {
        "@context": LWM2M_OBJECT_HISTORY,
        "query": {
            "ObjectID": object_id,
            "ObjectVersion": "1.0",
            "ObjectInstanceID": 0,
            "deviceId": device_id,
            "binIntervalMinutes": span.bin_minutes,
        },
        "partialInstances": partial_instances,
    }
