"""Time spans, bins and aggregates of the history query (BE lambda/queryLwM2MHistory.ts,
historicalData/HistoricalDataTimeSpans.ts). Pure functions only."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from reference_backend.history.definitions import TIMESTAMP_RESOURCE
from reference_backend.history.store import Row


@dataclass(frozen=True)
class TimeSpan:
    bin_minutes: int
    duration_hours: int
    cache_minutes: int  # how long BE lets clients cache the answer


TIME_SPANS = {
    "lastHour": TimeSpan(1, 1, 1),
    "lastDay": TimeSpan(15, 24, 5),
    "lastWeek": TimeSpan(60, 24 * 7, 5),
    "lastMonth": TimeSpan(60, 24 * 30, 15),
}
DEFAULT_TIME_SPAN = "lastHour"
AGGREGATES = ("avg", "min", "max", "sum", "count")
DEFAULT_AGGREGATE = "avg"


def window_start_ms(now: float, span: TimeSpan, hide_before_ms: float | None) -> float:
    """Rows count when their time (ms) is after this: the span back from `now` (s), and
    not before the device's hideDataBefore."""
    start = now * 1000 - span.duration_hours * 3600 * 1000
    return start if hide_before_ms is None else max(start, hide_before_ms)


def bin_rows(
    rows: Iterable[Row], resources: list[str], bin_minutes: int, aggregate: str
) -> list[dict[str, int | float]]:
    """One partial instance per epoch-aligned bin that has rows, newest bin first:
    `{<resource>: aggregate of its values in the bin, …, "99": bin start in s}`. A resource
    with no value in a bin is left out (as SQL's aggregates give NULL there)."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"unknown aggregate {aggregate!r}")
    bin_ms = bin_minutes * 60_000
    bins: dict[int, dict[str, list[float]]] = {}
    for row in rows:
        start = row.time_ms // bin_ms * bin_ms
        values = bins.setdefault(start, {})
        for resource in resources:
            if resource in row.values:
                values.setdefault(resource, []).append(row.values[resource])
    out: list[dict[str, int | float]] = []
    for start in sorted(bins, reverse=True):
        instance: dict[str, int | float] = {
            r: json_number(_aggregate(aggregate, v)) for r, v in bins[start].items()
        }
        instance[TIMESTAMP_RESOURCE] = start // 1000
        out.append(instance)
    return out


def _aggregate(name: str, values: list[float]) -> float:
    if name == "count":
        return float(len(values))
    if name == "min":
        return min(values)
    if name == "max":
        return max(values)
    total = math.fsum(values)
    return total if name == "sum" else total / len(values)


def json_number(value: float) -> int | float:
    """Whole numbers as integers, as JavaScript writes them (3, not 3.0)."""
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
