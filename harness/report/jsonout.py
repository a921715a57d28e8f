"""results.json (the whole result tree) and the events.ndjson line format.

Encoded with orjson: with the stdlib encoder (and its `default` callback for every
dataclass) these two were a quarter of a run's cost with reports on. The stdlib one
stays as the fallback for what orjson refuses (a lone surrogate from undecodable
bytes, an integer beyond 64 bits), escaping everything non-ASCII.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson

from harness.events import Event
from harness.report.results import RunResult

FORMAT = "spec-harness/results/1"
# Datetimes (YAML front matter makes them) as their text, as the fallback writes them
# and as every report shows them, live or rebuilt; non-string keys as text, as json does.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _plain(value: Any) -> Any:
    """JSON for what the encoder does not know: a dataclass as its fields (what
    `dataclasses.asdict` would give), anything else as its text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return vars(value)
    return str(value)


# The fallback, one encoder for every line (json.dumps with options builds one per call).
_ASCII_LINE = json.JSONEncoder(ensure_ascii=True, default=_plain)


def _encode(data: Any) -> str:
    try:
        return orjson.dumps(data, default=_plain, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: not UTF-8 encodable, or out of range
        return _ASCII_LINE.encode(data)


def render(run: RunResult) -> str:
    """The result tree as JSON: run -> feature runs -> scenarios -> steps.

    One line, no indentation: the tree of a large run is megabytes (`jq .` or
    `python -m json.tool` make it readable).
    """
    return _encode({"format": FORMAT, **vars(run)}) + "\n"


def event_line(event: Event) -> str:
    """One `events.ndjson` line (without the newline): `event.to_dict()` as JSON, built
    from the event's fields directly (no deep copy of the plan RunStarted carries)."""
    return _encode({"type": event.type, **vars(event)})


def ascii_line(event: Event) -> str:
    """The same line with every non-ASCII character escaped."""
    return _ASCII_LINE.encode({"type": event.type, **vars(event)})
