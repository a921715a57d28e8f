"""Time on the wire: `YYYY-MM-DDTHH:MM:SS.sssZ` (JavaScript's toISOString)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso_at(ts: float) -> str:
    """`ts` (seconds since the epoch) on the wire."""
    return iso(datetime.fromtimestamp(ts, UTC))


def iso_seconds(text: str) -> float:
    """Seconds since the epoch of an ISO timestamp (`Z` or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
