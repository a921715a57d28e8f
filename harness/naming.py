"""The one naming function: how a feature run with a variant and an outline row read.

`Device FOTA [nw=ltem]`, `Add 1 and 2 [a=1, b=2]`: strings as written, anything else as
compact JSON (`fast=true`, not Python's `fast=True`), so the console, every report and
the events name an execution the same way. The planner names; everything else reads.
"""

from __future__ import annotations

import json
from typing import Any


def label(values: dict[str, Any] | None) -> str:
    """`k=v, k=v` for a variant or an Examples row (non-strings as compact JSON)."""
    if not values:
        return ""
    parts = []
    for key, value in values.items():
        text = (
            value
            if isinstance(value, str)
            else json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        )
        parts.append(f"{key}={text}")
    return ", ".join(parts)


def named(title: str, values: dict[str, Any] | None) -> str:
    """A title with its variant or example row, e.g. `Device FOTA [nw=ltem]`."""
    text = label(values)
    return f"{title} [{text}]" if text else title


def fill(text: str, row: dict[str, Any] | None) -> str:
    """`<name>` replaced by the row's value, as an outline shows it for that row."""
    for key, value in (row or {}).items():
        text = text.replace(f"<{key}>", str(value))
    return text
