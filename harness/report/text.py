"""Small formatting helpers shared by the report formats (one way to print a time, one
way to read a diff line).

They take whatever an event carried and never raise: a missing or absurd value prints
as nothing rather than costing the report.
"""

from __future__ import annotations

import datetime as dt


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def duration(seconds: object) -> str:
    """`850 µs`, `12 ms`, `1.23 s`, `2 min 5 s`: short and readable at any scale."""
    if not _number(seconds) or seconds == float("inf"):
        return ""
    value = float(seconds)  # type: ignore[arg-type]
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.2f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s"


def _utc(timestamp: object, pattern: str) -> str:
    # Always UTC, never local time: a report rebuilt elsewhere comes out the same.
    if not _number(timestamp):
        return ""
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime(pattern)  # type: ignore[arg-type]
    except (OverflowError, ValueError, OSError):
        return ""


def iso(timestamp: object) -> str:
    """UTC to the second, no zone suffix: the form the JUnit schemas accept."""
    return _utc(timestamp, "%Y-%m-%dT%H:%M:%S")


def stamp(timestamp: object) -> str:
    """`2024-06-03 07:46:40 UTC`."""
    return _utc(timestamp, "%Y-%m-%d %H:%M:%S UTC")


def clock(timestamp: object) -> str:
    """`07:46:40.123` (UTC), for attempts and messages within a run."""
    text = _utc(timestamp, "%H:%M:%S.%f")
    return text[:-3] if text else ""


def diff_kind(line: str) -> str:
    """What a line of a unified diff is: file, hunk, add, del or ctx (the console
    colours it, the HTML gives it a class)."""
    if line.startswith(("+++", "---")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return "ctx"


def first_line(text: object) -> str:
    return str(text or "").strip().split("\n", 1)[0]
