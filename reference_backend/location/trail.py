"""Folding a device's location history into a trail of points some kilometres apart.

Pure functions (REAL-SUITE.md §2.4, the backend's createTrailOfCoordinates): points are
taken oldest first and measured against the first point of the newest cluster; farther than
the minimum distance starts a new cluster, otherwise the point is folded into it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

EARTH_RADIUS_KM = 6371


@dataclass(frozen=True)
class Point:
    lat: float
    lng: float
    ts: int  # seconds
    source: str


@dataclass
class Cluster:
    first: Point
    radius_km: float = 0.0
    sources: set[str] = field(default_factory=set)


def _rad(degrees: float) -> float:
    return degrees * (math.pi / 180)


def distance_km(a: Point, b: Point) -> float:
    """Haversine distance. The specs compare it to the last digit with what V8 computes:
    V8's atan2(y, x) for x > 0 is atan(y / x), one ulp away from `math.atan2` at times."""
    d_lat = _rad(b.lat - a.lat)
    d_lng = _rad(b.lng - a.lng)
    h = math.sin(d_lat / 2) * math.sin(d_lat / 2) + math.cos(_rad(a.lat)) * math.cos(
        _rad(b.lat)
    ) * math.sin(d_lng / 2) * math.sin(d_lng / 2)
    if h >= 1:  # antipodes: atan(inf) is what atan2(0-ish, 0) would give
        return EARTH_RADIUS_KM * math.pi
    return EARTH_RADIUS_KM * (2 * math.atan(math.sqrt(h) / math.sqrt(1 - h)))


def clusters(min_distance_km: float, points: Iterable[Point]) -> list[Cluster]:
    result: list[Cluster] = []
    # sorted() is stable, as the backend's Array.prototype.sort: equal times keep their order
    for point in sorted(points, key=lambda p: p.ts):
        if result:
            newest = result[-1]
            d = distance_km(newest.first, point)
            if d <= min_distance_km:
                newest.radius_km = max(newest.radius_km, d)
                newest.sources.add(point.source)
                continue
        result.append(Cluster(point, 0.0, {point.source}))
    return result


def trail(min_distance_km: float, points: Iterable[Point]) -> list[dict[str, Any]]:
    """The clusters as 14201 partial instances, oldest first: position and time of the
    first point, radius in metres, and the source (`mixed` when they differ)."""
    return [
        {
            "0": c.first.lat,
            "1": c.first.lng,
            "3": c.radius_km * 1000,
            "6": next(iter(c.sources)) if len(c.sources) == 1 else "mixed",
            "99": c.first.ts,
        }
        for c in clusters(min_distance_km, points)
    ]
