"""Wire values shared by the journal and the responses: header and query pairs, the
first value of a repeated name, and the time format the mock writes. A module of its own
so that serving a response does not depend on the journal's internals."""

from __future__ import annotations

from datetime import UTC, datetime

Pairs = tuple[tuple[str, str], ...]


def iso_time(ts: float) -> str:
    """ISO-8601 UTC with milliseconds, e.g. ``2024-06-03T10:00:00.123Z``."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def first_values(pairs: Pairs) -> dict[str, str]:
    """Query parameters as name -> value (the first value of a repeated name)."""
    result: dict[str, str] = {}
    for name, value in pairs:
        result.setdefault(name, value)
    return result
