"""results.json (the whole result tree) and the events.ndjson line format."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from harness.events import Event

from .results import RunResult

FORMAT = "spec-harness/results/1"


def _plain(value: Any) -> Any:
    """JSON for what the encoder does not know: a dataclass as its fields (what
    `dataclasses.asdict` would give), anything else (a datetime YAML front matter
    produced) as its text, which is also what every report shows, live or rebuilt."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return vars(value)
    return str(value)


# One encoder for every line: json.dumps with options builds a new one per call.
_LINE = json.JSONEncoder(ensure_ascii=False, default=_plain)
_ASCII_LINE = json.JSONEncoder(ensure_ascii=True, default=_plain)


def render(run: RunResult) -> str:
    """The result tree as JSON: run -> feature runs -> scenarios -> steps.

    One line, no indentation: the tree of a large run is megabytes, and the indenting
    encoder is ten times slower (`jq .` or `python -m json.tool` make it readable).
    """
    data = {"format": FORMAT, **vars(run)}
    return json.dumps(data, ensure_ascii=False, default=_plain) + "\n"


def event_line(event: Event) -> str:
    """One `events.ndjson` line (without the newline): `event.to_dict()` as JSON.

    Built from the event's fields directly: the same JSON as `to_dict()` gives, without
    the deep copy that `dataclasses.asdict` makes of every nested dict (the parsed spec
    of a FeatureRunStarted is large, and this runs for every event).
    """
    return _LINE.encode({"type": event.type, **vars(event)})


def ascii_line(event: Event) -> str:
    """The same line with every non-ASCII character escaped: the fallback for text (a lone
    surrogate from undecodable bytes) that cannot be written as UTF-8."""
    return _ASCII_LINE.encode({"type": event.type, **vars(event)})
